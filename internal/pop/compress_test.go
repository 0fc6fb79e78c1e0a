package pop

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-cdn/strata/internal/config"
)

// decode undoes a Content-Encoding.
func decode(t *testing.T, enc, body string) string {
	t.Helper()
	return string(testutil.Decode(t, enc, []byte(body)))
}

// compressOn turns compression on for the default behavior, with a cache
// policy that keys gzip and Brotli.
func compressOn(c *config.Config) {
	c.Distributions[0].DefaultCacheBehavior.Compress = true
	c.CachePolicies[0].CacheKey.EnableAcceptEncodingGzip = true
	c.CachePolicies[0].CacheKey.EnableAcceptEncodingBrotli = true
}

// objects is an origin serving fixed objects by path: Content-Type, body,
// and extra header fields.
type object struct {
	ctype string
	body  string
	kv    []string
}

func objectOrigin(objs map[string]object) func(http.ResponseWriter, *http.Request) {
	return func(rw http.ResponseWriter, r *http.Request) {
		o, ok := objs[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		h := rw.Header()
		h.Set("Cache-Control", "max-age=600")
		h.Set("Content-Type", o.ctype)
		for i := 0; i+1 < len(o.kv); i += 2 {
			h.Set(o.kv[i], o.kv[i+1])
		}
		h.Set("Content-Length", strconv.Itoa(len(o.body)))
		if r.Method != http.MethodHead {
			io.WriteString(rw, o.body)
		}
	}
}

func hasVaryAE(h http.Header) bool {
	return varyListsEncoding(h)
}

func TestCompressEachEncoding(t *testing.T) { throughTiers(t, testCompressEachEncoding) }

func testCompressEachEncoding(t *testing.T, tp topology) {
	body := testutil.TextBody(50_000)
	w := tp.world(t, objectOrigin(map[string]object{
		"/app.js": {ctype: "application/javascript; charset=utf-8", body: body, kv: []string{"ETag", `"v1"`}},
	}), compressOn)
	for _, tc := range []struct{ ae, enc string }{
		{"gzip", "gzip"}, {"br", "br"}, {"zstd", "zstd"}, {"", ""},
		{"gzip, deflate, br, zstd", "br"}, {"gzip, zstd", "zstd"},
	} {
		var kv []string
		if tc.ae != "" {
			kv = []string{"Accept-Encoding", tc.ae}
		}
		r := w.get("/app.js", kv...)
		if r.status != 200 {
			t.Fatalf("%q: status %d", tc.ae, r.status)
		}
		if got := r.header.Get("Content-Encoding"); got != tc.enc {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.ae, got, tc.enc)
		}
		if got := decode(t, tc.enc, r.body); got != body {
			t.Fatalf("Accept-Encoding %q: decoded body differs from the origin's (%d bytes vs %d)", tc.ae, len(got), len(body))
		}
		if !hasVaryAE(r.header) {
			t.Fatalf("Accept-Encoding %q: Vary %q lacks Accept-Encoding", tc.ae, r.header.Values("Vary"))
		}
		wantETag := `"v1"`
		if tc.enc != "" {
			wantETag = `W/"v1"`
			if len(r.body) >= len(body)/2 {
				t.Fatalf("%s: %d bytes for %d: not compressed", tc.enc, len(r.body), len(body))
			}
		}
		if got := r.header.Get("ETag"); got != wantETag {
			t.Fatalf("Accept-Encoding %q: ETag %q, want %q", tc.ae, got, wantETag)
		}
		// A complete stored object has its length, compressed or not.
		if got := r.header.Get("Content-Length"); got != "" && got != strconv.Itoa(len(r.body)) {
			t.Fatalf("Content-Length %s for %d bytes", got, len(r.body))
		}
	}
	// One fetch per encoding (the last two requests were br and zstd again).
	if n := w.origin.count("/app.js"); n != 4 {
		t.Fatalf("origin fetched %d times, want 4 (br, zstd, gzip, identity)", n)
	}
	for _, enc := range []string{"gzip", "br", "zstd", ""} {
		var kv []string
		if enc != "" {
			kv = []string{"Accept-Encoding", enc}
		}
		r := w.get("/app.js", kv...)
		expectXCache(t, r, "Hit")
		if r.header.Get("Content-Encoding") != enc || decode(t, enc, r.body) != body {
			t.Fatalf("hit for %q: Content-Encoding %q or body wrong", enc, r.header.Get("Content-Encoding"))
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Fatalf("hit for %q: Content-Length %q for %d bytes", enc, r.header.Get("Content-Length"), len(r.body))
		}
	}
	if n := w.origin.count("/app.js"); n != 4 {
		t.Fatalf("origin fetched %d times after hits, want 4", n)
	}
}

