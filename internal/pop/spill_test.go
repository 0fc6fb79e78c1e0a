package pop

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/testutil"
)

// spillFDs counts this process's open descriptors on spill files in dir
// (an unlinked file reads "dir/name (deleted)").
func spillFDs(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir+string(os.PathSeparator)+"strata-spill-") {
			n++
		}
	}
	return n
}

func expectEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("spill directory: %d entries, %v (spill files are unlinked at once)", len(ents), err)
	}
}

func randString(n int) string {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{3}).Read(b)
	return string(b)
}

// request sends a request in the background; status -1 and the error in
// body if it fails (headers or body).
func (w *world) request(method, path string, kv ...string) <-chan response {
	out := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(method, w.url+path, nil)
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := w.client.Do(req)
		if err != nil {
			out <- response{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- response{status: -1, header: resp.Header, body: err.Error()}
			return
		}
		out <- response{resp.StatusCode, resp.Header, string(b)}
	}()
	return out
}

// gate is what an origin waits on. A test opens it, and opens it again at
// cleanup (registered after its origin's, so it runs first): a failed test
// does not leave its origin's server waiting.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate  { return &gate{ch: make(chan struct{})} }
func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// releasingOrigin serves content with an ETag, then holds the rest back
// after the first half bytes until release is closed. With length false it
// sends no Content-Length (chunked).
func releasingOrigin(content string, half int, length bool, release *gate) func(http.ResponseWriter, *http.Request) {
	return func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("ETag", `"v1"`)
		rw.Header().Set("Content-Type", "application/octet-stream")
		if length {
			rw.Header().Set("Content-Length", strconv.Itoa(len(content)))
		}
		io.WriteString(rw, content[:half])
		rw.(http.Flusher).Flush()
		select {
		case <-release.ch:
		case <-r.Context().Done():
			return
		}
		io.WriteString(rw, content[half:])
	}
}

