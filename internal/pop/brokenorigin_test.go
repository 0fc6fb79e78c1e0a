package pop

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// rawOrigin is a TCP server that answers each request by its path with
// exactly the bytes (or the misbehaviour) a test asks for.
type rawOrigin struct {
	ln    net.Listener
	mu    sync.Mutex
	count map[string]int
	mode  map[string]string // path -> mode, changeable during a test
}

func newRawOrigin(t *testing.T) *rawOrigin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln, count: map[string]int{}, mode: map[string]string{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.serve(c)
		}
	}()
	return o
}

func (o *rawOrigin) set(path, mode string) {
	o.mu.Lock()
	o.mode[path] = mode
	o.mu.Unlock()
}

func (o *rawOrigin) hits(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

func (o *rawOrigin) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	o.mu.Lock()
	o.count[req.URL.Path]++
	mode := o.mode[req.URL.Path]
	o.mu.Unlock()
	head := "HTTP/1.1 200 OK\r\nCache-Control: max-age=1, stale-if-error=600\r\nConnection: close\r\n"
	switch mode {
	case "good":
		io.WriteString(c, head+"Content-Length: 4\r\n\r\ngood")
	case "garbage":
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n")
	case "short": // promises 100 bytes, sends 10, closes
		io.WriteString(c, head+"Content-Length: 100\r\n\r\n0123456789")
	case "reset": // some body, then a TCP reset
		io.WriteString(c, head+"Content-Length: 100000\r\n\r\n"+strings.Repeat("x", 5000))
		time.Sleep(50 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
	case "badchunk":
		io.WriteString(c, head+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	case "stall": // accepts, never answers (the read timeout is 1 s)
		time.Sleep(3 * time.Second)
	}
}

// A broken origin gives the viewer a 502/504 with X-Cache: Error from
// strata or an aborted response (never a short body presented as
// complete), stores nothing, and never replaces a good cached copy, which
// stale-if-error serves.
func TestBrokenOrigins(t *testing.T) {
	o := newRawOrigin(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
		d := &c.Distributions[0]
		d.Origins = []config.Origin{
			{ID: "o", URL: "http://" + o.ln.Addr().String(), CustomOriginConfig: &config.CustomOriginConfig{OriginReadTimeout: config.Duration(time.Second)}},
			{ID: "dead", URL: deadURL, ConnectionAttempts: 1, ConnectionTimeout: config.Duration(time.Second)},
		}
		d.CacheBehaviors = []config.CacheBehavior{{PathPattern: "/refused", TargetOriginID: "dead", CachePolicyID: "p"}}
	})
	for _, tc := range []struct {
		path, mode string
		status     int // 0: the head went out, then the response is aborted
	}{
		{"/refused", "", http.StatusBadGateway},
		{"/garbage", "garbage", http.StatusBadGateway},
		{"/stall", "stall", http.StatusGatewayTimeout},
		{"/short", "short", 0},
		{"/reset", "reset", 0},
		// Nothing went out before the failure (a chunked body is held back
		// until more than a few KiB arrive): a clean 502 instead.
		{"/badchunk", "badchunk", http.StatusBadGateway},
	} {
		o.set(tc.path, tc.mode)
		for i := 0; i < 2; i++ { // the second request must not find anything stored
			req, _ := http.NewRequest("GET", w.url+tc.path, nil)
			resp, err := w.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.status != 0 {
				if resp.StatusCode != tc.status || resp.Header.Get("X-Cache") != "Error from strata" || rerr != nil {
					t.Fatalf("%s: %d %q %v, want %d Error from strata", tc.path, resp.StatusCode, resp.Header.Get("X-Cache"), rerr, tc.status)
				}
				continue
			}
			if rerr == nil {
				t.Fatalf("%s: a %d-byte body read as complete (status %d)", tc.path, len(body), resp.StatusCode)
			}
			if !errors.Is(rerr, io.ErrUnexpectedEOF) && !strings.Contains(rerr.Error(), "unexpected EOF") {
				t.Logf("%s: body error %v", tc.path, rerr)
			}
		}
		if tc.path != "/refused" && o.hits(tc.path) != 2 {
			t.Fatalf("%s: origin asked %d times, want 2 (nothing stored)", tc.path, o.hits(tc.path))
		}
	}

	// A good copy, stale now, survives every kind of failure. An origin that
	// does not answer with a response gets it served (stale-if-error); one
	// whose body breaks after its head gets an aborted response (its head
	// was already on the way), and the good copy stays for the next viewer.
	o.set("/kept", "good")
	if r := w.get("/kept"); r.status != 200 || r.body != "good" {
		t.Fatalf("/kept: %d %q", r.status, r.body)
	}
	staleServed := func(why string) {
		t.Helper()
		w.clock.Advance(2 * time.Second) // past max-age=1, within stale-if-error
		o.set("/kept", "garbage")
		r := w.get("/kept")
		if r.status != 200 || r.body != "good" || !strings.Contains(r.header.Get("Cache-Status"), "stale-if-error") {
			t.Fatalf("/kept %s: %d %q %q", why, r.status, r.body, r.header.Get("Cache-Status"))
		}
	}
	staleServed("with a garbage origin")
	for _, mode := range []string{"stall", "short", "reset", "badchunk"} {
		w.clock.Advance(2 * time.Second)
		o.set("/kept", mode)
		req, _ := http.NewRequest("GET", w.url+"/kept", nil)
		resp, err := w.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && string(body) != "good" && resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("/kept with the origin %s: %d %q read as complete", mode, resp.StatusCode, body)
		}
		staleServed("after an origin " + mode)
	}
}
