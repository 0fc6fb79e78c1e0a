package pop

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

func TestFreshHitThenExpiry(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "v"+strconv.Itoa(1))
	}, nil)
	r1 := w.get("/a")
	expectXCache(t, r1, "Miss")
	r2 := w.get("/a")
	expectXCache(t, r2, "Hit")
	if r2.body != "v1" || w.origin.count("/a") != 1 {
		t.Fatalf("hit body %q, origin count %d", r2.body, w.origin.count("/a"))
	}
	if r2.header.Get("X-Strata-Pop") != "TST1" || !contains(r2.header.Get("Via"), "TST1 (strata)") {
		t.Fatalf("headers: %v", r2.header)
	}
	if !strings.HasPrefix(r2.header.Get("Cache-Status"), "Strata-TST1; hit; ttl=") {
		t.Fatalf("Cache-Status %q", r2.header.Get("Cache-Status"))
	}
	w.clock.Advance(30 * time.Second)
	r3 := w.get("/a")
	if age, _ := strconv.Atoi(r3.header.Get("Age")); age < 30 || age > 32 {
		t.Fatalf("Age = %q after 30s", r3.header.Get("Age"))
	}
	w.clock.Advance(31 * time.Second)
	r4 := w.get("/a")
	expectXCache(t, r4, "Miss")
	if w.origin.count("/a") != 2 {
		t.Fatalf("expired object not refetched: %d", w.origin.count("/a"))
	}
}

func TestRevalidationWith304UpdatesHeaders(t *testing.T) {
	var gen int
	var mu sync.Mutex
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gen++
		n := gen
		mu.Unlock()
		rw.Header().Set("Cache-Control", "max-age=10")
		rw.Header().Set("ETag", `"v1"`)
		rw.Header().Set("X-Gen", strconv.Itoa(n))
		if r.Header.Get("If-None-Match") == `"v1"` {
			rw.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(rw, "body-v1")
	}, nil)
	w.get("/r")
	w.clock.Advance(11 * time.Second)
	r := w.get("/r")
	expectXCache(t, r, "RefreshHit")
	if r.body != "body-v1" || r.header.Get("X-Gen") != "2" {
		t.Fatalf("body %q gen %q", r.body, r.header.Get("X-Gen"))
	}
	if got := w.origin.lastReq("/r").Header.Get("If-None-Match"); got != `"v1"` {
		t.Fatalf("revalidation sent If-None-Match %q", got)
	}
	// Fresh again after the 304, with the updated header stored.
	r = w.get("/r")
	expectXCache(t, r, "Hit")
	if r.header.Get("X-Gen") != "2" || w.origin.count("/r") != 2 {
		t.Fatalf("gen %q count %d", r.header.Get("X-Gen"), w.origin.count("/r"))
	}
}

func TestViewerConditionalFromCache(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("ETag", `"e1"`)
		rw.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		io.WriteString(rw, "content")
	}, nil)
	w.get("/c")
	r := w.get("/c", "If-None-Match", `"e1"`)
	if r.status != 304 || r.body != "" {
		t.Fatalf("If-None-Match: %d %q", r.status, r.body)
	}
	expectXCache(t, r, "Hit")
	r = w.get("/c", "If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT")
	if r.status != 304 {
		t.Fatalf("If-Modified-Since: %d", r.status)
	}
	r = w.get("/c", "If-None-Match", `"other"`)
	if r.status != 200 || r.body != "content" {
		t.Fatalf("non-matching: %d", r.status)
	}
	if w.origin.count("/c") != 1 {
		t.Fatalf("origin saw %d requests", w.origin.count("/c"))
	}
	// Viewer conditionals are not forwarded on a miss: the cache needs the full object.
	w.get("/c2", "If-None-Match", `"e1"`)
	if w.origin.lastReq("/c2").Header.Get("If-None-Match") != "" {
		t.Fatal("viewer If-None-Match reached the origin on a miss")
	}
}

