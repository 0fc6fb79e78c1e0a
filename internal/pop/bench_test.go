package pop

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
	cfg := testConfig(origin.URL, nil)
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req := httptest.NewRequest("GET", "http://bench.example/obj/1k/h", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	w := &nopWriter{h: http.Header{}}
	p.ServeHTTP(w, req) // fill
	for p.Store().Len() == 0 {
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, req)
	}
	if w.h.Get("X-Cache") != "Hit from strata" {
		b.Fatalf("not a hit: %v", w.h)
	}
}

func BenchmarkHit1K(b *testing.B) { benchHit(b, 1<<10) }
func BenchmarkHit1M(b *testing.B) { benchHit(b, 1<<20) }