func TestCompressOriginAskedWithTheVariantEncoding(t *testing.T) {
	throughTiers(t, testCompressOriginAskedWithTheVariantEncoding)
}

func testCompressOriginAskedWithTheVariantEncoding(t *testing.T, tp topology) {
	w := tp.world(t, objectOrigin(map[string]object{"/a.css": {ctype: "text/css", body: testutil.TextBody(5000)}}), compressOn)
	for _, tc := range []struct{ ae, origin string }{
		{"gzip, deflate, br", "br"}, {"deflate", ""}, {"gzip;q=0.5, zstd;q=0.1", "zstd"},
	} {
		w.get("/a.css?"+tc.origin, "Accept-Encoding", tc.ae)
		if got := w.origin.lastReq("/a.css").Header.Get("Accept-Encoding"); got != tc.origin {
			t.Fatalf("viewer %q: origin got Accept-Encoding %q, want %q", tc.ae, got, tc.origin)
		}
	}
}

func TestCompressSpellingsShareOneVariant(t *testing.T) {
	throughTiers(t, testCompressSpellingsShareOneVariant)
}

func testCompressSpellingsShareOneVariant(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	w := tp.world(t, objectOrigin(map[string]object{"/page.html": {ctype: "text/html", body: body}}), compressOn)
	spellings := []string{"gzip, deflate", "deflate, gzip;q=1.0", "GZIP", "x-gzip", "gzip;q=0.8, br;q=0", " gzip ,identity"}
	for i, ae := range spellings {
		r := w.get("/page.html", "Accept-Encoding", ae)
		if r.header.Get("Content-Encoding") != "gzip" || decode(t, "gzip", r.body) != body {
			t.Fatalf("%q: Content-Encoding %q", ae, r.header.Get("Content-Encoding"))
		}
		if i > 0 {
			expectXCache(t, r, "Hit")
		}
	}
	if n := w.origin.count("/page.html"); n != 1 {
		t.Fatalf("origin fetched %d times for %d spellings of gzip, want 1", n, len(spellings))
	}
}

func TestCompressRefusalsServeIdentity(t *testing.T) {
	throughTiers(t, testCompressRefusalsServeIdentity)
}

func testCompressRefusalsServeIdentity(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	w := tp.world(t, objectOrigin(map[string]object{"/data.json": {ctype: "application/json", body: body}}), compressOn)
	for _, ae := range []string{"", "gzip;q=0", "gzip;q=0.000, deflate", "identity", "identity;q=1, *;q=0", "deflate, sdch"} {
		var kv []string
		if ae != "" {
			kv = []string{"Accept-Encoding", ae}
		}
		r := w.get("/data.json", kv...)
		if r.header.Get("Content-Encoding") != "" || r.body != body {
			t.Fatalf("%q: Content-Encoding %q, %d bytes", ae, r.header.Get("Content-Encoding"), len(r.body))
		}
		if !hasVaryAE(r.header) {
			t.Fatalf("%q: the identity variant of a compressible type lacks Vary: Accept-Encoding", ae)
		}
	}
	if n := w.origin.count("/data.json"); n != 1 {
		t.Fatalf("origin fetched %d times, want 1: every refusal is the identity variant", n)
	}
	// "*" accepts everything not listed: Brotli first.
	if r := w.get("/data.json", "Accept-Encoding", "*"); r.header.Get("Content-Encoding") != "br" {
		t.Fatalf("*: Content-Encoding %q, want br", r.header.Get("Content-Encoding"))
	}
	if r := w.get("/data.json", "Accept-Encoding", "*, br;q=0"); r.header.Get("Content-Encoding") != "zstd" {
		t.Fatalf("*, br;q=0: Content-Encoding %q, want zstd", r.header.Get("Content-Encoding"))
	}
}

