package pop

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/testutil"
)

// clock is a test clock: real time plus an offset the test moves forward.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// testOrigin is a real HTTP server that counts requests per path and lets
// each test script its answers.
type testOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	last   map[string]*http.Request
	bodies map[string][]byte
	clock  *clock
}

func newOrigin(t *testing.T, c *clock, h func(w http.ResponseWriter, r *http.Request)) *testOrigin {
	t.Helper()
	o := &testOrigin{counts: map[string]int{}, last: map[string]*http.Request{}, bodies: map[string][]byte{}, clock: c}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.counts[r.URL.Path]++
		o.last[r.URL.Path] = r.Clone(context.Background())
		o.bodies[r.URL.Path] = body
		o.mu.Unlock()
		w.Header().Set("Date", c.Now().UTC().Format(http.TimeFormat))
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *testOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

func (o *testOrigin) lastReq(path string) *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

func (o *testOrigin) lastBody(path string) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bodies[path]
}

// world is one PoP in front of one origin.
type world struct {
	t      *testing.T
	pop    *PoP
	url    string
	origin *testOrigin
	clock  *clock
	client *http.Client
}

// testConfig is one distribution "d" (answering any Host) in front of url.
func testConfig(url string, mutate func(*config.Config)) *config.Config {
	def, maxTTL := int64(3600), int64(86400)
	cfg := &config.Config{
		Distributions: []config.Distribution{{
			ID:      "d",
			Origins: []config.Origin{{ID: "o", URL: url}},
			DefaultCacheBehavior: config.CacheBehavior{
				TargetOriginID: "o",
				AllowedMethods: []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"},
				CachePolicyID:  "p",
			},
		}},
		CachePolicies: []config.CachePolicy{{
			ID: "p", DefaultTTL: &def, MaxTTL: &maxTTL,
			CacheKey: config.CacheKeyConfig{QueryStrings: config.KeyList{Behavior: "all"}},
		}},
	}
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func newWorld(t *testing.T, h func(w http.ResponseWriter, r *http.Request), mutate func(*config.Config)) *world {
	t.Helper()
	return newWorldOpts(t, h, mutate, Options{})
}

// newWorldOpts is newWorld with PoP options (its ID, default distribution
// and clock are the world's; a nil Logger discards).
func newWorldOpts(t *testing.T, h func(w http.ResponseWriter, r *http.Request), mutate func(*config.Config), opts Options) *world {
	t.Helper()
	c := &clock{}
	o := newOrigin(t, c, h)
	cfg := testConfig(o.URL, mutate)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	opts.ID, opts.DefaultDistribution, opts.Now = "TST1", "d", c.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	url := serve(t, p)
	return &world{t: t, pop: p, url: url, origin: o, clock: c,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 300}, Timeout: 20 * time.Second}}
}

// serve runs h on a loopback listener through the viewer-facing server.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newViewerServer(h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type response struct {
	status int
	header http.Header
	body   string
}

func (w *world) do(method, path string, kv ...string) response {
	w.t.Helper()
	return w.doBody(method, path, nil, kv...)
}

func (w *world) doBody(method, path string, body io.Reader, kv ...string) response {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "Host" {
			req.Host = kv[i+1]
			continue
		}
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (w *world) get(path string, kv ...string) response {
	w.t.Helper()
	return w.do(http.MethodGet, path, kv...)
}

func expectXCache(t *testing.T, r response, want string) {
	t.Helper()
	if got := r.header.Get("X-Cache"); got != want+" from strata" {
		t.Fatalf("X-Cache = %q, want %q (status %d, Cache-Status %q)", got, want+" from strata", r.status, r.header.Get("Cache-Status"))
	}
}

// waitFor is testutil.WaitFor.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, "the condition", cond)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// newViewerServer is the listener the binary uses, so PoP tests go through
// the same HTTP/1.1 implementation as viewers do.
func newViewerServer(h http.Handler) interface {
	Serve(ln net.Listener) error
	Close() error
} {
	return &h1.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
}

// heapPeak runs fn while sampling the heap, and returns how far HeapAlloc
// rose above its value before.
func heapPeak(fn func()) int64 {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		var max uint64
		for {
			select {
			case <-stop:
				peak <- max
				return
			default:
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > max {
				max = m.HeapAlloc
			}
			time.Sleep(time.Millisecond)
		}
	}()
	fn()
	close(stop)
	return int64(<-peak) - int64(before.HeapAlloc)
}
