package pop

import (
	"crypto/tls"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/listener"
)

// diskPoP starts a PoP with a disk tier in dir in front of url.
func diskPoP(t *testing.T, url, dir string, memory int64) (*PoP, string) {
	t.Helper()
	cfg := testConfig(url, func(c *config.Config) {
		c.CachePolicies[0].CacheKey.Headers = config.KeyList{Behavior: "whitelist", Items: []string{"Accept-Language"}}
	})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{ID: "DSK1", DefaultDistribution: "d", DiskDir: dir, MemoryCacheSize: memory,
		MaxObjectSize: memory, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p, serve(t, p)
}

func fetchURL(t *testing.T, url string, kv ...string) response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func bigBody(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	return b.String()[:n]
}

func TestRestartServesFromDisk(t *testing.T) {
	big := bigBody(3 << 20) // larger than the promote size: served from its file
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("Vary", "Accept-Language")
		switch r.URL.Path {
		case "/big":
			io.WriteString(rw, big)
		default:
			io.WriteString(rw, "small "+r.URL.Path+" "+r.Header.Get("Accept-Language"))
		}
	})
	dir := t.TempDir()
	p1, url1 := diskPoP(t, o.URL, dir, 64<<20)
	fetchURL(t, url1+"/small")
	fetchURL(t, url1+"/big")
	fetchURL(t, url1+"/small", "Accept-Language", "de")
	// Three keys (Accept-Language is in the cache key), each a Vary marker
	// and its variant: 6 entries.
	waitFor(t, 5*time.Second, func() bool { return p1.Store().Disk().Len() >= 6 })
	p1.Close() // the process stops; memory is gone

	_, url2 := diskPoP(t, o.URL, dir, 64<<20)
	r := fetchURL(t, url2+"/small")
	expectXCache(t, r, "Hit")
	if r.body != "small /small " {
		t.Fatalf("small after restart: %q", r.body)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // concurrent disk hits of one large file
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := fetchURL(t, url2+"/big")
			if r.body != big || r.header.Get("X-Cache") != "Hit from strata" {
				t.Errorf("big after restart: %d bytes, %q", len(r.body), r.header.Get("X-Cache"))
			}
		}()
	}
	wg.Wait()
	r = fetchURL(t, url2+"/big", "Range", "bytes=100-199")
	if r.status != 206 || r.body != big[100:200] {
		t.Fatalf("range from disk: %d %q", r.status, r.body)
	}
	r = fetchURL(t, url2+"/small", "Accept-Language", "de")
	if r.body != "small /small de" || r.header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("vary variant after restart: %q %q", r.body, r.header.Get("X-Cache"))
	}
	if o.count("/small") != 2 || o.count("/big") != 1 {
		t.Fatalf("origin counts small %d big %d", o.count("/small"), o.count("/big"))
	}
}

func TestCorruptDiskFileNotServed(t *testing.T) {
	body := bigBody(1 << 20)
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, body)
	})
	dir := t.TempDir()
	p1, url1 := diskPoP(t, o.URL, dir, 64<<20)
	fetchURL(t, url1+"/obj")
	waitFor(t, 5*time.Second, func() bool { return p1.Store().Disk().Len() == 1 })
	p1.Close()
	// Flip one byte in the middle of the cache file.
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && len(d.Name()) == 64 {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[0], data, 0o644)

	_, url2 := diskPoP(t, o.URL, dir, 64<<20)
	r := fetchURL(t, url2+"/obj")
	expectXCache(t, r, "Miss")
	if r.body != body || o.count("/obj") != 2 {
		t.Fatalf("corrupted file: body ok %v, origin count %d", r.body == body, o.count("/obj"))
	}
}

func TestMemoryEvictedObjectsComeFromDisk(t *testing.T) {
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, strings.Repeat(r.URL.Path, 20000))
	})
	p, url := diskPoP(t, o.URL, t.TempDir(), 1<<20) // 1 MiB of memory, ~100 KB objects
	for i := 0; i < 40; i++ {
		fetchURL(t, url+"/o"+strconv.Itoa(i))
	}
	waitFor(t, 5*time.Second, func() bool { return p.Store().Disk().Len() == 40 })
	for i := 0; i < 40; i++ {
		path := "/o" + strconv.Itoa(i)
		r := fetchURL(t, url+path)
		if r.body != strings.Repeat(path, 20000) || r.header.Get("X-Cache") != "Hit from strata" {
			t.Fatalf("%s: %q", path, r.header.Get("X-Cache"))
		}
	}
	for i := 0; i < 40; i++ {
		if n := o.count("/o" + strconv.Itoa(i)); n != 1 {
			t.Fatalf("object %d fetched %d times", i, n)
		}
	}
}