func TestCompressNotApplicable(t *testing.T) { throughTiers(t, testCompressNotApplicable) }

func testCompressNotApplicable(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	gz := func() string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, body)
		zw.Close()
		return b.String()
	}()
	png := "\x89PNG\r\n\x1a\n" + testutil.TextBody(20_000)
	w := tp.world(t, objectOrigin(map[string]object{
		"/img.png":      {ctype: "image/png", body: png},
		"/pre.js":       {ctype: "application/javascript", body: gz, kv: []string{"Content-Encoding", "gzip", "ETag", `"pre"`}},
		"/small.txt":    {ctype: "text/plain", body: testutil.TextBody(999)},
		"/notransform":  {ctype: "text/html", body: body, kv: []string{"Cache-Control", "max-age=600, no-transform"}},
		"/notype":       {ctype: "", body: body},
		"/octet":        {ctype: "application/octet-stream", body: body},
		"/exactly1000":  {ctype: "text/plain", body: testutil.TextBody(1000)},
		"/identity-enc": {ctype: "text/plain", body: body, kv: []string{"Content-Encoding", "identity"}},
	}), compressOn)
	for _, tc := range []struct {
		path     string
		enc      string // Content-Encoding served to a viewer accepting everything
		vary     bool   // Vary: Accept-Encoding added
		wantBody string
	}{
		{"/img.png", "", false, png},
		{"/pre.js", "gzip", false, gz},                    // the origin's own gzip, byte for byte
		{"/small.txt", "", false, testutil.TextBody(999)}, // never compressed: Vary as the origin sent it
		{"/notransform", "", false, body},
		{"/notype", "", false, body},
		{"/octet", "", false, body},
		{"/exactly1000", "br", true, testutil.TextBody(1000)},
		{"/identity-enc", "identity", false, body},
	} {
		r := w.get(tc.path, "Accept-Encoding", "br, gzip, zstd")
		if got := r.header.Get("Content-Encoding"); got != tc.enc {
			t.Fatalf("%s: Content-Encoding %q, want %q", tc.path, got, tc.enc)
		}
		got := r.body
		if tc.enc == "br" {
			got = decode(t, "br", r.body)
		}
		if got != tc.wantBody {
			t.Fatalf("%s: body changed (%d bytes, want %d)", tc.path, len(got), len(tc.wantBody))
		}
		if hasVaryAE(r.header) != tc.vary {
			t.Fatalf("%s: Vary %q, want Accept-Encoding listed: %v", tc.path, r.header.Values("Vary"), tc.vary)
		}
	}
	// The origin's own encoding passes through with its ETag and length.
	r := w.get("/pre.js", "Accept-Encoding", "gzip")
	if r.header.Get("ETag") != `"pre"` || r.header.Get("Content-Length") != strconv.Itoa(len(gz)) || decode(t, "gzip", r.body) != body {
		t.Fatalf("origin-compressed response changed: ETag %q, Content-Length %q", r.header.Get("ETag"), r.header.Get("Content-Length"))
	}
}

func TestCompressOffChangesNothing(t *testing.T) { throughTiers(t, testCompressOffChangesNothing) }

