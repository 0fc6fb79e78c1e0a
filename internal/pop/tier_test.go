package pop

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/h1"
)

// network is a small world: regional PoPs RA (region A-R) and RB (B-R), and
// edges under each, all real listeners on loopback.
type network struct {
	t       *testing.T
	origin  *testOrigin
	urls    map[string]string // PoP id -> URL
	servers map[string]*h1.Server
	pops    map[string]*PoP
}

func newNetwork(t *testing.T, edgesA, edgesB int, h http.HandlerFunc, mutate func(*config.Config)) *network {
	t.Helper()
	c := &clock{}
	o := newOrigin(t, c, h)
	cfg := testConfig(o.URL, mutate)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n := &network{t: t, origin: o, urls: map[string]string{}, servers: map[string]*h1.Server{}, pops: map[string]*PoP{}}
	// Listeners first, so every PoP knows every URL.
	lns := map[string]net.Listener{}
	ids := []string{"RA1", "RB1"}
	for i := 1; i <= edgesA; i++ {
		ids = append(ids, fmt.Sprintf("EA%d", i))
	}
	for i := 1; i <= edgesB; i++ {
		ids = append(ids, fmt.Sprintf("EB%d", i))
	}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id] = ln
		n.urls[id] = "http://" + ln.Addr().String()
	}
	shields := map[string]*Peer{"A-R": {ID: "RA1", URL: n.urls["RA1"]}, "B-R": {ID: "RB1", URL: n.urls["RB1"]}}
	for _, id := range ids {
		opts := Options{ID: id, DefaultDistribution: "d", TierSecret: "s3cret", Shields: shields,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		switch {
		case strings.HasPrefix(id, "RA"):
			opts.Tier, opts.RegionalCache = TierRegional, "A-R"
		case strings.HasPrefix(id, "RB"):
			opts.Tier, opts.RegionalCache = TierRegional, "B-R"
		case strings.HasPrefix(id, "EA"):
			opts.RegionalCache, opts.Parent = "A-R", &Peer{ID: "RA1", URL: n.urls["RA1"]}
		default:
			opts.RegionalCache, opts.Parent = "B-R", &Peer{ID: "RB1", URL: n.urls["RB1"]}
		}
		p, err := New(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		srv := &h1.Server{Handler: p}
		go srv.Serve(lns[id])
		n.pops[id], n.servers[id] = p, srv
		t.Cleanup(func() { srv.Close(); p.Close() })
	}
	return n
}

func (n *network) get(id, path string, kv ...string) response {
	n.t.Helper()
	req, _ := http.NewRequest("GET", n.urls[id]+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("GET %s%s: %v", id, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("GET %s%s body: %v", id, path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func cacheable(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "max-age=600")
	io.WriteString(rw, "object "+r.URL.Path)
}

func TestTiersCollapseWithinARegion(t *testing.T) {
	n := newNetwork(t, 4, 0, cacheable, nil)
	var wg sync.WaitGroup
	for _, id := range []string{"EA1", "EA2", "EA3", "EA4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := n.get(id, "/obj"); r.body != "object /obj" {
				t.Errorf("%s: %q", id, r.body)
			}
		}()
	}
	wg.Wait()
	if c := n.origin.count("/obj"); c != 1 {
		t.Fatalf("4 edges in one region made %d origin requests", c)
	}
	// A second round is served by each edge itself.
	r := n.get("EA3", "/obj")
	expectXCache(t, r, "Hit")
	if r.header.Get("X-Strata-Pop") != "EA3" || r.header.Get(servedByHeader) != "EA3" {
		t.Fatalf("edge hit headers: pop %q served-by %q", r.header.Get("X-Strata-Pop"), r.header.Get(servedByHeader))
	}
}

func TestTierHeadersTruthful(t *testing.T) {
	n := newNetwork(t, 2, 0, cacheable, nil)
	first := n.get("EA1", "/t")
	expectXCache(t, first, "Miss")
	if first.header.Get(servedByHeader) != "origin" {
		t.Fatalf("first fetch served by %q", first.header.Get(servedByHeader))
	}
	second := n.get("EA2", "/t") // an edge miss, a regional hit
	expectXCache(t, second, "Miss")
	if second.header.Get(servedByHeader) != "RA1" || second.header.Get("X-Strata-Pop") != "EA2" {
		t.Fatalf("served-by %q pop %q", second.header.Get(servedByHeader), second.header.Get("X-Strata-Pop"))
	}
	cs := second.header.Values("Cache-Status")
	if len(cs) != 2 || !strings.HasPrefix(cs[0], "Strata-RA1; hit") || !strings.HasPrefix(cs[1], "Strata-EA2; fwd=miss") {
		t.Fatalf("Cache-Status chain %q", cs)
	}
	if via := second.header.Get("Via"); !strings.Contains(via, "RA1") || !strings.Contains(second.header.Values("Via")[len(second.header.Values("Via"))-1], "EA2") {
		t.Fatalf("Via %q", second.header.Values("Via"))
	}
}

func TestTwoRegionsWithoutShield(t *testing.T) {
	n := newNetwork(t, 1, 1, cacheable, nil)
	n.get("EA1", "/x")
	n.get("EB1", "/x")
	if c := n.origin.count("/x"); c != 2 {
		t.Fatalf("edges in two regions without a shield made %d origin requests, want 2 (regions are isolated)", c)
	}
}

func TestOriginShield(t *testing.T) {
	n := newNetwork(t, 2, 2, cacheable, func(c *config.Config) {
		c.Distributions[0].Origins[0].OriginShield = config.OriginShield{Enabled: true, Region: "A-R"}
	})
	for _, id := range []string{"EA1", "EB1", "EA2", "EB2"} {
		if r := n.get(id, "/s"); r.body != "object /s" {
			t.Fatalf("%s: %q", id, r.body)
		}
	}
	if c := n.origin.count("/s"); c != 1 {
		t.Fatalf("with a shield: %d origin requests, want 1", c)
	}
	if r := n.get("EB2", "/s"); r.header.Get(servedByHeader) != "EB2" {
		t.Fatalf("served-by %q", r.header.Get(servedByHeader))
	}
}

func TestParentKilledMidTest(t *testing.T) {
	n := newNetwork(t, 2, 0, cacheable, nil)
	n.get("EA1", "/before")
	n.servers["RA1"].Close() // the regional cache dies
	for i := 0; i < 5; i++ {
		r := n.get("EA2", fmt.Sprintf("/after%d", i))
		if r.status != 200 || r.body != fmt.Sprintf("object /after%d", i) {
			t.Fatalf("viewer saw an error with the parent down: %d %q", r.status, r.body)
		}
		if i == 0 && !strings.Contains(r.header.Get("Cache-Status"), "parent-down-RA1") {
			t.Fatalf("the response does not say the parent was skipped: %q", r.header.Get("Cache-Status"))
		}
		if r.header.Get(servedByHeader) != "origin" {
			t.Fatalf("served-by %q", r.header.Get(servedByHeader))
		}
	}
	if r := n.get("EA1", "/before"); r.status != 200 {
		t.Fatal("cached object lost")
	}
}

func TestTargetedCacheControlReachesChildTier(t *testing.T) {
	n := newNetwork(t, 1, 0, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("CDN-Cache-Control", "max-age=600")
		io.WriteString(rw, "x")
	}, nil)
	n.get("EA1", "/c")
	r := n.get("EA1", "/c")
	expectXCache(t, r, "Hit") // the edge got CDN-Cache-Control from its parent
	if r.header.Get("Cdn-Cache-Control") != "max-age=600" {
		t.Fatal("CDN-Cache-Control not passed on to the viewer (RFC 9213 section 3)")
	}
}

func TestHopHeaderFromViewersIgnored(t *testing.T) {
	n := newNetwork(t, 1, 0, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("Strata-CDN-Cache-Control", "max-age=600")
		io.WriteString(rw, "xff="+r.Header.Get("X-Forwarded-For"))
	}, nil)
	// A viewer with a wrong secret is a viewer: its X-Forwarded-For is not trusted...
	r := n.get("RA1", "/h", hopHeader, "guess", "X-Forwarded-For", "6.6.6.6")
	if strings.Contains(r.body, "6.6.6.6") || r.header.Get(strataTargeted) != "" {
		t.Fatalf("untrusted hop header honoured: %q %v", r.body, r.header)
	}
	// ...while through the edge the origin sees the viewer, not the edge.
	r = n.get("EA1", "/h2")
	if r.body != "xff=127.0.0.1" {
		t.Fatalf("origin saw %q", r.body)
	}
}

func TestUncachedGoesStraightToOrigin(t *testing.T) {
	n := newNetwork(t, 1, 0, cacheable, nil)
	n.servers["RA1"].Close()
	req, _ := http.NewRequest("POST", n.urls["EA1"]+"/api", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n.origin.count("/api") != 1 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	_ = time.Second
}