func TestVarySeparatesVariants(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Vary", "Accept-Language")
		io.WriteString(rw, "lang="+r.Header.Get("Accept-Language"))
	}, func(c *config.Config) {
		c.CachePolicies[0].CacheKey.Headers = config.KeyList{Behavior: "whitelist", Items: []string{"Accept-Language"}}
	})
	en := w.get("/v", "Accept-Language", "en")
	de := w.get("/v", "Accept-Language", "de")
	en2 := w.get("/v", "Accept-Language", "en")
	de2 := w.get("/v", "Accept-Language", "de")
	if en.body != "lang=en" || de.body != "lang=de" || en2.body != "lang=en" || de2.body != "lang=de" {
		t.Fatalf("variants mixed: %q %q %q %q", en.body, de.body, en2.body, de2.body)
	}
	expectXCache(t, en2, "Hit")
	expectXCache(t, de2, "Hit")
	if w.origin.count("/v") != 2 {
		t.Fatalf("origin count %d", w.origin.count("/v"))
	}
}

func TestVaryOnForwardedHeaderOnly(t *testing.T) {
	// The origin varies on a header Strata does not forward: every viewer
	// gets the one response the origin made without it.
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Vary", "Accept-Language")
		io.WriteString(rw, "lang="+r.Header.Get("Accept-Language"))
	}, nil)
	a := w.get("/v", "Accept-Language", "en")
	b := w.get("/v", "Accept-Language", "de")
	if a.body != "lang=" || b.body != "lang=" || w.origin.count("/v") != 1 {
		t.Fatalf("%q %q %d", a.body, b.body, w.origin.count("/v"))
	}
}

func TestVaryStarNeverServedFromCache(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Vary", "*")
		io.WriteString(rw, "x")
	}, nil)
	w.get("/s")
	r := w.get("/s")
	expectXCache(t, r, "Miss")
	if w.origin.count("/s") != 2 {
		t.Fatalf("Vary: * served from cache")
	}
}

func TestNoStoreAndPrivate(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nostore":
			rw.Header().Set("Cache-Control", "no-store")
		case "/private":
			rw.Header().Set("Cache-Control", "private, max-age=600")
		case "/cookie":
			rw.Header().Set("Cache-Control", "max-age=600")
			rw.Header().Set("Set-Cookie", "session=secret")
		}
		io.WriteString(rw, "for "+r.Header.Get("X-Who"))
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "Managed-AllViewer"
	})
	for _, path := range []string{"/nostore", "/private", "/cookie"} {
		a := w.get(path, "X-Who", "alice")
		b := w.get(path, "X-Who", "bob")
		if a.body != "for alice" || b.body != "for bob" {
			t.Fatalf("%s shared: %q %q", path, a.body, b.body)
		}
		expectXCache(t, b, "Miss")
		if w.origin.count(path) != 2 {
			t.Fatalf("%s: origin count %d", path, w.origin.count(path))
		}
	}
}

func TestCredentialedResponsesNotShared(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/public" {
			rw.Header().Set("Cache-Control", "public, max-age=60")
		} else {
			rw.Header().Set("Cache-Control", "max-age=60")
		}
		io.WriteString(rw, "for "+r.Header.Get("Authorization")+r.Header.Get("Cookie"))
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "Managed-AllViewer"
	})
	a := w.get("/auth", "Authorization", "Bearer alice")
	b := w.get("/auth", "Authorization", "Bearer bob")
	if a.body == b.body {
		t.Fatalf("authorized response shared: %q", b.body)
	}
	c1 := w.get("/cook", "Cookie", "u=alice")
	c2 := w.get("/cook", "Cookie", "u=bob")
	if c1.body == c2.body {
		t.Fatalf("cookie response shared: %q", c2.body)
	}
	w.get("/public", "Authorization", "Bearer alice")
	p := w.get("/public", "Authorization", "Bearer bob")
	expectXCache(t, p, "Hit") // the origin said public
}

