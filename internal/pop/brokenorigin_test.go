package pop

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// rawOrigin is a TCP server that answers each request by its path with
// exactly the bytes (or the misbehaviour) a test asks for.
type rawOrigin struct {
	ln      net.Listener
	mu      sync.Mutex
	count   map[string]int
	mode    map[string]string // path -> mode, changeable during a test
	release chan struct{}     // ends the "hang" mode
	unhang  func()            // closes release (once)
}

func newRawOrigin(t *testing.T) *rawOrigin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln, count: map[string]int{}, mode: map[string]string{}, release: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(o.release) }) }) // first: no hanging handler outlives the test
	o.unhang = func() { once.Do(func() { close(o.release) }) }
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
	case "plain": // no stale directives, a validator
		io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=1\r\nETag: \"v1\"\r\nConnection: close\r\nContent-Length: 4\r\n\r\ngood")
	case "plain-sie0": // the origin forbids stale on error
		io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=1, stale-if-error=0\r\nETag: \"v1\"\r\nConnection: close\r\nContent-Length: 4\r\n\r\ngood")
	case "500":
		io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfail")
	case "notmodified":
		io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n")
	case "hang": // reads the request, answers only when released
		<-o.release
		io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nConnection: close\r\nContent-Length: 5\r\n\r\nfresh")
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
		// orAborted: the status, or (when the viewer's copy flushed the
		// first bytes before the fetch saw the failure) an aborted response.
		orAborted bool
	}{
		{"/refused", "", http.StatusBadGateway, false},
		{"/garbage", "garbage", http.StatusBadGateway, false},
		{"/stall", "stall", http.StatusGatewayTimeout, false},
		{"/short", "short", 0, false},
		{"/reset", "reset", 0, false},
		// The origin's first chunk and the broken one come together: when
		// the fetch sees the failure before the viewer's copy flushed the
		// first chunk, a clean 502; when the flush won the race, the head
		// is out and the response is aborted. Never a complete body, and
		// never stored (both checked below).
		{"/badchunk", "badchunk", http.StatusBadGateway, true},
	} {
		o.set(tc.path, tc.mode)
		// try makes one request and checks it fails as it should.
		try := func() {
			req, _ := http.NewRequest("GET", w.url+tc.path, nil)
			resp, err := w.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.orAborted && resp.StatusCode == http.StatusOK {
				if rerr == nil {
					t.Fatalf("%s: a %d-byte body read as complete", tc.path, len(body))
				}
				return
			}
			if tc.status != 0 {
				if resp.StatusCode != tc.status || resp.Header.Get("X-Cache") != "Error from strata" || rerr != nil {
					t.Fatalf("%s: %d %q %v, want %d Error from strata", tc.path, resp.StatusCode, resp.Header.Get("X-Cache"), rerr, tc.status)
				}
				return
			}
			if rerr == nil {
				t.Fatalf("%s: a %d-byte body read as complete (status %d)", tc.path, len(body), resp.StatusCode)
			}
			if !errors.Is(rerr, io.ErrUnexpectedEOF) && !strings.Contains(rerr.Error(), "unexpected EOF") {
				t.Logf("%s: body error %v", tc.path, rerr)
			}
		}
		try()
		if tc.path == "/refused" {
			try() // nothing stored: the second viewer gets the error too
			continue
		}
		// Nothing is stored: a later request goes to the origin again and
		// fails the same way. A request right after the error may still
		// join the failed flight before it is released (collapsing, as
		// for any request during the fetch), so poll until one reaches
		// the origin, checking every answer on the way.
		waitFor(t, 20*time.Second, func() bool { try(); return o.hits(tc.path) >= 2 })
		if n := o.hits(tc.path); n != 2 {
			t.Fatalf("%s: origin asked %d times, want 2 (nothing stored)", tc.path, n)
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

// An origin that dies, answers 500 or hangs leaves an expired object that
// had no stale directives served stale (CloudFront's default), within the
// origin's connection timeout (1 s here; the read timeout is the default
// 30 s), and the copy survives for the next viewer. A hanging fetch goes on
// in the background and its result is stored.
func TestStaleOnOriginFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(o *rawOrigin)
	}{
		{"dies", func(o *rawOrigin) { o.ln.Close() }},
		{"500", func(o *rawOrigin) { o.set("/obj", "500") }},
		{"hang", func(o *rawOrigin) { o.set("/obj", "hang") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newRawOrigin(t)
			o.set("/obj", "plain")
			w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
				c.Distributions[0].Origins = []config.Origin{{ID: "o", URL: "http://" + o.ln.Addr().String(),
					ConnectionTimeout: config.Duration(time.Second)}}
			})
			if r := w.get("/obj"); r.status != 200 || r.body != "good" {
				t.Fatalf("warm-up: %d %q", r.status, r.body)
			}
			w.clock.Advance(2 * time.Second) // past max-age=1
			tc.fault(o)
			for i := 0; i < 3; i++ {
				start := time.Now()
				r := w.get("/obj")
				took := time.Since(start)
				cs := r.header.Get("Cache-Status")
				if r.status != 200 || r.body != "good" || !strings.Contains(cs, "fwd=stale") || !strings.Contains(cs, "stale-if-error") {
					t.Fatalf("request %d: %d %q Cache-Status %q, want the stale copy", i, r.status, r.body, cs)
				}
				expectXCache(t, r, "Hit")
				if took > 10*time.Second {
					t.Fatalf("request %d: stale copy after %v, want it well before the 30 s read timeout", i, took)
				}
				t.Logf("request %d: stale copy after %v", i, took.Round(time.Millisecond))
			}
			if tc.name != "hang" {
				return
			}
			// The fetch that hung is still running: released, its answer is
			// stored without another origin request.
			o.unhang()
			waitFor(t, 5*time.Second, func() bool { return w.get("/obj").body == "fresh" })
			r := w.get("/obj")
			expectXCache(t, r, "Hit")
			if n := o.hits("/obj"); n != 2 {
				t.Fatalf("origin asked %d times, want 2 (the hanging fetch's answer stored)", n)
			}
		})
	}
}

