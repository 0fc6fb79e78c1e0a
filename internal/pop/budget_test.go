package pop

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
)

// Bodies being fetched count against the process's body budget: while one
// holds it, a second miss does not fit, streams to its viewer through a
// spill file (every byte) and is not kept in memory; the first, once
// complete, is stored, and the budget is given back.
func TestBodyBudgetSpillsWhatDoesNotFit(t *testing.T) {
	const size, half = 512 << 10, 256 << 10
	content := randString(size)
	release := newGate()
	spill := t.TempDir()
	budget := cache.NewBudget(size + size/2)
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("Content-Length", strconv.Itoa(size))
		if r.URL.Path != "/held" {
			io.WriteString(rw, content)
			return
		}
		io.WriteString(rw, content[:half])
		rw.(http.Flusher).Flush()
		select {
		case <-release.ch:
		case <-r.Context().Done():
			return
		}
		io.WriteString(rw, content[half:])
	}, nil, Options{SpillDir: spill, BodyBudget: budget})
	t.Cleanup(release.open)

	resp, err := w.client.Get(w.url + "/held")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, size)
	if _, err := io.ReadFull(resp.Body, got[:half]); err != nil {
		t.Fatal(err)
	}
	if n := budget.InUse(); n < size {
		t.Fatalf("budget in use %d while a %d-byte body is in flight", n, size)
	}

	r := w.get("/other")
	expectXCache(t, r, "Miss")
	if r.status != 200 || r.body != content {
		t.Fatalf("over budget: status %d, %d bytes, want the %d of the object", r.status, len(r.body), size)
	}
	expectXCache(t, w.get("/other"), "Miss") // streamed through a file: not kept in memory
	if n := budget.InUse(); n > budget.Limit() {
		t.Fatalf("budget in use %d, past its limit %d", n, budget.Limit())
	}

	release.open()
	if _, err := io.ReadFull(resp.Body, got[half:]); err != nil || string(got) != content {
		t.Fatalf("held body: %v", err)
	}
	waitFor(t, 5*time.Second, func() bool { return budget.InUse() == 0 })
	expectXCache(t, w.get("/held"), "Hit")
	// With the budget free, a new miss is held in memory and stored.
	expectXCache(t, w.get("/third"), "Miss")
	expectXCache(t, w.get("/third"), "Hit")
}
