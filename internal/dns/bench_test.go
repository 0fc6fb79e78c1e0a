package dns

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/strata-cdn/strata/internal/topology"
)

// benchState is every catalog location as an edge PoP (200+, each with
// four addresses) and n distributions, a third in each price class.
func benchState(n int) (State, []string) {
	var st State
	for i, l := range topology.Locations() {
		p := PoP{ID: l.ID + "1", Location: l.ID, AcceptsViewers: true}
		for k := range 4 {
			p.Addrs = append(p.Addrs, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(k + 1)}))
		}
		st.PoPs = append(st.PoPs, p)
	}
	classes := []string{topology.PriceClass100, topology.PriceClass200, topology.PriceClassAll}
	labels := make([]string, n)
	for i := range n {
		labels[i] = NewLabel()
		st.Distributions = append(st.Distributions, Distribution{Label: labels[i], ID: fmt.Sprint("E", i), PriceClass: classes[i%3], IPv6: true})
	}
	return st, labels
}

// BenchmarkRespondGeo is the handler computing geo answers: UDP queries
// with ECS subnets of real networks (the installed country database) in
// several countries, for 10,000 distributions over every catalog PoP.
func BenchmarkRespondGeo(b *testing.B) {
	st, labels := benchState(10000)
	s, err := New(Options{Zone: testZone, Geo: realDB(b), RateLimit: RateLimit{Rate: -1}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetState(st); err != nil {
		b.Fatal(err)
	}
	nets := realNetworks(b, "DE", "JP", "BR", "US", "IN", "AU", "ZA", "GB")
	var pkts [][]byte
	i := 0
	for _, n := range nets {
		for k := range 8 {
			pkts = append(pkts, rawQuery(b, labels[(i*8+k)%len(labels)]+"."+testZone,
				ecsData(1, 24, 0, n.Addr().AsSlice()[:3]...)))
		}
		i++
	}
	src := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 4096)
		k := 0
		for pb.Next() {
			out := s.respond(pkts[k%len(pkts)], src, true, buf)
			if len(out) < 12 || out[3]&0xF != 0 {
				b.Fatalf("bad reply %x", out)
			}
			buf = out[:0]
			k++
		}
	})
}

// TestStateMemory reports the memory of a compiled state with every
// catalog PoP and 10,000 distributions (go test -v -run StateMemory).
func TestStateMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := New(Options{Zone: testZone})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := benchState(10000)
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	st = State{}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d PoPs, 10000 distributions: %.1f MiB of heap", len(topology.Locations()), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	runtime.KeepAlive(s)
	runtime.KeepAlive(st)
}