func testCompressOffChangesNothing(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	objs := map[string]object{"/app.js": {ctype: "application/javascript", body: body, kv: []string{"ETag", `"v1"`}}}
	w := tp.world(t, objectOrigin(objs), func(c *config.Config) {
		c.CachePolicies[0].CacheKey.EnableAcceptEncodingGzip = true
		c.CachePolicies[0].CacheKey.EnableAcceptEncodingBrotli = true
	})
	for _, ae := range []string{"gzip", "br, gzip", "zstd", ""} {
		r := w.get("/app.js", "Accept-Encoding", ae)
		if r.body != body || r.header.Get("Content-Encoding") != "" || r.header.Get("ETag") != `"v1"` ||
			len(r.header.Values("Vary")) != 0 || r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("compress off, Accept-Encoding %q: response changed: %v", ae, r.header)
		}
	}
	// The key and the origin request are as before: the normalized list.
	w.get("/app.js?x", "Accept-Encoding", "gzip, deflate, br")
	if got := w.origin.lastReq("/app.js").Header.Get("Accept-Encoding"); got != "br,gzip" {
		t.Fatalf("origin got Accept-Encoding %q, want br,gzip", got)
	}
	// zstd is not in CloudFront's normalization: the same variant as identity.
	if n := w.origin.count("/app.js"); n != 4 {
		t.Fatalf("origin count %d, want 4 (gzip, br+gzip, identity, ?x)", n)
	}
}

func TestCompressBrotliNeedsThePolicy(t *testing.T) {
	throughTiers(t, testCompressBrotliNeedsThePolicy)
}

func testCompressBrotliNeedsThePolicy(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	w := tp.world(t, objectOrigin(map[string]object{"/a.txt": {ctype: "text/plain", body: body}}), func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.Compress = true // no enableAcceptEncoding*: gzip and zstd only
	})
	r := w.get("/a.txt", "Accept-Encoding", "br, gzip")
	if r.header.Get("Content-Encoding") != "gzip" || decode(t, "gzip", r.body) != body {
		t.Fatalf("Content-Encoding %q, want gzip", r.header.Get("Content-Encoding"))
	}
}

func TestCompressHead(t *testing.T) { throughTiers(t, testCompressHead) }

func testCompressHead(t *testing.T, tp topology) {
	body := testutil.TextBody(30_000)
	w := tp.world(t, objectOrigin(map[string]object{"/h.html": {ctype: "text/html", body: body}}), compressOn)
	// A HEAD that misses waits for the compressed object, then has its length.
	h := w.do(http.MethodHead, "/h.html", "Accept-Encoding", "gzip")
	if h.status != 200 || h.header.Get("Content-Encoding") != "gzip" || h.body != "" || !hasVaryAE(h.header) {
		t.Fatalf("HEAD: status %d, Content-Encoding %q, body %d bytes", h.status, h.header.Get("Content-Encoding"), len(h.body))
	}
	g := w.get("/h.html", "Accept-Encoding", "gzip")
	expectXCache(t, g, "Hit")
	if h.header.Get("Content-Length") != strconv.Itoa(len(g.body)) {
		t.Fatalf("HEAD Content-Length %q, GET body %d bytes", h.header.Get("Content-Length"), len(g.body))
	}
	h2 := w.do(http.MethodHead, "/h.html", "Accept-Encoding", "gzip")
	expectXCache(t, h2, "Hit")
	if h2.header.Get("Content-Length") != strconv.Itoa(len(g.body)) || h2.header.Get("ETag") != g.header.Get("ETag") {
		t.Fatalf("HEAD hit: Content-Length %q", h2.header.Get("Content-Length"))
	}
	if decode(t, "gzip", g.body) != body || w.origin.count("/h.html") != 1 {
		t.Fatalf("origin count %d", w.origin.count("/h.html"))
	}
}

func TestCompressSizeLimits(t *testing.T) { throughTiers(t, testCompressSizeLimits) }

func testCompressSizeLimits(t *testing.T, tp topology) {
	large := testutil.TextBody(12_000_000)
	w := tp.world(t, objectOrigin(map[string]object{"/large.txt": {ctype: "text/plain", body: large}}), compressOn)
	r := w.get("/large.txt", "Accept-Encoding", "gzip")
	if r.header.Get("Content-Encoding") != "" || r.body != large || r.header.Get("Content-Length") != strconv.Itoa(len(large)) {
		t.Fatalf("12 MB object: Content-Encoding %q, Content-Length %q", r.header.Get("Content-Encoding"), r.header.Get("Content-Length"))
	}
	if hasVaryAE(r.header) {
		t.Fatal("12 MB object, compressed for no viewer: Vary: Accept-Encoding added")
	}
}