func TestErrorsNotCached(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		rw.WriteHeader(code)
	}, nil)
	for _, code := range []int{400, 403, 405, 431, 500, 502, 503} {
		p := "/" + strconv.Itoa(code)
		w.get(p)
		r := w.get(p)
		if r.status != code {
			t.Fatalf("%s: status %d", p, r.status)
		}
		expectXCache(t, r, "Error")
		if w.origin.count(p) != 2 {
			t.Fatalf("%d was cached", code)
		}
	}
}

func TestStaleIfError(t *testing.T) {
	var fail bool
	var mu sync.Mutex
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f := fail
		mu.Unlock()
		if f {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
		io.WriteString(rw, "good")
	}, nil)
	w.get("/x")
	mu.Lock()
	fail = true
	mu.Unlock()
	w.clock.Advance(20 * time.Second)
	r := w.get("/x")
	if r.status != 200 || r.body != "good" {
		t.Fatalf("stale-if-error not used: %d %q", r.status, r.body)
	}
	if !contains(r.header.Get("Cache-Status"), "stale-if-error") {
		t.Fatalf("Cache-Status %q", r.header.Get("Cache-Status"))
	}
	// Outside the window the error goes through.
	w.clock.Advance(60 * time.Second)
	r = w.get("/x")
	if r.status != 503 {
		t.Fatalf("past stale-if-error: %d %q", r.status, r.header.Get("Cache-Status"))
	}
}

func TestStaleIfErrorOnConnectionFailure(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
		io.WriteString(rw, "good")
	}, nil)
	w.get("/x")
	w.origin.Close() // the origin is gone
	w.clock.Advance(20 * time.Second)
	r := w.get("/x")
	if r.status != 200 || r.body != "good" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	r = w.get("/never-cached")
	if r.status != http.StatusBadGateway {
		t.Fatalf("origin down, nothing cached: %d", r.status)
	}
	expectXCache(t, r, "Error")
}

func TestStaleWhileRevalidate(t *testing.T) {
	var n int
	var mu sync.Mutex
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		v := n
		mu.Unlock()
		rw.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=30")
		fmt.Fprintf(rw, "v%d", v)
	}, nil)
	w.get("/s")
	w.clock.Advance(15 * time.Second)
	r := w.get("/s")
	if r.body != "v1" {
		t.Fatalf("stale-while-revalidate served %q", r.body)
	}
	expectXCache(t, r, "Hit")
	waitFor(t, 5*time.Second, func() bool { return w.origin.count("/s") == 2 })
	waitFor(t, 5*time.Second, func() bool { return w.get("/s").body == "v2" })
}

func TestRangesFromCache(t *testing.T) {
	content := strings.Repeat("0123456789", 100)
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Type", "text/plain")
		io.WriteString(rw, content)
	}, nil)
	r := w.get("/f", "Range", "bytes=10-19") // a miss with a range
	if r.status != 206 || r.body != content[10:20] || r.header.Get("Content-Range") != "bytes 10-19/1000" {
		t.Fatalf("range on miss: %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
	}
	if w.origin.lastReq("/f").Header.Get("Range") != "" {
		t.Fatal("range forwarded on a cached fetch")
	}
	r = w.get("/f", "Range", "bytes=-5")
	if r.status != 206 || r.body != content[995:] {
		t.Fatalf("suffix range: %d %q", r.status, r.body)
	}
	expectXCache(t, r, "Hit")
	r = w.get("/f", "Range", "bytes=0-1,20-22")
	mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if r.status != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi range: %d %q", r.status, r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
	}
	if len(parts) != 2 || parts[0] != "01" || parts[1] != "012" {
		t.Fatalf("parts %q", parts)
	}
	r = w.get("/f", "Range", "bytes=5000-")
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable: %d", r.status)
	}
	if w.origin.count("/f") != 1 {
		t.Fatalf("origin count %d", w.origin.count("/f"))
	}
}