// A cold miss of an object above maxObjectSize streams through a spill
// file: the viewers collapsed onto it at different paces, single ranges
// while it arrives, multiple ranges, HEAD and conditional requests once it
// is complete all get the right bytes from one origin request; nothing is
// kept in memory, the file is unlinked from the start and closed when the
// last viewer is done.
func TestSpilledMissServesEveryViewer(t *testing.T) {
	const size, half = 6 << 20, 3 << 20
	content := randString(size)
	release := newGate()
	spill := t.TempDir()
	w := newWorldOpts(t, releasingOrigin(content, half, true, release), nil,
		Options{MaxObjectSize: 1 << 20, SpillDir: spill})
	t.Cleanup(release.open)

	// A: the first viewer gets the first half while the rest is held back.
	respA, err := w.client.Get(w.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer respA.Body.Close()
	gotA := make([]byte, size)
	if _, err := io.ReadFull(respA.Body, gotA[:half]); err != nil || string(gotA[:half]) != content[:half] {
		t.Fatalf("first half: %v", err)
	}
	expectEmptyDir(t, spill)
	if n := spillFDs(t, spill); n < 1 {
		t.Fatal("no spill file open: the body is held in memory")
	}
	// C: a single range of what has arrived, answered at once.
	if r := <-w.request("GET", "/big", "Range", "bytes=100-199"); r.status != 206 || r.body != content[100:200] {
		t.Fatalf("range while arriving: %d %q", r.status, r.header.Get("Content-Range"))
	}
	// B: a slow viewer, who reads a little now and the rest at the end.
	respB, err := w.client.Get(w.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer respB.Body.Close()
	gotB := make([]byte, size)
	if _, err := io.ReadFull(respB.Body, gotB[:1024]); err != nil {
		t.Fatal(err)
	}
	// Joining mid-way, each waiting for bytes that have not come yet.
	tail := w.request("GET", "/big", "Range", "bytes=5000000-5000099")
	multi := w.request("GET", "/big", "Range", "bytes=0-1,4000000-4000009")
	head := w.request("HEAD", "/big")
	notModified := w.request("GET", "/big", "If-None-Match", `"v1"`)
	failed := w.request("GET", "/big", "If-Match", `"v0"`)
	// The fetch, A, B and these five use the flight.
	waitFor(t, 5*time.Second, func() bool { return w.pop.flights.Users() == 8 })
	release.open()

	if _, err := io.ReadFull(respA.Body, gotA[half:]); err != nil || string(gotA) != content {
		t.Fatalf("A: %v", err)
	}
	if _, err := io.ReadFull(respB.Body, gotB[1024:]); err != nil || string(gotB) != content {
		t.Fatalf("B: %v", err)
	}
	if !contains(respB.Header.Get("Cache-Status"), "collapsed") {
		t.Fatalf("B not collapsed: %q", respB.Header.Get("Cache-Status"))
	}
	if r := <-tail; r.status != 206 || r.body != content[5000000:5000100] || r.header.Get("Content-Range") != "bytes 5000000-5000099/6291456" {
		t.Fatalf("range in the spilled part: %d %q", r.status, r.header.Get("Content-Range"))
	}
	r := <-multi
	mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if r.status != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multiple ranges: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	var parts []string
	mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
	}
	if len(parts) != 2 || parts[0] != content[:2] || parts[1] != content[4000000:4000010] {
		t.Fatalf("multiple ranges: %d parts", len(parts))
	}
	if r := <-head; r.status != 200 || r.body != "" || r.header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("HEAD: %d %q", r.status, r.header.Get("Content-Length"))
	}
	if r := <-notModified; r.status != 304 || r.body != "" {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	if r := <-failed; r.status != 412 {
		t.Fatalf("If-Match: %d", r.status)
	}
	if c := w.origin.count("/big"); c != 1 {
		t.Fatalf("%d origin requests", c)
	}
	respA.Body.Close()
	respB.Body.Close()
	// Every viewer done: the file is closed now, not when it is garbage.
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
	if w.pop.Store().Len() != 0 {
		t.Fatal("an object above maxObjectSize was kept in memory")
	}
	// Not stored: the next viewer misses, and gets it whole.
	r = w.get("/big")
	expectXCache(t, r, "Miss")
	if r.body != content || w.origin.count("/big") != 2 {
		t.Fatalf("second miss: %d bytes, %d origin requests", len(r.body), w.origin.count("/big"))
	}
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
	expectEmptyDir(t, spill)
}

// A fetch that fails mid-body: a viewer streaming a spilled body sees an
// aborted response, never a short one presented as complete; a viewer
// waiting for the whole object gets 502; the file is closed.
func TestSpilledMissFailsMidBody(t *testing.T) {
	const size, half = 3 << 20, 1536 << 10
	content := randString(size)
	cut := newGate()
	spill := t.TempDir()
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Length", strconv.Itoa(size))
		io.WriteString(rw, content[:half])
		rw.(http.Flusher).Flush()
		<-cut.ch
		conn, _, _ := http.NewResponseController(rw).Hijack()
		conn.Close()
	}, nil, Options{MaxObjectSize: 1 << 20, SpillDir: spill})
	t.Cleanup(cut.open)
	resp, err := w.client.Get(w.url + "/t")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, half)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != content[:half] {
		t.Fatalf("first half: %v", err)
	}
	if spillFDs(t, spill) < 1 {
		t.Fatal("no spill file open")
	}
	head := w.request("HEAD", "/t")
	waitFor(t, 5*time.Second, func() bool { return w.pop.flights.Users() == 3 })
	cut.open()
	if n, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Fatalf("the viewer got a truncated body (%d more bytes) without an error", n)
	}
	if r := <-head; r.status != http.StatusBadGateway {
		t.Fatalf("HEAD on the failed fetch: %d", r.status)
	}
	resp.Body.Close()
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
	expectEmptyDir(t, spill)
}

// A body of unknown length stays in memory up to maxObjectSize (where it
// could still be stored), then spills; a viewer joining mid-way reads both
// parts. A small one is stored as before.
func TestSpillUnknownLength(t *testing.T) {
	const size, half = 3 << 20, 2 << 20
	content := randString(size)
	release := newGate()
	spill := t.TempDir()
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			rw.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(rw, content[:512<<10])
			rw.(http.Flusher).Flush() // chunked
			io.WriteString(rw, content[512<<10:1<<20])
			return
		}
		releasingOrigin(content, half, false, release)(rw, r)
	}, nil, Options{MaxObjectSize: 1 << 20, SpillDir: spill})
	t.Cleanup(release.open)
	resp, err := w.client.Get(w.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Fatalf("origin response has a length: %d", resp.ContentLength)
	}
	got := make([]byte, size)
	if _, err := io.ReadFull(resp.Body, got[:half]); err != nil {
		t.Fatal(err)
	}
	if spillFDs(t, spill) < 1 {
		t.Fatal("no spill file past maxObjectSize")
	}
	mid := w.request("GET", "/big")
	waitFor(t, 5*time.Second, func() bool { return w.pop.flights.Users() == 3 })
	release.open()
	if _, err := io.ReadFull(resp.Body, got[half:]); err != nil || string(got) != content {
		t.Fatalf("first viewer: %v", err)
	}
	if r := <-mid; r.status != 200 || r.body != content {
		t.Fatalf("mid-way viewer: %d, %d bytes", r.status, len(r.body))
	}
	resp.Body.Close()
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
	if r := w.get("/big"); r.body != content || w.origin.count("/big") != 2 {
		t.Fatal("a body past maxObjectSize was stored")
	}
	// Within maxObjectSize: in memory, stored, no file.
	if r := w.get("/small"); r.body != content[:1<<20] {
		t.Fatalf("small: %d bytes", len(r.body))
	}
	waitFor(t, 5*time.Second, func() bool { return w.pop.Store().Len() > 0 })
	r := w.get("/small")
	expectXCache(t, r, "Hit")
	if r.body != content[:1<<20] || w.origin.count("/small") != 1 {
		t.Fatal("small object not served from memory")
	}
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
}