// TestCompressWhileStreaming: a 5 MB object is compressed as it arrives:
// the viewer reads 64 KiB of compressed bytes while the origin is still
// holding back the second half, and the whole decompresses to the origin's
// bytes. Brotli under
// -race is slow on a loaded machine, so the streaming request has no
// overall client timeout: only the wait for the first bytes is bounded
// (generously: it catches a PoP that buffers the whole object).
func TestCompressWhileStreaming(t *testing.T) { throughTiers(t, testCompressWhileStreaming) }

func testCompressWhileStreaming(t *testing.T, tp topology) {
	body := testutil.TextBody(5_000_000)
	release := map[string]chan struct{}{"/stream-gzip": make(chan struct{}), "/stream-br": make(chan struct{})}
	w := tp.world(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("Content-Type", "text/plain")
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(rw, body[:len(body)/2])
		rw.(http.Flusher).Flush()
		<-release[r.URL.Path]
		io.WriteString(rw, body[len(body)/2:])
	}, compressOn)
	released := map[string]bool{}
	t.Cleanup(func() { // before the origin closes: it waits for its handlers
		for path, c := range release {
			if !released[path] {
				close(c)
			}
		}
	})
	streaming := *w.client
	streaming.Timeout = 0 // bounded below by progress, and by go test -timeout
	for _, enc := range []string{"gzip", "br"} {
		path := "/stream-" + enc
		req, _ := http.NewRequest("GET", w.url+path, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := streaming.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Encoding") != enc || resp.Header.Get("Content-Length") != "" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d Content-Encoding %q, Content-Length %q %q", enc, resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length"), b)
		}
		first := make([]byte, 64<<10)
		got := make(chan error, 1)
		go func() { _, err := io.ReadFull(resp.Body, first); got <- err }()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("%s: reading the first compressed bytes: %v", enc, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: no compressed bytes while the origin held back half the object", enc)
		}
		close(release[path])
		released[path] = true
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		compressed := string(first) + string(rest)
		if decode(t, enc, compressed) != body {
			t.Fatalf("%s: decoded body differs", enc)
		}
		r := w.get(path, "Accept-Encoding", enc)
		expectXCache(t, r, "Hit")
		if r.body != compressed || r.header.Get("Content-Length") != strconv.Itoa(len(compressed)) {
			t.Fatalf("%s: the hit is not the stored compressed object (%d bytes vs %d)", enc, len(r.body), len(compressed))
		}
		if w.origin.count(path) != 1 {
			t.Fatalf("%s: origin count %d", enc, w.origin.count(path))
		}
		t.Logf("%s: %d bytes -> %d", enc, len(body), len(compressed))
	}
}

func TestCompressUnknownLength(t *testing.T) { throughTiers(t, testCompressUnknownLength) }

func testCompressUnknownLength(t *testing.T, tp topology) {
	body := testutil.TextBody(40_000)
	w := tp.world(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("Content-Type", "text/html")
		for i := 0; i < len(body); i += 10_000 {
			io.WriteString(rw, body[i:i+10_000])
			rw.(http.Flusher).Flush() // chunked: no declared length
		}
	}, compressOn)
	r := w.get("/dyn", "Accept-Encoding", "zstd")
	if r.header.Get("Content-Encoding") != "zstd" || decode(t, "zstd", r.body) != body {
		t.Fatalf("Content-Encoding %q", r.header.Get("Content-Encoding"))
	}
	expectXCache(t, w.get("/dyn", "Accept-Encoding", "zstd"), "Hit")
}

// TestCompressRangeMiss: a Range request that misses is answered from the
// identity bytes, and the variant stores identity (see compressFetched).
func TestCompressRangeMiss(t *testing.T) { throughTiers(t, testCompressRangeMiss) }

