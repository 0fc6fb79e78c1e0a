package managed

import (
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGET is a browser's GET of a page with a query string.
var benchGET = Input{
	Method: "GET",
	URI:    "/products/shoes?category=running&size=42&color=red&utm_source=newsletter",
	Proto:  "HTTP/1.1",
	Host:   "shop.example.com",
	Header: http.Header{
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.5"},
		"Accept-Encoding": {"gzip, deflate, br, zstd"},
		"Referer":         {"https://shop.example.com/"},
		"Cookie":          {"_ga=GA1.2.1234567890.1733140000; session=8f14e45fceea167a5a36dedd4bea2543"},
	},
	ClientIP: netip.MustParseAddr("203.0.113.7"),
}

// benchPOST is a JSON API POST of 260 bytes.
var benchPOST = func() Input {
	in := benchGET
	in.Method, in.URI = "POST", "/api/v1/orders"
	in.Header = benchGET.Header.Clone()
	in.Header.Set("Content-Type", "application/json")
	in.Header.Set("Accept", "application/json")
	in.Body = []byte(`{"items":[{"sku":"A-123","qty":2},{"sku":"B-77","qty":1}],"shipping":{"name":"Jane Doe","street":"12 Rue de la Paix","city":"Paris","zip":"75002"},"note":"Please leave it at the door, thanks!","email":"jane@example.com"}`)
	in.Header.Set("Content-Length", fmt.Sprint(len(in.Body)))
	return in
}()

// BenchmarkInspect is the cost per request of a group at paranoia level 1:
// the whole CRS, the common group, the SQLi group; a page GET and a JSON
// POST that none of them blocks.
func BenchmarkInspect(b *testing.B) {
	for _, g := range []struct{ vendor, name string }{
		{VendorOWASP, "CoreRuleSet"},
		{VendorAWS, "AWSManagedRulesCommonRuleSet"},
		{VendorAWS, "AWSManagedRulesSQLiRuleSet"},
	} {
		grp := mustNew(b, Options{Vendor: g.vendor, Name: g.name})
		for _, r := range []struct {
			name string
			in   Input
		}{{"GET", benchGET}, {"POST", benchPOST}} {
			b.Run(g.name+"/"+r.name, func(b *testing.B) {
				if m := grp.Inspect(r.in); m != nil {
					b.Fatalf("benign request blocked: %+v", m)
				}
				b.ReportAllocs()
				cpu0 := cpuTime()
				n := 0
				for b.Loop() {
					grp.Inspect(r.in)
					n++
				}
				// CPU time per request: on a shared, loaded machine ns/op
				// (wall time) counts the time other processes ran.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkNew is the cost of building the whole CRS at paranoia level 1
// (done once per distinct Options) and the heap it keeps.
func BenchmarkNew(b *testing.B) {
	var kept uint64
	n := 0
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n++
		// extra makes each Options distinct, so nothing comes from the cache.
		g, err := build(Options{Vendor: VendorOWASP, Name: "CoreRuleSet", ParanoiaLevel: 1, BodyLimit: DefaultBodyLimit,
			extra: fmt.Sprintf("# %d\n", n)}, groups[VendorOWASP]["CoreRuleSet"])
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept += after.HeapInuse - before.HeapInuse
		runtime.KeepAlive(g)
	}
	b.ReportMetric(float64(kept)/float64(n)/(1<<20), "MiB-kept/op")
}
