package pop

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// rawResponses is a TCP origin that answers each request with the bytes
// given for its path, then closes the connection.
func rawResponses(t *testing.T, answers map[string]string) (url string, hits func(string) int, set func(path, raw string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	count := map[string]int{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				mu.Lock()
				count[req.URL.Path]++
				raw := answers[req.URL.Path]
				mu.Unlock()
				io.WriteString(c, raw)
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func(p string) int {
			mu.Lock()
			defer mu.Unlock()
			return count[p]
		}, func(p, raw string) {
			mu.Lock()
			answers[p] = raw
			mu.Unlock()
		}
}

// Transfer codings from the origin (RFC 9112 6, 7). Go's HTTP client, which
// Strata's origin connections use, decodes chunked and nothing else: a
// response framed with another coding (gzip, chunked), or with chunked
// twice, is refused with a 502 that says why, never relayed with its
// coding's bytes as the content, and never stored. What RFC 9112 allows and
// the client can read is relayed: chunked in any letter case, and chunked
// with a Content-Length, which chunked overrides (the Content-Length is
// dropped).
func TestOriginTransferCodings(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Type: text/plain\r\n"
	chunked := "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	url, hits, set := rawResponses(t, map[string]string{
		"/chunked":  head + "Transfer-Encoding: chunked\r\n\r\n" + chunked,
		"/case":     head + "Transfer-Encoding: Chunked\r\n\r\n" + chunked,
		"/and-cl":   head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + chunked,
		"/gzip":     head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked,
		"/twice":    head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
		"/list":     head + "Transfer-Encoding: chunked, chunked\r\n\r\n" + chunked,
		"/identity": head + "Transfer-Encoding: identity\r\n\r\nhello world",
		// RFC 9112 6.1: faulty framing, which net/http would read to close.
		"/http10-te": "HTTP/1.0 200 OK\r\nCache-Control: max-age=600\r\ntransfer-encoding: chunked\r\n\r\n" + chunked,
		"/http10":    "HTTP/1.0 200 OK\r\nCache-Control: max-age=600\r\nContent-Type: text/plain\r\n\r\nhello world",
	})
	w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
		c.Distributions[0].Origins[0].URL = url
	})
	for _, path := range []string{"/chunked", "/case", "/and-cl", "/http10"} {
		for i := 0; i < 2; i++ {
			r := w.get(path)
			// A miss streams (chunked to the viewer); the hit has the decoded length.
			if r.status != 200 || r.body != "hello world" || (i == 1 && r.header.Get("Content-Length") != "11") {
				t.Fatalf("%s (request %d): %d %q, Content-Length %q", path, i+1, r.status, r.body, r.header.Get("Content-Length"))
			}
		}
		if hits(path) != 1 {
			t.Fatalf("%s: origin asked %d times, want 1 (stored)", path, hits(path))
		}
	}
	for _, path := range []string{"/gzip", "/twice", "/list", "/identity", "/http10-te"} {
		for i := 0; i < 2; i++ {
			r := w.get(path)
			if r.status != http.StatusBadGateway || r.header.Get("X-Cache") != "Error from strata" ||
				!strings.Contains(r.body, "transfer coding") || strings.Contains(r.body, "hello") {
				t.Fatalf("%s (request %d): %d %q %q", path, i+1, r.status, r.header.Get("X-Cache"), r.body)
			}
		}
		// Nothing stored: a later request goes to the origin again (one that
		// comes while the failed fetch is still ending shares its error).
		before := hits(path)
		waitFor(t, 5*time.Second, func() bool { w.get(path); return hits(path) > before })
	}
	// A stale copy within stale-if-error is served rather than the 502.
	set("/kept", "HTTP/1.1 200 OK\r\nCache-Control: max-age=1, stale-if-error=600\r\nContent-Length: 4\r\n\r\ngood")
	if r := w.get("/kept"); r.body != "good" {
		t.Fatalf("/kept: %d %q", r.status, r.body)
	}
	w.clock.Advance(2 * time.Second)
	set("/kept", head+"Transfer-Encoding: gzip, chunked\r\n\r\n"+chunked)
	if r := w.get("/kept"); r.status != 200 || r.body != "good" || !strings.Contains(r.header.Get("Cache-Status"), "stale-if-error") || hits("/kept") != 2 {
		t.Fatalf("/kept after a gzip-coded answer: %d %q %q", r.status, r.body, r.header.Get("Cache-Status"))
	}
}