func testCompressRangeMiss(t *testing.T, tp topology) {
	body := testutil.TextBody(30_000)
	w := tp.world(t, objectOrigin(map[string]object{"/r.txt": {ctype: "text/plain", body: body}}), compressOn)
	r := w.get("/r.txt", "Accept-Encoding", "gzip", "Range", "bytes=100-199")
	if r.status != http.StatusPartialContent || r.body != body[100:200] || r.header.Get("Content-Encoding") != "" {
		t.Fatalf("range on a miss: status %d, Content-Encoding %q, body %q", r.status, r.header.Get("Content-Encoding"), r.body)
	}
	// The range was answered as soon as its bytes were in: the object may
	// still be arriving (a request now would collapse onto its fetch).
	waitFor(t, 5*time.Second, func() bool { return w.pop.Store().Len() > 0 })
	r = w.get("/r.txt", "Accept-Encoding", "gzip")
	expectXCache(t, r, "Hit")
	if r.header.Get("Content-Encoding") != "" || r.body != body {
		t.Fatalf("the variant stored by a range miss: Content-Encoding %q", r.header.Get("Content-Encoding"))
	}
	// A range of a compressed object in the cache is a range of its
	// compressed bytes, with the weak ETag that keeps If-Range from mixing
	// representations.
	w.get("/r.txt?c", "Accept-Encoding", "gzip")
	full := w.get("/r.txt?c", "Accept-Encoding", "gzip")
	part := w.get("/r.txt?c", "Accept-Encoding", "gzip", "Range", "bytes=0-9")
	if part.status != http.StatusPartialContent || part.body != full.body[:10] || part.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("range of a compressed hit: status %d", part.status)
	}
}

func TestCompressRevalidationKeepsWeakETag(t *testing.T) {
	throughTiers(t, testCompressRevalidationKeepsWeakETag)
}

func testCompressRevalidationKeepsWeakETag(t *testing.T, tp topology) {
	body := testutil.TextBody(20_000)
	w := tp.world(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=10")
		rw.Header().Set("ETag", `"e1"`)
		rw.Header().Set("Vary", "Origin")
		if inm := r.Header.Get("If-None-Match"); inm == `"e1"` || inm == `W/"e1"` {
			rw.WriteHeader(http.StatusNotModified)
			return
		}
		rw.Header().Set("Content-Type", "text/html")
		io.WriteString(rw, body)
	}, compressOn)
	first := w.get("/rv", "Accept-Encoding", "gzip")
	w.clock.Advance(time.Minute)
	r := w.get("/rv", "Accept-Encoding", "gzip")
	expectXCache(t, r, "RefreshHit")
	if w.origin.count("/rv") != 2 {
		t.Fatalf("origin count %d", w.origin.count("/rv"))
	}
	for _, r := range []response{r, w.get("/rv", "Accept-Encoding", "gzip")} {
		if r.header.Get("ETag") != `W/"e1"` || r.header.Get("Content-Encoding") != "gzip" || !hasVaryAE(r.header) ||
			r.body != first.body {
			t.Fatalf("after a 304: ETag %q, Content-Encoding %q, Vary %q", r.header.Get("ETag"), r.header.Get("Content-Encoding"), r.header.Values("Vary"))
		}
	}
	// Viewers revalidate with the weak ETag.
	if c := w.get("/rv", "Accept-Encoding", "gzip", "If-None-Match", `W/"e1"`); c.status != http.StatusNotModified {
		t.Fatalf("If-None-Match W/\"e1\": status %d", c.status)
	}
}

func TestCompressUnsafeMethodInvalidatesEveryVariant(t *testing.T) {
	throughTiers(t, testCompressUnsafeMethodInvalidatesEveryVariant)
}

func testCompressUnsafeMethodInvalidatesEveryVariant(t *testing.T, tp topology) {
	body := testutil.TextBody(5000)
	w := tp.world(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		objectOrigin(map[string]object{"/doc": {ctype: "text/plain", body: body}})(rw, r)
	}, compressOn)
	for _, ae := range []string{"gzip", "br", ""} {
		w.get("/doc", "Accept-Encoding", ae)
		expectXCache(t, w.get("/doc", "Accept-Encoding", ae), "Hit")
	}
	w.doBody(http.MethodPost, "/doc", strings.NewReader("x"))
	for _, ae := range []string{"gzip", "br", ""} {
		expectXCache(t, w.get("/doc", "Accept-Encoding", ae), "Miss")
	}
}

