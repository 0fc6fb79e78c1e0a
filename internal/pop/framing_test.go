package pop

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// rawExchange writes raw bytes to the PoP and returns the first response
// and whether the connection was closed after it.
func rawExchange(t *testing.T, url, raw string) (*http.Response, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp, err != nil
}

func TestSmugglingRefusedBeforeTheOrigin(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "origin") }, nil)
	cases := []struct {
		name, raw string
		status    int
	}{
		{"CL and TE", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked twice", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
		{"unknown coding", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"differing CL", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"obs-fold", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
		{"bare LF", "GET /x HTTP/1.1\nHost: a\n\n", 400},
		{"bare CR", "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400},
		{"space before colon", "GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
		{"absolute-form disagrees with Host", "GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"no Host", "GET /x HTTP/1.1\r\n\r\n", 400},
		{"oversized header", "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, closed := rawExchange(t, w.url, c.raw)
			if resp.StatusCode != c.status || !closed {
				t.Fatalf("status %d closed %v; want %d and closed", resp.StatusCode, closed, c.status)
			}
		})
	}
	if n := w.origin.count("/x"); n != 0 {
		t.Fatalf("the origin saw %d refused requests", n)
	}
}

func TestOnlyWebSocketUpgradeForwarded(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "upgrade="+r.Header.Get("Upgrade")+" connection="+r.Header.Get("Connection"))
	}, func(c *config.Config) {
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "Managed-AllViewer"
	})
	r := w.get("/u", "Upgrade", "h2c", "Connection", "Upgrade, HTTP2-Settings", "HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")
	if r.body != "upgrade= connection=" {
		t.Fatalf("h2c upgrade forwarded: %q", r.body)
	}
	if w.origin.lastReq("/u").Header.Get("Http2-Settings") != "" {
		t.Fatal("a header listed in Connection reached the origin")
	}
}

func TestAbsoluteFormAgreeingWithHost(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "path="+r.URL.Path) }, nil)
	resp, _ := rawExchange(t, w.url, "GET http://a.example/p HTTP/1.1\r\nHost: a.example\r\n\r\n")
	if resp.StatusCode != 200 || w.origin.count("/p") != 1 {
		t.Fatalf("absolute-form: %d", resp.StatusCode)
	}
}