func TestHead(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "twelve bytes")
	}, nil)
	r := w.do(http.MethodHead, "/h")
	if r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "12" {
		t.Fatalf("HEAD miss: %d %q %q", r.status, r.body, r.header.Get("Content-Length"))
	}
	if w.origin.lastReq("/h").Method != http.MethodGet {
		t.Fatal("HEAD miss should fetch with GET to fill the cache")
	}
	waitFor(t, 5*time.Second, func() bool { return w.pop.Store().Len() > 0 })
	r = w.get("/h")
	expectXCache(t, r, "Hit")
	if r.body != "twelve bytes" {
		t.Fatalf("GET after HEAD: %q", r.body)
	}
	r = w.do(http.MethodHead, "/h")
	expectXCache(t, r, "Hit")
}

func TestCollapsing200Viewers(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "slow object")
	}, nil)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := w.client.Get(w.url + "/slow")
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "slow object" {
				errs <- "body " + string(b)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if c := w.origin.count("/slow"); c != 1 {
		t.Fatalf("200 concurrent viewers made %d origin requests", c)
	}
}

func TestStreamingToWaitersWhileArriving(t *testing.T) {
	release := make(chan struct{})
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "first part|")
		rw.(http.Flusher).Flush()
		<-release
		io.WriteString(rw, "second part")
	}, nil)
	readFirst := func() (*http.Response, *bufio.Reader) {
		resp, err := w.client.Get(w.url + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		s, err := br.ReadString('|')
		if err != nil || s != "first part|" {
			t.Fatalf("first part: %q %v", s, err)
		}
		return resp, br
	}
	// Both viewers get the first bytes before the origin has finished.
	r1, b1 := readFirst()
	r2, b2 := readFirst()
	close(release)
	for _, b := range []*bufio.Reader{b1, b2} {
		rest, _ := io.ReadAll(b)
		if string(rest) != "second part" {
			t.Fatalf("rest %q", rest)
		}
	}
	r1.Body.Close()
	r2.Body.Close()
	if w.origin.count("/stream") != 1 {
		t.Fatalf("origin count %d", w.origin.count("/stream"))
	}
}

func TestViewerDisconnectDoesNotPoisonCache(t *testing.T) {
	big := strings.Repeat("abcdefghij", 100000) // 1 MB
	release := make(chan struct{})
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Length", strconv.Itoa(len(big)))
		io.WriteString(rw, big[:1000])
		rw.(http.Flusher).Flush()
		<-release
		io.WriteString(rw, big[1000:])
	}, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 100)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	conn.Close() // the viewer vanishes mid-body
	close(release)
	waitFor(t, 5*time.Second, func() bool { return w.pop.Store().Len() > 0 })
	r := w.get("/big")
	expectXCache(t, r, "Hit")
	if r.body != big || w.origin.count("/big") != 1 {
		t.Fatalf("cached copy damaged: %d bytes, origin count %d", len(r.body), w.origin.count("/big"))
	}
}

func TestTruncatedOriginResponseNotStored(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Length", "1000")
		io.WriteString(rw, "only a little")
		rw.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(rw).Hijack()
		conn.Close()
	}, nil)
	resp, err := w.client.Get(w.url + "/t")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("viewer got a truncated body without an error")
	}
	resp, err = w.client.Get(w.url + "/t")
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Cache") == "Hit from strata" {
			t.Fatal("truncated response was stored")
		}
	}
	if w.origin.count("/t") != 2 {
		t.Fatalf("origin count %d: the truncated copy was reused", w.origin.count("/t"))
	}
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	var version int
	var mu sync.Mutex
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			version++
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		rw.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(rw, "v%d", version)
	}, nil)
	w.get("/doc")
	if r := w.get("/doc"); r.body != "v0" {
		t.Fatal(r.body)
	}
	r := w.doBody(http.MethodPost, "/doc", strings.NewReader("update"))
	if r.status != 204 || string(w.origin.lastBody("/doc")) != "update" {
		t.Fatalf("POST: %d, origin got %q", r.status, w.origin.lastBody("/doc"))
	}
	r = w.get("/doc")
	expectXCache(t, r, "Miss")
	if r.body != "v1" {
		t.Fatalf("after POST: %q", r.body)
	}
}