func TestCompressPass(t *testing.T) { throughTiers(t, testCompressPass) }

func testCompressPass(t *testing.T, tp topology) {
	body := testutil.TextBody(60_000)
	release := make(chan struct{})
	w := tp.world(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("ETag", `"p"`)
		if r.URL.Path == "/slow" {
			io.WriteString(rw, body[:1000])
			rw.(http.Flusher).Flush()
			<-release
			io.WriteString(rw, body[1000:])
			return
		}
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(rw, body)
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.Compress = true
		c.Distributions[0].DefaultCacheBehavior.CachePolicyID = config.ManagedCachingDisabled
	})
	t.Cleanup(func() { close(release) }) // before the origin closes: it waits for its handlers
	for i := 0; i < 2; i++ {
		r := w.get("/api", "Accept-Encoding", "gzip, deflate, br")
		// CachingDisabled does not enable Brotli: gzip.
		if r.header.Get("Content-Encoding") != "gzip" || decode(t, "gzip", r.body) != body || r.header.Get("ETag") != `W/"p"` ||
			!hasVaryAE(r.header) || r.header.Get("Content-Length") != "" {
			t.Fatalf("pass: Content-Encoding %q, ETag %q, Content-Length %q", r.header.Get("Content-Encoding"), r.header.Get("ETag"), r.header.Get("Content-Length"))
		}
		expectXCache(t, r, "Miss")
	}
	if n := w.origin.count("/api"); n != 2 {
		t.Fatalf("origin count %d", n)
	}
	// The viewer's header goes to the origin as it is.
	if got := w.origin.lastReq("/api").Header.Get("Accept-Encoding"); got != "gzip, deflate, br" {
		t.Fatalf("origin got Accept-Encoding %q", got)
	}
	if r := w.do(http.MethodHead, "/api", "Accept-Encoding", "gzip"); r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Content-Length") != "" {
		t.Fatalf("HEAD pass: Content-Encoding %q, Content-Length %q", r.header.Get("Content-Encoding"), r.header.Get("Content-Length"))
	}
	if r := w.get("/api", "Accept-Encoding", "gzip", "Range", "bytes=0-9"); r.header.Get("Content-Encoding") != "" {
		t.Fatalf("pass with Range: Content-Encoding %q", r.header.Get("Content-Encoding"))
	}
	// A streamed response keeps streaming: what arrived is decodable before
	// the origin sends the rest.
	req, _ := http.NewRequest("GET", w.url+"/slow", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(bufio.NewReader(resp.Body))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	got := make(chan error, 1)
	go func() { _, err := io.ReadFull(zr, first); got <- err }()
	select {
	case err := <-got:
		if err != nil || string(first) != body[:1000] {
			t.Fatalf("first 1000 bytes: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the compressed stream did not deliver what the origin had sent")
	}
}

// TestCompressThroughTiers: the tier that fetches from the origin
// compresses, once; the tiers below store and serve what they got, with
// the same encoding, validators and Vary, in every topology.
func TestCompressThroughTiers(t *testing.T) {
	body := testutil.TextBody(20_000)
	origin := objectOrigin(map[string]object{"/t.js": {ctype: "text/javascript", body: body}})
	eachTopology(t, netOpts{tls: true}, origin, compressOn, func(t *testing.T, n *network) {
		for i, want := range []string{"Miss", "Hit"} {
			r := n.send(n.viewer, viewerReq{path: "/t.js", https: i == 1, header: []string{"Accept-Encoding", "gzip, br"}})
			if r.header.Get("Content-Encoding") != "br" || decode(t, "br", r.body) != body {
				t.Fatalf("request %d: Content-Encoding %q", i, r.header.Get("Content-Encoding"))
			}
			expectXCache(t, r, want)
			if r.header.Get("ETag") != "" && !strings.HasPrefix(r.header.Get("ETag"), "W/") {
				t.Fatalf("ETag %q", r.header.Get("ETag"))
			}
			if vary := r.header.Values("Vary"); len(vary) != 1 || vary[0] != "Accept-Encoding" {
				t.Fatalf("Vary %q", vary)
			}
		}
		if got := n.origin.lastReq("/t.js").Header.Get("Accept-Encoding"); got != "br" {
			t.Fatalf("origin got Accept-Encoding %q", got)
		}
		// A viewer without an encoding gets the identity body.
		if r := n.send(n.viewer, viewerReq{path: "/t.js"}); r.header.Get("Content-Encoding") != "" || r.body != body {
			t.Fatalf("identity: Content-Encoding %q, %d bytes", r.header.Get("Content-Encoding"), len(r.body))
		}
		if c := n.origin.count("/t.js"); c != 2 { // the br variant, then the identity one
			t.Fatalf("origin count %d, want 2", c)
		}
	})
}

func TestCompressFromDisk(t *testing.T) {
	body := testutil.TextBody(200_000)
	o := newOrigin(t, &clock{}, objectOrigin(map[string]object{"/d.html": {ctype: "text/html", body: body}}))
	cfg := testConfig(o.URL, compressOn)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := New(cfg, Options{ID: "DSK1", DefaultDistribution: "d", DiskDir: dir, PromoteSize: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, p)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func() (*http.Response, string) {
		req, _ := http.NewRequest("GET", url+"/d.html", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, first := get()
	waitFor(t, 5*time.Second, func() bool { return p.Store().Disk().Len() == 1 })
	p.Close()
	// A new PoP over the same directory: the compressed object comes from disk.
	p2, err := New(cfg, Options{ID: "DSK1", DefaultDistribution: "d", DiskDir: dir, PromoteSize: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Close)
	url = serve(t, p2)
	resp, b := get()
	if resp.Header.Get("X-Cache") != "Hit from strata" || resp.Header.Get("Content-Encoding") != "gzip" || b != first ||
		decode(t, "gzip", b) != body || resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
		t.Fatalf("from disk: X-Cache %q, Content-Encoding %q, %d bytes", resp.Header.Get("X-Cache"), resp.Header.Get("Content-Encoding"), len(b))
	}
	if o.count("/d.html") != 1 {
		t.Fatalf("origin count %d", o.count("/d.html"))
	}
}

// Benchmarks: a compressed hit is the same plain copy as an identity hit,
// of fewer bytes.
func benchEncodedHit(b *testing.B, ae string) {
	body := testutil.TextBody(100_000)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	}))
	defer origin.Close()
	req := httptest.NewRequest("GET", "http://bench.example/page.html", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	var n int
	runHits(b, benchPoP(b, origin.URL, compressOn), req, func(h http.Header) {
		n, _ = strconv.Atoi(h.Get("Content-Length"))
		b.SetBytes(int64(n))
	})
	b.ReportMetric(float64(n), "body-bytes")
}

func BenchmarkHitIdentity100K(b *testing.B) { benchEncodedHit(b, "") }
func BenchmarkHitGzip100K(b *testing.B)     { benchEncodedHit(b, "gzip") }
func BenchmarkHitBrotli100K(b *testing.B)   { benchEncodedHit(b, "gzip, deflate, br") }

// BenchmarkCompressMiss measures the cost of compressing once (a miss of a
// 100 KB page per iteration, origin on loopback).
func benchCompressMiss(b *testing.B, ae string) {
	body := testutil.TextBody(100_000)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	}))
	defer origin.Close()
	p := benchPoP(b, origin.URL, compressOn)
	w := &nopWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "http://bench.example/page.html?"+strconv.Itoa(i), nil)
		req.RemoteAddr = "127.0.0.1:5555"
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		clear(w.h)
		p.ServeHTTP(w, req)
	}
}

func BenchmarkMissIdentity100K(b *testing.B) { benchCompressMiss(b, "") }
func BenchmarkMissGzip100K(b *testing.B)     { benchCompressMiss(b, "gzip") }
func BenchmarkMissBrotli100K(b *testing.B)   { benchCompressMiss(b, "br") }
func BenchmarkMissZstd100K(b *testing.B)     { benchCompressMiss(b, "zstd") }