// When no spill file can be made, the body is held in memory as before,
// and the PoP says so once.
func TestSpillFailureFallsBackToMemory(t *testing.T) {
	content := randString(3 << 20)
	spill := filepath.Join(t.TempDir(), "spill")
	var logs testutil.SyncBuffer
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Length", strconv.Itoa(len(content)))
		io.WriteString(rw, content)
	}, nil, Options{MaxObjectSize: 1 << 20, SpillDir: spill, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := os.Stat(spill); err != nil {
		t.Fatalf("New did not create the spill directory: %v", err)
	}
	os.Remove(spill) // gone after startup
	for i := range 2 {
		if r := w.get("/big"); r.status != 200 || r.body != content {
			t.Fatalf("GET %d: %d, %d bytes", i, r.status, len(r.body))
		}
	}
	if n := strings.Count(logs.String(), "no spill file"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// Without a SpillDir, a PoP with a disk tier spills into its directory
// (the space sized for the cache); the disk copy is written meanwhile and
// serves the next request.
func TestSpillDefaultsToDiskDir(t *testing.T) {
	content := randString(3 << 20)
	release := newGate()
	o := newOrigin(t, &clock{}, releasingOrigin(content, 1<<20, true, release))
	t.Cleanup(release.open)
	dir := t.TempDir()
	p, url := diskPoP(t, o.URL, dir, 1<<20)
	defer p.Close()
	resp, err := http.Get(url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	io.ReadFull(resp.Body, buf)
	sawFile := spillFDs(t, dir) > 0
	release.open()
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(buf)+string(rest) != content || !sawFile {
		t.Fatalf("miss: %v, %d bytes, a spill file open in the disk tier's directory: %v", err, len(buf)+len(rest), sawFile)
	}
	if p.opts.SpillDir != dir {
		t.Fatalf("SpillDir %q, want the disk tier's %q", p.opts.SpillDir, dir)
	}
	waitFor(t, 5*time.Second, func() bool { return spillFDs(t, dir) == 0 })
	r := fetchURL(t, url+"/big")
	expectXCache(t, r, "Hit")
	if r.body != content || o.count("/big") != 1 {
		t.Fatalf("hit from disk: %d bytes, %d origin requests", len(r.body), o.count("/big"))
	}
}

// A cold miss of an object far above maxObjectSize streams through the
// PoP with its memory bounded, not growing with the object: of known
// length (spilled from the first byte), of unknown length (spilled past
// maxObjectSize), and passed through uncached.
func TestColdMissOfLargeObjectHoldsLittleMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int64
		length bool
		mutate func(*config.Config)
	}{
		{"known length", 200 << 20, true, nil},
		{"unknown length", 96 << 20, false, nil},
		{"pass", 96 << 20, true, func(c *config.Config) {
			c.Distributions[0].DefaultCacheBehavior.CachePolicyID = config.ManagedCachingDisabled
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spill := t.TempDir()
			w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Cache-Control", "max-age=60")
				if tc.length {
					rw.Header().Set("Content-Length", strconv.FormatInt(tc.size, 10))
				}
				io.Copy(rw, io.LimitReader(zeros{}, tc.size))
			}, tc.mutate, Options{MaxObjectSize: 8 << 20, SpillDir: spill})
			var n int64
			var err error
			var resp *http.Response
			grew := heapPeak(func() {
				resp, err = w.client.Get(w.url + "/large.bin")
				if err == nil {
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			if err != nil || n != tc.size || resp.StatusCode != 200 {
				t.Fatalf("got %d of %d bytes: %v", n, tc.size, err)
			}
			if grew > 48<<20 {
				t.Fatalf("heap grew by %d MiB for a %d MiB object", grew>>20, tc.size>>20)
			}
			t.Logf("heap grew by %.1f MiB for %d MiB (%s)", float64(grew)/(1<<20), tc.size>>20, resp.Header.Get("Cache-Status"))
			waitFor(t, 5*time.Second, func() bool { return spillFDs(t, spill) == 0 })
		})
	}
}
