package pop

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

func ttl(v int64) *int64 { return &v }

func TestCustomErrorResponses(t *testing.T) {
	c := &clock{}
	pages := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/errors/gone.html" {
			rw.WriteHeader(http.StatusNotFound) // the page itself is missing
			return
		}
		rw.Header().Set("Content-Type", "text/html")
		io.WriteString(rw, "<h1>page "+r.URL.Path+"</h1>")
	})
	site := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/missing"):
			rw.WriteHeader(http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/busy"):
			rw.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/fail"):
			rw.WriteHeader(http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/bad"):
			rw.WriteHeader(http.StatusBadRequest)
		default:
			io.WriteString(rw, "ok")
		}
	})
	down := newOrigin(t, c, func(http.ResponseWriter, *http.Request) {})
	downURL := down.URL
	down.Close()
	mutate := func(cf *config.Config) {
		d := &cf.Distributions[0]
		d.Origins = append(d.Origins, config.Origin{ID: "pages", URL: pages.URL}, config.Origin{ID: "down", URL: downURL})
		d.CacheBehaviors = []config.CacheBehavior{
			{PathPattern: "/errors/*", TargetOriginID: "pages", CachePolicyID: "p"},
			{PathPattern: "/dead/*", TargetOriginID: "down", CachePolicyID: "p"},
		}
		d.CustomErrorResponses = []config.CustomErrorResponse{
			{ErrorCode: 404, ResponsePagePath: "/errors/404.html"},
			{ErrorCode: 503, ResponsePagePath: "/errors/busy.html", ResponseCode: 200},
			{ErrorCode: 502, ResponsePagePath: "/errors/502.html"},
			{ErrorCode: 500, ErrorCachingMinTTL: ttl(30)},
			{ErrorCode: 400, ResponsePagePath: "/errors/gone.html"},
		}
	}
	// Through a single PoP and through tiers; the page origin's counts go on
	// across topologies.
	pageCount := 0
	eachTopology(t, netOpts{}, site, mutate, func(t *testing.T, n *network) {
		site, c := n.origin, n.clock
		w := &world{t: t, pop: n.pops[n.viewer], url: n.urls[n.viewer], clock: c, client: http.DefaultClient}
		pageCount = pages.count("/errors/404.html")
		r := w.get("/missing/a")
		if r.status != 404 || r.body != "<h1>page /errors/404.html</h1>" || r.header.Get("X-Cache") != "Error from strata" {
			t.Fatalf("404 page: %d %q %q", r.status, r.body, r.header.Get("X-Cache"))
		}
		w.get("/missing/b")
		if pages.count("/errors/404.html") != pageCount+1 {
			t.Fatalf("the page was fetched %d times; it is cached like any object", pages.count("/errors/404.html")-pageCount)
		}
		if r := w.get("/busy"); r.status != 200 || r.body != "<h1>page /errors/busy.html</h1>" {
			t.Fatalf("503 with responseCode 200: %d %q", r.status, r.body)
		}
		// Strata's own error (the origin is down) gets its page too, from another origin.
		if r := w.get("/dead/x"); r.status != 502 || r.body != "<h1>page /errors/502.html</h1>" {
			t.Fatalf("502 page: %d %q", r.status, r.body)
		}
		// A page that cannot be had: the original error goes out.
		if r := w.get("/bad"); r.status != 400 || strings.Contains(r.body, "page") {
			t.Fatalf("missing page: %d %q", r.status, r.body)
		}
		// HEAD gets the page's status and no body.
		if r := w.do(http.MethodHead, "/missing/c"); r.status != 404 || r.body != "" {
			t.Fatalf("HEAD: %d %q", r.status, r.body)
		}
		// errorCachingMinTTL: the 500 is cached for 30 s, then asked again.
		w.get("/fail")
		if r := w.get("/fail"); r.status != 500 || site.count("/fail") != 1 {
			t.Fatalf("500 not cached for errorCachingMinTTL: origin count %d", site.count("/fail"))
		}
		c.Advance(31 * time.Second)
		w.get("/fail")
		if site.count("/fail") != 2 {
			t.Fatalf("500 cached past errorCachingMinTTL: %d", site.count("/fail"))
		}
		// Errors without an entry are not cached.
		w.get("/busy")
		if site.count("/busy") != 2 {
			t.Fatalf("503 was cached: %d", site.count("/busy"))
		}
	})
}

