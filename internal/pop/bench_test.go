package pop

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// nopWriter is the cheapest ResponseWriter: it measures the PoP, not the
// listener.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchHit(b *testing.B, size int) {
	body := strings.Repeat("x", size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, body)
	}))
	defer origin.Close()
	req := httptest.NewRequest("GET", "http://bench.example/obj/1k/h", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	runHits(b, benchPoP(b, origin.URL, nil), req, nil)
}

// benchPoP is a PoP serving testConfig's distribution "d" in front of the
// origin at url, closed when the benchmark ends.
func benchPoP(b *testing.B, url string, mutate func(*config.Config)) *PoP {
	b.Helper()
	cfg := testConfig(url, mutate)
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

// runHits stores req's object, then times b.N hits on it (ready, if set,
// runs on the first hit's header before the timer starts). It fails unless
// the last one was a hit.
func runHits(b *testing.B, p *PoP, req *http.Request, ready func(h http.Header)) {
	b.Helper()
	w := &nopWriter{h: http.Header{}}
	p.ServeHTTP(w, req) // fill
	for p.Store().Len() == 0 {
		time.Sleep(time.Millisecond)
	}
	clear(w.h)
	p.ServeHTTP(w, req)
	if w.h.Get("X-Cache") != "Hit from strata" {
		b.Fatalf("not a hit: %v", w.h)
	}
	if ready != nil {
		ready(w.h)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, req)
	}
	b.StopTimer()
	if w.h.Get("X-Cache") != "Hit from strata" {
		b.Fatalf("not a hit: %v", w.h)
	}
}

func BenchmarkHit1K(b *testing.B) { benchHit(b, 1<<10) }
func BenchmarkHit1M(b *testing.B) { benchHit(b, 1<<20) }