func TestPassThroughStreamsBodies(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600") // ignored for POST
		fmt.Fprintf(rw, "te=%v", r.TransferEncoding)
	}, nil)
	// A chunked upload of unknown length.
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 100; i++ {
			pw.Write(make([]byte, 10000))
		}
		pw.Close()
	}()
	r := w.doBody(http.MethodPut, "/up", pr)
	if r.body != "te=[chunked]" || len(w.origin.lastBody("/up")) != 1000000 {
		t.Fatalf("upload: %q, origin got %d bytes", r.body, len(w.origin.lastBody("/up")))
	}
	expectXCache(t, r, "Miss")
	r = w.doBody(http.MethodPut, "/up", strings.NewReader("again"))
	if w.origin.count("/up") != 2 {
		t.Fatal("PUT response was cached")
	}
}

func TestCDNCacheControl(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("CDN-Cache-Control", "max-age=60")
		rw.Header().Set("Strata-CDN-Cache-Control", "max-age=120")
		io.WriteString(rw, "x")
	}, nil)
	w.get("/t")
	r := w.get("/t")
	expectXCache(t, r, "Hit")
	// CDN-Cache-Control goes on (RFC 9213 section 3); Strata's own does not.
	if r.header.Get("Cdn-Cache-Control") != "max-age=60" || r.header.Get("Strata-Cdn-Cache-Control") != "" {
		t.Fatalf("targeted fields to the viewer: CDN %q, Strata %q", r.header.Get("Cdn-Cache-Control"), r.header.Get("Strata-Cdn-Cache-Control"))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("viewer must still see the origin's Cache-Control")
	}
	w.clock.Advance(90 * time.Second) // past CDN-Cache-Control, within Strata-CDN-Cache-Control
	expectXCache(t, w.get("/t"), "Hit")
}

func TestDefaultRootObject(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "path="+r.URL.Path)
	}, func(c *config.Config) { c.Distributions[0].DefaultRootObject = "index.html" })
	if r := w.get("/"); r.body != "path=/index.html" {
		t.Fatalf("root: %q", r.body)
	}
	if r := w.get("/sub/"); r.body != "path=/sub/" {
		t.Fatalf("only the root is rewritten: %q", r.body)
	}
}

func TestUnkeyedHeadersDoNotReachOrigin(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "ok")
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "Managed-AllViewer"
	})
	w.doBody(http.MethodGet, "/k", strings.NewReader("a GET body"),
		"X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE",
		"Forwarded", "host=evil", "X-Strata-Pop", "FAKE", "CloudFront-Viewer-Country", "XX",
		"Connection", "X-Forwarded-For, X-Keep", "X-Keep", "dropped-because-listed")
	req := w.origin.lastReq("/k")
	for _, h := range []string{"X-Forwarded-Host", "X-Original-Url", "X-Http-Method-Override", "Forwarded", "X-Strata-Pop", "Cloudfront-Viewer-Country", "X-Keep"} {
		if v := req.Header.Get(h); v != "" {
			t.Errorf("%s reached the origin: %q", h, v)
		}
	}
	if req.Header.Get("X-Forwarded-For") == "" {
		t.Error("Connection: X-Forwarded-For stripped Strata's own header")
	}
	if b := w.origin.lastBody("/k"); len(b) != 0 {
		t.Errorf("GET body forwarded: %q", b)
	}
}

func TestCachePolicyKeysAndForwarding(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, "q="+r.URL.RawQuery+" ua="+r.Header.Get("User-Agent"))
	}, func(c *config.Config) {
		c.CachePolicies[0].CacheKey.QueryStrings = config.KeyList{Behavior: "whitelist", Items: []string{"v"}}
	})
	a := w.get("/q?v=1&utm=abc", "User-Agent", "alice-browser")
	b := w.get("/q?utm=zzz&v=1", "User-Agent", "bob-browser")
	if a.body != "q=v=1 ua=Strata" || b.body != a.body {
		t.Fatalf("%q / %q", a.body, b.body)
	}
	expectXCache(t, b, "Hit")
	c := w.get("/q?v=2")
	expectXCache(t, c, "Miss")
}

