package pop

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// recordLog keeps the records of failed requests.
type recordLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

// lines returns the failed-request lines logged at level, as text.
func (l *recordLog) lines(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Message != "request" || r.Level != level {
			continue
		}
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { b.WriteString(a.String() + " "); return true })
		if strings.Contains(b.String(), "err=") {
			out = append(out, b.String())
		}
	}
	return out
}

// Viewer errors (here 405s) are logged at debug, and at most one a second
// at info with the count since the last; an origin error is a warning
// every time.
func TestViewerErrorsLoggedLow(t *testing.T) {
	logs := &recordLog{}
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			panic(http.ErrAbortHandler) // the origin hangs up: 502
		}
		rw.Write([]byte("ok"))
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.AllowedMethods = []string{"GET", "HEAD"}
	}, Options{Logger: slog.New(logs)})
	began := time.Now()
	for i := 0; i < 20; i++ {
		if r := w.do("DELETE", "/x"); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: %d", r.status)
		}
	}
	elapsed := time.Since(began)
	w.clock.Advance(time.Second)
	w.do("DELETE", "/x") // a second after the last at info: at info again
	debug, info := logs.lines(slog.LevelDebug), logs.lines(slog.LevelInfo)
	if len(debug)+len(info) != 21 || len(info) < 2 || float64(len(info)) > 2+elapsed.Seconds() {
		t.Fatalf("21 viewer errors in %s: %d at debug, %d at info", elapsed, len(debug), len(info))
	}
	// Every viewer error is an info line or counted by the next one.
	total := 0
	for _, l := range info {
		var since int
		i := strings.Index(l, "viewer_errors_since_last=")
		if i < 0 || !strings.Contains(l, "status=405") {
			t.Fatalf("info line: %s", l)
		}
		fmt.Sscanf(l[i+len("viewer_errors_since_last="):], "%d", &since)
		total += 1 + since
	}
	if total != 21 {
		t.Fatalf("the info lines account for %d viewer errors, want 21:\n%s", total, strings.Join(info, "\n"))
	}
	for i := 0; i < 3; i++ {
		if r := w.get("/broken"); r.status != http.StatusBadGateway {
			t.Fatalf("broken origin: %d", r.status)
		}
	}
	if n := len(logs.lines(slog.LevelWarn)); n != 3 {
		t.Errorf("%d origin errors at warn, want 3", n)
	}
}

// One event a period passes, and says how many were held back before it.
func TestSampler(t *testing.T) {
	var s sampler
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at   time.Duration
		ok   bool
		held int64
	}{
		{0, true, 0}, {100 * time.Millisecond, false, 0}, {999 * time.Millisecond, false, 0},
		{time.Second, true, 2}, {1500 * time.Millisecond, false, 0}, {5 * time.Second, true, 1}, {6 * time.Second, true, 0},
	} {
		ok, held := s.allow(t0.Add(tc.at), time.Second)
		if ok != tc.ok || held != tc.held {
			t.Fatalf("at %s: %v %d, want %v %d", tc.at, ok, held, tc.ok, tc.held)
		}
	}
}
