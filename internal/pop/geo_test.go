package pop

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
)

// clientFrom returns an HTTP client whose connections come from src, so the
// PoP sees a viewer in the country the test database gives that range.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		return d.DialContext(ctx, n, a)
	}}}
}

func geoWorld(t *testing.T, mutate func(*config.Config)) (*world, *geo.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mmdb")
	if err := geo.WriteTestDB(path, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blocked.html" {
			io.WriteString(rw, "sorry, not here")
			return
		}
		io.WriteString(rw, "country="+r.Header.Get("CloudFront-Viewer-Country")+" city="+r.Header.Get("CloudFront-Viewer-City"))
	})
	cfg := testConfig(o.URL, mutate)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{DefaultDistribution: "d", Geo: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &world{t: t, pop: p, url: serve(t, p), origin: o, clock: c}, db
}

func getFrom(t *testing.T, w *world, src, path string, kv ...string) response {
	t.Helper()
	req, _ := http.NewRequest("GET", w.url+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := clientFrom(src).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestGeoRestriction(t *testing.T) {
	w, _ := geoWorld(t, func(c *config.Config) {
		c.Distributions[0].Restrictions.GeoRestriction = config.GeoRestriction{RestrictionType: "whitelist", Locations: []string{"DE", "JP"}}
	})
	if r := getFrom(t, w, "127.2.0.9", "/a"); r.status != 200 {
		t.Fatalf("DE viewer: %d %q", r.status, r.body)
	}
	if r := getFrom(t, w, "127.3.0.9", "/a"); r.status != 200 {
		t.Fatalf("JP viewer: %d", r.status)
	}
	r := getFrom(t, w, "127.1.0.9", "/a")
	if r.status != 403 || !strings.Contains(r.body, "geo-restricted") {
		t.Fatalf("US viewer: %d %q", r.status, r.body)
	}
	if r := getFrom(t, w, "127.0.0.1", "/a"); r.status != 403 {
		t.Fatalf("unknown country on an allow list: %d", r.status)
	}
	if n := w.origin.count("/a"); n != 1 { // the DE request filled the cache; JP hit it
		t.Fatalf("origin count %d", n)
	}

	b, _ := geoWorld(t, func(c *config.Config) {
		d := &c.Distributions[0]
		d.Restrictions.GeoRestriction = config.GeoRestriction{RestrictionType: "blacklist", Locations: []string{"DE"}}
		d.CustomErrorResponses = []config.CustomErrorResponse{{ErrorCode: 403, ResponsePagePath: "/blocked.html"}}
	})
	if r := getFrom(t, b, "127.2.0.9", "/a"); r.status != 403 || r.body != "sorry, not here" {
		t.Fatalf("DE on a block list, with a custom page: %d %q", r.status, r.body)
	}
	if r := getFrom(t, b, "127.1.0.9", "/a"); r.status != 200 {
		t.Fatalf("US on a block list of DE: %d", r.status)
	}
	if r := getFrom(t, b, "127.0.0.1", "/a"); r.status != 200 {
		t.Fatalf("unknown country on a block list: %d", r.status)
	}
}

func TestViewerLocationHeaders(t *testing.T) {
	w, _ := geoWorld(t, func(c *config.Config) {
		c.OriginRequestPolicies = []config.OriginRequestPolicy{{ID: "geo", Headers: config.KeyList{Behavior: "whitelist",
			Items: []string{"CloudFront-Viewer-Country", "CloudFront-Viewer-City"}}}}
		c.CachePolicies[0].CacheKey.Headers = config.KeyList{Behavior: "whitelist", Items: []string{"CloudFront-Viewer-Country"}}
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "geo"
	})
	if r := getFrom(t, w, "127.2.0.9", "/h"); r.body != "country=DE city=Berlin" {
		t.Fatalf("DE viewer: %q", r.body)
	}
	// A viewer's own copy is never trusted, and the country is in the key.
	if r := getFrom(t, w, "127.1.0.9", "/h", "CloudFront-Viewer-Country", "DE"); !strings.HasPrefix(r.body, "country=US ") {
		t.Fatalf("spoofed header: %q", r.body)
	}
	if w.origin.count("/h") != 2 {
		t.Fatalf("one cached copy per country: origin count %d", w.origin.count("/h"))
	}
}

// testGeoDB is a country database of geo.LoopbackTestRanges.
func testGeoDB(t *testing.T) *geo.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mmdb")
	if err := geo.WriteTestDB(path, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestGeoRestrictionThroughTiers: the edge decides by its viewer's country
// (a parent trusts it, and knows the viewer's address, not the edge's); a
// refused viewer never fills or reads a cache, and a page for the refusal
// is made at the edge.
func TestGeoRestrictionThroughTiers(t *testing.T) {
	db := testGeoDB(t)
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/blocked.html" {
			io.WriteString(rw, "sorry, not here")
			return
		}
		io.WriteString(rw, "object "+r.URL.Path+" xff="+r.Header.Get("X-Forwarded-For"))
	}
	allow := func(cf *config.Config) {
		cf.Distributions[0].Restrictions.GeoRestriction = config.GeoRestriction{RestrictionType: "whitelist", Locations: []string{"DE"}}
	}
	t.Run("allow", func(t *testing.T) {
		eachTopology(t, netOpts{geo: db}, origin, allow, func(t *testing.T, n *network) {
			if r := n.send(n.viewer, viewerReq{path: "/a", src: "127.1.0.9"}); r.status != 403 || !strings.Contains(r.body, "not served in US") {
				t.Fatalf("US viewer first: %d %q", r.status, r.body)
			}
			if r := n.send(n.viewer, viewerReq{path: "/a", src: "127.2.0.9"}); r.status != 200 || r.body != "object /a xff=127.2.0.9" {
				t.Fatalf("DE viewer: %d %q", r.status, r.body)
			}
			for _, src := range []string{"127.1.0.9", "127.0.0.1"} {
				if r := n.send(n.viewer, viewerReq{path: "/a", src: src}); r.status != 403 || strings.Contains(r.body, "object") {
					t.Fatalf("viewer from %s after a DE fill: %d %q", src, r.status, r.body)
				}
			}
			expectXCache(t, n.send(n.viewer, viewerReq{path: "/a", src: "127.2.0.10"}), "Hit")
			if c := n.origin.count("/a"); c != 1 {
				t.Fatalf("origin count %d", c)
			}
		})
	})
	t.Run("block with a page", func(t *testing.T) {
		block := func(cf *config.Config) {
			d := &cf.Distributions[0]
			d.Restrictions.GeoRestriction = config.GeoRestriction{RestrictionType: "blacklist", Locations: []string{"DE"}}
			d.CustomErrorResponses = []config.CustomErrorResponse{{ErrorCode: 403, ResponsePagePath: "/blocked.html"}}
		}
		eachTopology(t, netOpts{geo: db}, origin, block, func(t *testing.T, n *network) {
			r := n.send(n.viewer, viewerReq{path: "/b", src: "127.2.0.9"})
			if r.status != 403 || r.body != "sorry, not here" {
				t.Fatalf("DE on a block list: %d %q", r.status, r.body)
			}
			expectXCache(t, r, "Error")
			if r := n.send(n.viewer, viewerReq{path: "/b", src: "127.1.0.9"}); r.status != 200 || r.body != "object /b xff=127.1.0.9" {
				t.Fatalf("US viewer: %d %q", r.status, r.body)
			}
			if r := n.send(n.viewer, viewerReq{path: "/b", src: "127.2.0.9"}); r.status != 403 || r.body != "sorry, not here" {
				t.Fatalf("DE after a US fill: %d %q", r.status, r.body)
			}
			if c := n.origin.count("/b"); c != 1 {
				t.Fatalf("origin count %d", c)
			}
		})
	})
}