// Stale on error is refused by the cache policy's defaultStaleIfError: 0
// and by an origin's stale-if-error=0: the 500 goes to the viewer. Either
// way the good copy is kept, and revalidates (304) once the origin is back.
func TestStaleOnOriginErrorRefused(t *testing.T) {
	o := newRawOrigin(t)
	w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
		c.Distributions[0].Origins = []config.Origin{{ID: "o", URL: "http://" + o.ln.Addr().String()}}
		c.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/never/*", TargetOriginID: "o", CachePolicyID: "never"}}
		zero, def, maxTTL := int64(0), int64(3600), int64(86400)
		c.CachePolicies = append(c.CachePolicies, config.CachePolicy{ID: "never", DefaultTTL: &def, MaxTTL: &maxTTL, DefaultStaleIfError: &zero})
	})
	for _, tc := range []struct{ path, mode string }{{"/never/obj", "plain"}, {"/sie0", "plain-sie0"}} {
		o.set(tc.path, tc.mode)
		if r := w.get(tc.path); r.status != 200 || r.body != "good" {
			t.Fatalf("%s warm-up: %d %q", tc.path, r.status, r.body)
		}
		w.clock.Advance(2 * time.Second)
		o.set(tc.path, "500")
		r := w.get(tc.path)
		if r.status != 500 || r.body != "fail" {
			t.Fatalf("%s: %d %q, want the origin's 500", tc.path, r.status, r.body)
		}
		expectXCache(t, r, "Error")
		o.set(tc.path, "notmodified")
		r = w.get(tc.path)
		if r.status != 200 || r.body != "good" {
			t.Fatalf("%s after the 500: %d %q, want the kept copy revalidated", tc.path, r.status, r.body)
		}
		expectXCache(t, r, "RefreshHit")
	}
}

// The same through a tiered world (edge EA1 and EA2 under regional RA1):
// once the objects expire (max-age=1, real time), an origin that dies,
// answers 500 or hangs leaves EA1's copy served stale, EA2, which never had
// a copy, gets the regional cache's, and the copies survive.
func TestStaleOnOriginFaultThroughTiers(t *testing.T) {
	for _, fault := range []string{"dies", "500", "hang"} {
		t.Run(fault, func(t *testing.T) {
			var mode atomic.Value
			mode.Store("good")
			release := make(chan struct{})
			n := newNetwork(t, 2, 0, func(rw http.ResponseWriter, r *http.Request) {
				switch mode.Load() {
				case "500":
					rw.WriteHeader(http.StatusInternalServerError)
					io.WriteString(rw, "fail")
					return
				case "hang":
					<-release
				}
				rw.Header().Set("Cache-Control", "max-age=1")
				io.WriteString(rw, "good")
			}, func(c *config.Config) {
				c.Distributions[0].Origins[0].ConnectionTimeout = config.Duration(time.Second)
			})
			t.Cleanup(func() { close(release) }) // before the origin closes
			if r := n.get("EA1", "/obj"); r.status != 200 || r.body != "good" {
				t.Fatalf("warm-up: %d %q", r.status, r.body)
			}
			switch fault {
			case "dies":
				n.origin.Close()
			default:
				mode.Store(fault)
			}
			check := func(id string, r response, took time.Duration) {
				t.Helper()
				if r.status != 200 || r.body != "good" {
					t.Fatalf("%s: %d %q (Cache-Status %q), want the copy", id, r.status, r.body, r.header.Values("Cache-Status"))
				}
				if took > 10*time.Second {
					t.Fatalf("%s: answered after %v, want well before the 30 s read timeout", id, took)
				}
			}
			// Hits until the copy expires, then the stale copy.
			waitFor(t, 15*time.Second, func() bool {
				start := time.Now()
				r := n.get("EA1", "/obj")
				check("EA1", r, time.Since(start))
				return strings.Contains(strings.Join(r.header.Values("Cache-Status"), ", "), "stale-if-error")
			})
			for _, id := range []string{"EA2", "EA1", "EA2"} {
				start := time.Now()
				r := n.get(id, "/obj")
				check(id, r, time.Since(start))
				if cs := strings.Join(r.header.Values("Cache-Status"), ", "); !strings.Contains(cs, "stale-if-error") {
					t.Fatalf("%s: Cache-Status %q does not say a stale copy was served", id, cs)
				}
			}
		})
	}
}
