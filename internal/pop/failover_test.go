package pop

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// groupWorld: distribution "d" whose behavior targets origin group g
// (primary p, secondary s, failover on 404/500/503).
func groupWorld(t *testing.T, primary, secondary string, mutate ...func(*config.Config)) (*world, *testOrigin) {
	t.Helper()
	c := &clock{}
	sec := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "secondary "+r.Method+" "+r.URL.Path)
	})
	if secondary == "" {
		secondary = sec.URL
	}
	cfg := testConfig(primary, func(c *config.Config) {
		d := &c.Distributions[0]
		d.Origins = append(d.Origins, config.Origin{ID: "s", URL: secondary})
		d.OriginGroups = []config.OriginGroup{{ID: "g", PrimaryOriginID: "o", SecondaryOriginID: "s",
			FailoverCriteria: config.FailoverCriteria{StatusCodes: []int{404, 500, 503}}}}
		d.DefaultCacheBehavior.TargetOriginID = "g"
		for _, m := range mutate {
			m(c)
		}
	})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{ID: "GRP1", DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &world{t: t, pop: p, url: serve(t, p), clock: c, client: http.DefaultClient}, sec
}

func TestOriginGroupFailover(t *testing.T) {
	c := &clock{}
	prim := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/broken"):
			rw.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/missing"):
			rw.WriteHeader(http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/forbidden"):
			rw.WriteHeader(http.StatusForbidden) // not a failover code
		default:
			rw.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(rw, "primary "+r.URL.Path)
		}
	})
	w, sec := groupWorld(t, prim.URL, "")
	if r := w.get("/ok"); r.body != "primary /ok" || sec.count("/ok") != 0 {
		t.Fatalf("healthy primary: %q", r.body)
	}
	r := w.get("/broken")
	if r.status != 200 || r.body != "secondary GET /broken" || !strings.Contains(r.header.Get("Cache-Status"), "failover-s") {
		t.Fatalf("503 from the primary: %d %q %q", r.status, r.body, r.header.Get("Cache-Status"))
	}
	if r := w.get("/missing"); r.body != "secondary GET /missing" {
		t.Fatalf("404 from the primary: %q", r.body)
	}
	if r := w.get("/forbidden"); r.status != 403 || sec.count("/forbidden") != 0 {
		t.Fatalf("403 is not a failover code: %d", r.status)
	}
	// Not idempotent: no failover, the primary's answer goes to the viewer.
	if r := w.doBody(http.MethodPost, "/broken-post", strings.NewReader("x")); r.status != 503 || sec.count("/broken-post") != 0 {
		t.Fatalf("POST failed over: %d", r.status)
	}
	if r := w.do(http.MethodOptions, "/broken-options"); r.status != 200 || sec.count("/broken-options") != 1 {
		t.Fatalf("OPTIONS: %d", r.status)
	}
	// The secondary's answer is cached like any other.
	w.get("/broken")
	if sec.count("/broken") != 1 {
		t.Fatalf("secondary asked %d times", sec.count("/broken"))
	}
}

func TestOriginGroupFailoverOnConnectionFailure(t *testing.T) {
	c := &clock{}
	dead := newOrigin(t, c, func(http.ResponseWriter, *http.Request) {})
	url := dead.URL
	dead.Close()
	w, _ := groupWorld(t, url, "")
	if r := w.get("/x"); r.status != 200 || r.body != "secondary GET /x" {
		t.Fatalf("primary down: %d %q", r.status, r.body)
	}
}

// A primary that accepts the request but does not answer within its read
// timeout is failed over like one that refuses the connection; the viewer
// sees the secondary's answer, not a 504.
func TestOriginGroupFailoverOnReadTimeout(t *testing.T) {
	c := &clock{}
	release := make(chan struct{})
	stalled := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	w, _ := groupWorld(t, stalled.URL, "", func(c *config.Config) {
		c.Distributions[0].Origins[0].CustomOriginConfig = &config.CustomOriginConfig{OriginReadTimeout: config.Duration(time.Second)}
	})
	start := time.Now()
	r := w.get("/slow")
	if r.status != 200 || r.body != "secondary GET /slow" || !strings.Contains(r.header.Get("Cache-Status"), "failover-s") {
		t.Fatalf("stalled primary: %d %q %q", r.status, r.body, r.header.Get("Cache-Status"))
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("answered after %v, before the primary's read timeout", d)
	}
	if stalled.count("/slow") != 1 {
		t.Fatalf("primary asked %d times, want 1", stalled.count("/slow"))
	}
}
