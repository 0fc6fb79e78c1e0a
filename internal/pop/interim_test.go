package pop

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/listener"
)

// hintsOrigin sends 103 Early Hints with a Link, then a final response
// without it.
func hintsOrigin(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Link", "</style.css>; rel=preload; as=style")
	rw.WriteHeader(http.StatusEarlyHints)
	h.Del("Link")
	h.Set("Content-Type", "text/plain")
	if r.Method == http.MethodGet {
		h.Set("Cache-Control", "max-age=600")
	}
	io.WriteString(rw, "final "+r.Method)
}

type interim struct {
	code int
	h    http.Header
}

// doTraced sends a request and returns the interim responses seen before
// the final one.
func doTraced(t *testing.T, c *http.Client, method, url string) ([]interim, *http.Response, string) {
	t.Helper()
	var mu sync.Mutex
	var got []interim
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			got = append(got, interim{code, http.Header(h).Clone()})
			mu.Unlock()
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader("x"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got, resp, string(b)
}

func checkHints(t *testing.T, got []interim, resp *http.Response, body, method string) {
	t.Helper()
	if len(got) != 1 || got[0].code != http.StatusEarlyHints || got[0].h.Get("Link") != "</style.css>; rel=preload; as=style" {
		t.Fatalf("%s: interim responses %+v, want one 103 with the origin's Link", method, got)
	}
	if got[0].h.Get("X-Cache") != "" || got[0].h.Get("X-Strata-Pop") != "" {
		t.Fatalf("%s: Strata's fields in the 103: %v", method, got[0].h)
	}
	if resp.StatusCode != 200 || body != "final "+method || resp.Header.Get("Link") != "" || resp.Header.Get("X-Cache") == "" {
		t.Fatalf("%s: final %d %q, Link %q, X-Cache %q", method, resp.StatusCode, body, resp.Header.Get("Link"), resp.Header.Get("X-Cache"))
	}
}

// A 103 from the origin reaches an HTTP/1.1 viewer, before the final
// response and apart from it: for a request passed to the origin, and for
// the viewer whose miss started a cached fetch. It is never stored: the
// hit that follows gets the final response alone.
func TestEarlyHintsForwardedHTTP1(t *testing.T) {
	w := newWorld(t, hintsOrigin, nil)
	got, resp, body := doTraced(t, w.client, http.MethodPost, w.url+"/page")
	checkHints(t, got, resp, body, http.MethodPost)

	got, resp, body = doTraced(t, w.client, http.MethodGet, w.url+"/cached")
	checkHints(t, got, resp, body, http.MethodGet)
	got, resp, body = doTraced(t, w.client, http.MethodGet, w.url+"/cached")
	if len(got) != 0 || resp.StatusCode != 200 || body != "final GET" || resp.Header.Get("Link") != "" ||
		resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("cached GET: interim %+v, final %d %q %q", got, resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	if c := w.origin.count("/cached"); c != 1 {
		t.Fatalf("origin asked %d times for the cached object", c)
	}
}

// The same over HTTP/2 (the listener's x/net/http2 server).
func TestEarlyHintsForwardedHTTP2(t *testing.T) {
	w := newWorld(t, hintsOrigin, nil)
	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _, err := ca.EnsureLeaf(dir, "leaf", []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := listener.New(listener.Options{Handler: w.pop, ReadHeaderTimeout: 5 * time.Second,
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
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	got, resp, body := doTraced(t, c, http.MethodPost, "https://"+ln.Addr().String()+"/page")
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s", resp.Proto)
	}
	checkHints(t, got, resp, body, http.MethodPost)
}

// rawViewer writes a request by hand and reads response heads by line.
func rawViewer(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readHead reads one response head and returns its status line.
func readHead(t *testing.T, br *bufio.Reader) (string, http.Header) {
	t.Helper()
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("reading a status line: %v", err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading a head: %v", err)
	}
	return line, http.Header(h)
}

// An HTTP/1.0 viewer gets no interim response (RFC 9110 15.2).
func TestNoInterimToHTTP10(t *testing.T) {
	w := newWorld(t, hintsOrigin, nil)
	c, br := rawViewer(t, w.url)
	io.WriteString(c, "POST /page HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
	if line, _ := readHead(t, br); !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("HTTP/1.0 viewer got %q first", line)
	}
}

// 100 Continue: a viewer that sends Expect: 100-continue gets one 100 when
// the origin agrees, then the final response; when the origin answers at
// once with a refusal, the viewer gets the refusal without a 100 and never
// has to send its body.
func TestExpectContinueRelayed(t *testing.T) {
	// An origin of its own: the test origin reads every body first.
	origin := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(rw, "got "+string(b))
	}))
	t.Cleanup(origin.Close)
	w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
		c.Distributions[0].Origins[0].URL = origin.URL
	})

	c, br := rawViewer(t, w.url)
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	if line, _ := readHead(t, br); line != "HTTP/1.1 100 Continue" {
		t.Fatalf("first head %q, want 100 Continue", line)
	}
	io.WriteString(c, "hello")
	line, h := readHead(t, br)
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") || h.Get("Content-Length") != "9" {
		t.Fatalf("final %q %v", line, h)
	}
	if b := make([]byte, 9); func() bool { _, err := io.ReadFull(br, b); return err != nil || string(b) != "got hello" }() {
		t.Fatal("body not relayed")
	}

	c, br = rawViewer(t, w.url)
	io.WriteString(c, "POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	if line, _ := readHead(t, br); !strings.HasPrefix(line, "HTTP/1.1 401 ") {
		t.Fatalf("refused upload: first head %q, want the origin's 401", line)
	}
}

// Through a tiered world: a request that is not cached goes from the edge
// straight to the origin, and the edge relays the 103; a cached miss at the
// edge and its regional parent gets the origin's 103 relayed by both; an
// edge miss that the parent answers from its copy gets none.
func TestEarlyHintsThroughTiers(t *testing.T) {
	n := newNetwork(t, 2, 0, hintsOrigin, nil)
	got, resp, body := doTraced(t, http.DefaultClient, http.MethodPost, n.urls["EA1"]+"/page")
	checkHints(t, got, resp, body, http.MethodPost)
	if resp.Header.Get("X-Strata-Pop") != "EA1" {
		t.Fatalf("served by %q", resp.Header.Get("X-Strata-Pop"))
	}
	got, resp, body = doTraced(t, http.DefaultClient, http.MethodGet, n.urls["EA1"]+"/cached")
	checkHints(t, got, resp, body, http.MethodGet)
	got, resp, _ = doTraced(t, http.DefaultClient, http.MethodGet, n.urls["EA2"]+"/cached")
	if len(got) != 0 || resp.Header.Get(servedByHeader) != "RA1" {
		t.Fatalf("regional hit: interim %+v, served by %q", got, resp.Header.Get(servedByHeader))
	}
	if c := n.origin.count("/cached"); c != 1 {
		t.Fatalf("origin asked %d times", c)
	}
}
