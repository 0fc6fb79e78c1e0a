package pop

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// gatedOrigin answers /slow only when the test lets a request through, and
// records how many /slow requests it holds at once.
type gatedOrigin struct {
	proceed       chan struct{}
	current, peak atomic.Int64
}

func (g *gatedOrigin) handler(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/slow") {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, "cached object")
		return
	}
	n := g.current.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer g.current.Add(-1)
	select {
	case <-g.proceed:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	fmt.Fprint(w, "slow "+r.URL.RawQuery)
}

// A cache-busting flood (distinct query strings) against a slow origin: the
// origin never holds more requests than the per-origin cap, the excess gets
// 503 with Retry-After from Strata, and a cached object keeps being served.
func TestOriginFetchCapUnderCacheBustingFlood(t *testing.T) {
	g := &gatedOrigin{proceed: make(chan struct{})}
	const perOrigin, flood = 4, 40
	w := newWorldOpts(t, g.handler, nil, Options{MaxOriginFetches: 64, MaxOriginFetchesPerOrigin: perOrigin,
		OriginQueueTimeout: 100 * time.Millisecond})
	if r := w.get("/cached"); r.status != 200 {
		t.Fatalf("priming: %d", r.status)
	}
	var wg sync.WaitGroup
	results := make(chan response, flood)
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- w.get(fmt.Sprintf("/slow?bust=%d", i))
		}()
	}
	// Every request over the cap is refused while the origin holds the
	// first ones; the probe for the cached object is served meanwhile.
	var refused int
	probes := 0
	giveUp := time.After(60 * time.Second) // a bound on failure, not a speed requirement
	for refused < flood-perOrigin {
		select {
		case <-giveUp:
			t.Fatalf("only %d of %d flood requests refused; origin holds %d", refused, flood-perOrigin, g.current.Load())
		case r := <-results:
			if r.status != http.StatusServiceUnavailable {
				t.Fatalf("flood request answered %d while the origin is held, want 503: %q", r.status, r.body)
			}
			if ra := r.header.Get("Retry-After"); ra != "1" {
				t.Fatalf("Retry-After = %q, want 1", ra)
			}
			if !strings.Contains(r.header.Get("X-Cache"), "Error from strata") {
				t.Fatalf("X-Cache = %q", r.header.Get("X-Cache"))
			}
			refused++
		default:
			r := w.get("/cached")
			if r.status != 200 || r.body != "cached object" {
				t.Fatalf("probe: %d %q", r.status, r.body)
			}
			expectXCache(t, r, "Hit")
			probes++
		}
	}
	if got := g.current.Load(); got != perOrigin {
		t.Fatalf("origin holds %d requests, want the cap %d", got, perOrigin)
	}
	close(g.proceed)
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != 200 || !strings.HasPrefix(r.body, "slow bust=") {
			t.Fatalf("a request holding a slot: %d %q", r.status, r.body)
		}
	}
	if p := g.peak.Load(); p != perOrigin {
		t.Fatalf("origin peak concurrency %d, want %d", p, perOrigin)
	}
	if w.pop.originLimit.InFlight() != 0 {
		t.Fatalf("%d slots still held after every response ended", w.pop.originLimit.InFlight())
	}
	if got := w.pop.originLimit.Refused(); got != flood-perOrigin {
		t.Fatalf("limiter refused %d, want %d", got, flood-perOrigin)
	}
	t.Logf("%d probes served from cache during the flood", probes)
}

// A fetch over the cap waits in the queue and gets the slot a finished
// fetch gives back; passed requests (POST) count too.
func TestOriginFetchQueue(t *testing.T) {
	g := &gatedOrigin{proceed: make(chan struct{})}
	w := newWorldOpts(t, g.handler, nil, Options{MaxOriginFetches: 2, MaxOriginFetchesPerOrigin: 2,
		OriginQueueTimeout: time.Hour})
	results := make(chan response, 3)
	for i, m := range []string{"GET", "POST", "GET"} {
		go func() { results <- w.do(m, fmt.Sprintf("/slow?q=%d", i)) }()
	}
	waitFor(t, 10*time.Second, func() bool { return g.current.Load() == 2 })
	for range 3 {
		g.proceed <- struct{}{} // one at a time: the third reaches the origin only after one ended
	}
	for range 3 {
		if r := <-results; r.status != 200 {
			t.Fatalf("status %d %q", r.status, r.body)
		}
	}
	if p := g.peak.Load(); p != 2 {
		t.Fatalf("origin peak concurrency %d, want 2", p)
	}
}

// A request body trickled at 10 bytes/s, steady enough never to trip the
// per-read timeout (an hour here), is cut with 408 by the minimum rate; a
// body sent at once passes.
func TestMinRequestBodyRate(t *testing.T) {
	w := newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {}, nil,
		Options{RequestBodyTimeout: time.Hour, MinRequestBodyRate: 1000, BufferedBodySize: 1 << 10})
	for _, size := range []int{100, 100_000} { // buffered, and streamed to the origin
		c, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second)) // a bound on failure only
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		stop := make(chan struct{})
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}
		}()
		line, _ := readHead(t, bufio.NewReader(c))
		close(stop)
		if !strings.HasPrefix(line, "HTTP/1.1 408 ") {
			t.Fatalf("%d-byte body at 10 B/s: %q, want 408", size, line)
		}
	}
	if n := w.origin.count("/up"); n != 0 {
		// The streamed one may have reached the origin; the request must
		// not have completed there with a truncated body.
		if b := w.origin.lastBody("/up"); len(b) == 100_000 {
			t.Fatalf("origin got the whole body")
		}
	}
	if r := w.doBody("POST", "/up", strings.NewReader(strings.Repeat("y", 100_000))); r.status != 200 {
		t.Fatalf("a body sent at once: %d %q", r.status, r.body)
	}
}

// 200 viewers that send part of a small body and stall hold no origin
// connection: the body is read whole before the origin request starts.
func TestSlowBodiesHoldNoOriginConnections(t *testing.T) {
	var conns atomic.Int64
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	origin.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	origin.Start()
	t.Cleanup(origin.Close)
	w := newWorldOpts(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
		c.Distributions[0].Origins[0].URL = origin.URL
	}, Options{RequestBodyTimeout: 2 * time.Second})
	const n = 200
	var wg sync.WaitGroup
	statuses := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
			if err != nil {
				statuses <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			io.WriteString(c, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\nname=slow&")
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				statuses <- err.Error()
				return
			}
			statuses <- strings.TrimSpace(line)
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if !strings.HasPrefix(s, "HTTP/1.1 408 ") {
			t.Fatalf("a stalled body: %q, want 408", s)
		}
	}
	if got := conns.Load(); got != 0 {
		t.Fatalf("%d slow bodies opened origin connections, want 0", got)
	}
	if r := w.doBody("POST", "/form", strings.NewReader("name=fast")); r.status != 200 {
		t.Fatalf("a whole body: %d", r.status)
	}
	if got := conns.Load(); got != 1 {
		t.Fatalf("origin connections %d after one whole body, want 1", got)
	}
}