// TestOriginRequestPolicyAddsToExcludingKey: the origin gets the query
// parameters and cookies the cache key or the origin request policy
// selects; with allExcept on both sides, a name is withheld only when both
// exclude it.
func TestOriginRequestPolicyAddsToExcludingKey(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "q="+r.URL.RawQuery+" c="+r.Header.Get("Cookie"))
	}, func(c *config.Config) {
		ae := func(items ...string) config.KeyList {
			return config.KeyList{Behavior: config.KeyAllExcept, Items: items}
		}
		c.CachePolicies[0].CacheKey.QueryStrings = ae("a", "b")
		c.CachePolicies[0].CacheKey.Cookies = ae("a", "b")
		c.OriginRequestPolicies = []config.OriginRequestPolicy{{ID: "r", QueryStrings: ae("b", "c"), Cookies: ae("b", "c")}}
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "r"
	})
	r := w.get("/u?a=1&b=2&c=3&d=4", "Cookie", "a=1; b=2; c=3; d=4")
	if want := "q=a=1&c=3&d=4 c=a=1; c=3; d=4"; r.body != want {
		t.Fatalf("origin saw %q, want %q", r.body, want)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "x") },
		func(c *config.Config) {
			c.Distributions[0].DefaultCacheBehavior.AllowedMethods = []string{"GET", "HEAD"}
		})
	r := w.doBody(http.MethodPost, "/m", strings.NewReader("x"))
	if r.status != 405 || r.header.Get("Allow") == "" || w.origin.count("/m") != 0 {
		t.Fatalf("POST: %d allow=%q origin=%d", r.status, r.header.Get("Allow"), w.origin.count("/m"))
	}
}

func TestUnknownHost(t *testing.T) {
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "x") })
	cfg := testConfig(o.URL, nil)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, p)
	w := &world{t: t, url: url, client: http.DefaultClient}
	if r := w.get("/", "Host", "unknown.example"); r.status != http.StatusMisdirectedRequest {
		t.Fatalf("unknown host: %d", r.status)
	}
	if r := w.get("/", "Host", "D.strata.localhost:8080"); r.status != 200 {
		t.Fatalf("distribution domain: %d %q", r.status, r.body)
	}
}

func TestDotSegmentsNormalized(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(rw, r.URL.Path)
	}, nil)
	w.get("/a/b")
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /a/x/%%2e%%2e/b HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "/a/b" || resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("dot segments: %q %q", body, resp.Header.Get("X-Cache"))
	}
}

// A range of an object still arriving is answered when its bytes are in.
func TestRangeOfObjectStillArriving(t *testing.T) {
	release := make(chan struct{})
	content := strings.Repeat("0123456789", 1000)
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=60")
		rw.Header().Set("Content-Length", strconv.Itoa(len(content)))
		io.WriteString(rw, content[:5000])
		rw.(http.Flusher).Flush()
		<-release // the rest comes much later
		io.WriteString(rw, content[5000:])
	}, nil)
	done := make(chan response, 1)
	go func() { done <- w.get("/video", "Range", "bytes=100-199") }()
	select {
	case r := <-done:
		if r.status != 206 || r.body != content[100:200] || r.header.Get("Content-Range") != "bytes 100-199/10000" {
			t.Fatalf("range: %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the range waited for the whole object")
	}
	close(release)
	// A range beyond what has arrived, once it arrives.
	if r := w.get("/video", "Range", "bytes=9990-"); r.status != 206 || r.body != content[9990:] {
		t.Fatalf("tail range: %d %q", r.status, r.body)
	}
	if w.origin.count("/video") != 1 {
		t.Fatalf("origin count %d", w.origin.count("/video"))
	}
}