// A large disk hit goes out through the connection's ReadFrom (sendfile):
// the writer chain must not hide it.
func TestDiskHitReachesReadFrom(t *testing.T) {
	var rw http.ResponseWriter = &responseWriter{ResponseWriter: &readFromRecorder{h: http.Header{}}}
	if _, ok := rw.(io.ReaderFrom); !ok {
		t.Fatal("the PoP's response writer hides io.ReaderFrom")
	}
	rec := rw.(*responseWriter).ResponseWriter.(*readFromRecorder)
	f, _ := os.CreateTemp(t.TempDir(), "f")
	f.WriteString("file body")
	f.Seek(0, io.SeekStart)
	n, err := rw.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: f, N: 9})
	if err != nil || n != 9 || !rec.sawFile || rec.body.String() != "file body" {
		t.Fatalf("ReadFrom: %d %v file=%v %q", n, err, rec.sawFile, rec.body.String())
	}
}

type readFromRecorder struct {
	h       http.Header
	body    strings.Builder
	sawFile bool
}

func (r *readFromRecorder) Header() http.Header         { return r.h }
func (r *readFromRecorder) WriteHeader(int)             {}
func (r *readFromRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		_, r.sawFile = lr.R.(*os.File)
	}
	return io.Copy(&r.body, src)
}

// Over TLS and HTTP/2 (no sendfile), a disk hit is copied from its file through
// Write, not through the ReadFrom meant for HTTP/1's connections.
func TestBodyWriterHidesReadFromWithoutSendfile(t *testing.T) {
	h1 := &responseWriter{ResponseWriter: &readFromRecorder{h: http.Header{}}}
	if _, ok := h1.bodyWriter(false).(io.ReaderFrom); !ok {
		t.Fatal("a listener writer with ReadFrom does not get the file")
	}
	if _, ok := h1.bodyWriter(true).(io.ReaderFrom); ok {
		t.Fatal("HTTP/1.1 over TLS is offered a file (no sendfile through TLS)")
	}
	h2 := &responseWriter{ResponseWriter: &nopWriter{h: http.Header{}}}
	bw := h2.bodyWriter(true)
	if _, ok := bw.(io.ReaderFrom); ok {
		t.Fatal("a listener writer without ReadFrom is offered a file")
	}
	if _, ok := bw.(http.Flusher); !ok {
		t.Fatal("the body writer cannot flush (a body still arriving would wait)")
	}
	if n, err := bw.Write([]byte("abc")); n != 3 || err != nil || h2.bytes != 3 || h2.status != 200 {
		t.Fatalf("Write: %d %v; recorded %d bytes, status %d", n, err, h2.bytes, h2.status)
	}
}

// Objects evicted from memory are served whole from their disk files over
// HTTP/2 as over HTTP/1.1.
func TestDiskHitsOverHTTP2(t *testing.T) {
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, strings.Repeat(r.URL.Path, 20000))
	})
	p, url := diskPoP(t, o.URL, t.TempDir(), 1<<20) // 1 MiB of memory, ~100 KB objects
	for i := 0; i < 30; i++ {
		fetchURL(t, url+"/o"+strconv.Itoa(i))
	}
	waitFor(t, 5*time.Second, func() bool { return p.Store().Disk().Len() == 30 })

	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cf, kf, _, err := ca.EnsureLeaf(dir, "leaf", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := listener.New(listener.Options{Handler: p, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	t.Cleanup(func() { srv.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	if n := p.Store().Len(); n >= 30 {
		t.Fatalf("memory holds all %d objects: no disk hit to test", n)
	}
	for i := 0; i < 30; i++ {
		path := "/o" + strconv.Itoa(i)
		resp, err := client.Get("https://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != strings.Repeat(path, 20000) || resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Cache") != "Hit from strata" {
			t.Fatalf("%s: %s %q, %d bytes, %v", path, resp.Proto, resp.Header.Get("X-Cache"), len(b), err)
		}
	}
}