// TestCustomErrorPagesThroughTiers: a page is made at the edge, whichever
// tier the error came from: the viewer sees "Error from strata", the error
// is cached for errorCachingMinTTL (not the page for its own TTL), and the
// page itself is cached like any object.
func TestCustomErrorPagesThroughTiers(t *testing.T) {
	origin := func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/errors/"):
			rw.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(rw, "<h1>page "+r.URL.Path+"</h1>")
		case r.URL.Path == "/missing":
			rw.WriteHeader(http.StatusNotFound)
		case r.URL.Path == "/busy":
			rw.WriteHeader(http.StatusServiceUnavailable)
		default:
			io.WriteString(rw, "ok")
		}
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // an origin that refuses connections
	mutate := func(cf *config.Config) {
		d := &cf.Distributions[0]
		d.Origins = append(d.Origins, config.Origin{ID: "down", URL: down.URL})
		d.CacheBehaviors = []config.CacheBehavior{{PathPattern: "/dead/*", TargetOriginID: "down", CachePolicyID: "p"}}
		d.CustomErrorResponses = []config.CustomErrorResponse{
			{ErrorCode: 404, ResponsePagePath: "/errors/404.html", ErrorCachingMinTTL: ttl(30)},
			{ErrorCode: 503, ResponsePagePath: "/errors/busy.html", ResponseCode: 200, ErrorCachingMinTTL: ttl(5)},
			{ErrorCode: 502, ResponsePagePath: "/errors/502.html"},
		}
	}
	eachTopology(t, netOpts{}, origin, mutate, func(t *testing.T, n *network) {
		page := func(path string, status int, want string) {
			t.Helper()
			r := n.send(n.viewer, viewerReq{path: path})
			if r.status != status || r.body != want {
				t.Fatalf("%s: %d %q, want %d %q", path, r.status, r.body, status, want)
			}
			expectXCache(t, r, "Error")
		}
		for i := 0; i < 2; i++ {
			page("/missing", 404, "<h1>page /errors/404.html</h1>")
			page("/busy", 200, "<h1>page /errors/busy.html</h1>")
		}
		// Strata's own error (the origin is down), made at whichever tier
		// fetched: the page, at the edge.
		page("/dead/x", 502, "<h1>page /errors/502.html</h1>")
		if c, p := n.origin.count("/busy"), n.origin.count("/errors/busy.html"); c != 1 || p != 1 {
			t.Fatalf("origin counts: /busy %d, its page %d; want 1 and 1", c, p)
		}
		// The 503 is cached for its errorCachingMinTTL (5 s), at every tier;
		// then it is asked for again, while the page stays cached.
		n.clock.Advance(6 * time.Second)
		page("/busy", 200, "<h1>page /errors/busy.html</h1>")
		page("/missing", 404, "<h1>page /errors/404.html</h1>")
		if c, m, p := n.origin.count("/busy"), n.origin.count("/missing"), n.origin.count("/errors/busy.html"); c != 2 || m != 1 || p != 1 {
			t.Fatalf("after 6 s: origin counts /busy %d, /missing %d, page %d; want 2, 1, 1", c, m, p)
		}
		// A parent answers its child with the error itself.
		for _, id := range n.regionals() {
			r := n.send(id, viewerReq{path: "/missing", header: []string{hopHeader, "s3cret"}})
			if r.status != 404 || strings.Contains(r.body, "page") {
				t.Fatalf("%s to a child tier: %d %q", id, r.status, r.body)
			}
		}
	})
}
