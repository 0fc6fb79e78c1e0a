package pop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/testutil"
)

// wsWorld is one PoP, served by the h1 listener (plain or TLS), in front of
// one origin server (plain or TLS) that speaks WebSocket.
type wsWorld struct {
	t      *testing.T
	pop    *PoP
	url    string // ws://… or wss://…
	origin *httptest.Server
	client *http.Client // trusts the PoP's certificate
	logs   *testutil.SyncBuffer
	hits   atomic.Int64 // requests that reached the origin
	last   atomic.Pointer[http.Request]
}

type wsOptions struct {
	viewerTLS, originTLS bool
	idle                 time.Duration
	mutate               func(*config.Config)
	originURL            string   // instead of the origin server (an origin that is down)
	tp                   topology // the PoP's parent tiers (tiered_features_test.go); none in the zero value
}

func newWSWorld(t *testing.T, h http.HandlerFunc, o wsOptions) *wsWorld {
	t.Helper()
	w := &wsWorld{t: t, logs: &testutil.SyncBuffer{}}
	counted := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		w.last.Store(r.Clone(context.Background()))
		h(rw, r)
	})
	if o.originTLS {
		w.origin = httptest.NewTLSServer(counted)
	} else {
		w.origin = httptest.NewServer(counted)
	}
	t.Cleanup(w.origin.Close)
	url := w.origin.URL
	if o.originURL != "" {
		url = o.originURL
	}
	cfg := testConfig(url, func(c *config.Config) {
		if o.originTLS {
			bundle := filepath.Join(t.TempDir(), "ca.pem")
			os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.origin.Certificate().Raw}), 0o644)
			c.Distributions[0].Origins[0].CustomOriginConfig = &config.CustomOriginConfig{CABundle: bundle}
		}
		if o.mutate != nil {
			o.mutate(c)
		}
	})
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	opts := Options{ID: "WS1", DefaultDistribution: "d", WebSocketIdleTimeout: o.idle,
		Logger: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	o.tp.underParents(t, cfg, &opts)
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	w.pop = p

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	scheme := "ws"
	if o.viewerTLS {
		cert, pool := testutil.TLSCert(t, "127.0.0.1")
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		scheme = "wss"
	}
	srv := &h1.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(tr.CloseIdleConnections)
	w.url = scheme + "://" + ln.Addr().String()
	w.client = &http.Client{Transport: tr}
	return w
}

// accessLine waits for the access log line of the WebSocket at path.
func (w *wsWorld) accessLine(path string) string {
	w.t.Helper()
	var line string
	waitFor(w.t, 10*time.Second, func() bool {
		for _, l := range strings.Split(w.logs.String(), "\n") {
			if strings.Contains(l, "msg=request") && strings.Contains(l, "path="+path+" ") && strings.Contains(l, "ws_end=") {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

// cleanEnd: a WebSocket whose close handshake went through ends with one
// side closing its connection (the server, usually) and the other following.
var cleanEnd = regexp.MustCompile(` ws_end=(viewer|origin)-closed`)

func logInt(t *testing.T, line, field string) int64 {
	t.Helper()
	m := regexp.MustCompile(` ` + field + `=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s in %q", field, line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// dial opens a WebSocket through the PoP.
func (w *wsWorld) dial(ctx context.Context, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = w.client
	}
	c, resp, err := websocket.Dial(ctx, w.url+path, opts)
	if c != nil {
		c.SetReadLimit(32 << 20)
	}
	return c, resp, err
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoOrigin accepts a WebSocket (subprotocol "chat", compression if the
// viewer offers it) and echoes every message; ended receives the error its
// connection ended with.
func echoOrigin(ended chan<- error) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(rw, r, &websocket.AcceptOptions{Subprotocols: []string{"chat"},
			CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(32 << 20)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for {
			typ, b, err := c.Read(ctx)
			if err == nil {
				err = c.Write(ctx, typ, b)
			}
			if err != nil {
				if ended != nil {
					ended <- err
				}
				return
			}
		}
	}
}

func echo(ctx context.Context, t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg []byte) {
	t.Helper()
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	gt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if gt != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %v %d bytes, want %v %d bytes", gt, len(got), typ, len(msg))
	}
}

// A WebSocket through the edge: ws:// and wss:// viewers, plain and TLS
// origins. The handshake's fields reach the origin, the origin's 101 fields
// (subprotocol, extensions) reach the viewer, messages go both ways, a
// close from the viewer reaches the origin, and the access log has the
// bytes each way.
func TestWebSocketEcho(t *testing.T) { throughTiers(t, testWebSocketEcho) }

func testWebSocketEcho(t *testing.T, tp topology) {
	for _, tc := range []struct {
		name                 string
		viewerTLS, originTLS bool
	}{
		{"ws to http origin", false, false},
		{"wss to http origin", true, false},
		{"ws to https origin", false, true},
		{"wss to https origin", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan error, 1)
			w := newWSWorld(t, echoOrigin(ended), wsOptions{tp: tp, viewerTLS: tc.viewerTLS, originTLS: tc.originTLS})
			ctx := testContext(t)
			c, resp, err := w.dial(ctx, "/chat?room=1", &websocket.DialOptions{Subprotocols: []string{"chat"},
				CompressionMode: websocket.CompressionContextTakeover, HTTPHeader: http.Header{"X-Viewer": {"v"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "chat" ||
				!strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatalf("handshake: %d, subprotocol %q, extensions %q", resp.StatusCode, c.Subprotocol(), resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			if got := resp.Header.Get("X-Cache"); got != "Miss from strata" {
				t.Fatalf("X-Cache = %q", got)
			}
			// Straight from the edge to the origin, whatever tiers are above it.
			if cs := resp.Header.Values("Cache-Status"); len(cs) != 1 || !strings.HasPrefix(cs[0], "Strata-WS1;") {
				t.Fatalf("Cache-Status %q: want the edge's entry only", cs)
			}
			or := w.last.Load()
			if or.Header.Get("X-Viewer") != "v" || or.Header.Get("Sec-WebSocket-Version") != "13" ||
				or.URL.RawQuery != "room=1" || or.Header.Get("X-Forwarded-For") != "127.0.0.1" {
				t.Fatalf("origin got %v %v", or.URL, or.Header)
			}
			var sent int
			for i := range 20 {
				msg := bytes.Repeat([]byte{byte('a' + i)}, 100+i*1000)
				echo(ctx, t, c, websocket.MessageText, msg)
				echo(ctx, t, c, websocket.MessageBinary, msg)
				sent += 2 * len(msg)
			}
			if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-ended:
				if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					t.Fatalf("origin ended with %v, want the viewer's normal closure", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the origin did not see the close")
			}
			waitFor(t, 10*time.Second, func() bool { return w.pop.tunnels.len() == 0 })
			line := w.accessLine("/chat")
			if !strings.Contains(line, "status=101") || !cleanEnd.MatchString(line) {
				t.Fatalf("access log: %s", line)
			}
			// Compressed repetitive messages: each way, more than the frames
			// of the exchange and far less than the raw bytes.
			if in, out := logInt(t, line, "bytes_in"), logInt(t, line, "bytes"); in < 100 || out < 100 || in > int64(sent) || out > int64(sent) {
				t.Fatalf("bytes_in %d, bytes %d (raw payload %d each way)", in, out, sent)
			}
		})
	}
}

// 8 MiB messages each way, uncompressed, over wss.
func TestWebSocketLargeMessages(t *testing.T) { throughTiers(t, testWebSocketLargeMessages) }

func testWebSocketLargeMessages(t *testing.T, tp topology) {
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp, viewerTLS: true})
	ctx := testContext(t)
	c, _, err := w.dial(ctx, "/big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	msg := make([]byte, 8<<20)
	rand.Read(msg)
	for range 2 {
		echo(ctx, t, c, websocket.MessageBinary, msg)
	}
	c.Close(websocket.StatusNormalClosure, "")
	line := w.accessLine("/big")
	if in, out := logInt(t, line, "bytes_in"), logInt(t, line, "bytes"); in < 16<<20 || out < 16<<20 {
		t.Fatalf("bytes_in %d, bytes %d, want at least 16 MiB each", in, out)
	}
}

// 200 WebSockets at once, each exchanging messages of its own.
func TestWebSocketManyConcurrent(t *testing.T) { throughTiers(t, testWebSocketManyConcurrent) }

func testWebSocketManyConcurrent(t *testing.T, tp topology) {
	const sockets, messages = 200, 10
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp})
	ctx := testContext(t)
	var wg sync.WaitGroup
	errc := make(chan error, sockets)
	for i := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := w.dial(ctx, "/many", nil)
			if err != nil {
				errc <- err
				return
			}
			defer c.CloseNow()
			for j := range messages {
				msg := fmt.Appendf(nil, "socket %d message %d %s", i, j, strings.Repeat("x", 1000))
				if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
					errc <- err
					return
				}
				_, got, err := c.Read(ctx)
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errc <- fmt.Errorf("socket %d got %.30q, want %.30q", i, got, msg)
					return
				}
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := w.hits.Load(); n != sockets {
		t.Fatalf("origin saw %d handshakes, want %d", n, sockets)
	}
	waitFor(t, 10*time.Second, func() bool { return w.pop.tunnels.len() == 0 })
}

// The origin closes with a code and a reason: the viewer receives them, its
// close echo gets back to the origin, and both connections end.
func TestWebSocketOriginCloses(t *testing.T) { throughTiers(t, testWebSocketOriginCloses) }

func testWebSocketOriginCloses(t *testing.T, tp topology) {
	closed := make(chan error, 1)
	w := newWSWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, _, err := c.Read(ctx); err != nil {
			closed <- err
			return
		}
		closed <- c.Close(4001, "bye now") // nil once the viewer's echo came back
	}, wsOptions{tp: tp, viewerTLS: true})
	ctx := testContext(t)
	c, _, err := w.dial(ctx, "/close", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("bye?")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye now" {
		t.Fatalf("viewer read: %v, want close 4001 %q", err, "bye now")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("origin's close handshake: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("origin's close did not finish")
	}
	waitFor(t, 10*time.Second, func() bool { return w.pop.tunnels.len() == 0 })
	if line := w.accessLine("/close"); !cleanEnd.MatchString(line) {
		t.Fatalf("access log: %s", line)
	}
}

// A viewer that vanishes (its TCP connection closed under the WebSocket,
// with a FIN or a reset): the origin's connection ends promptly.
func TestWebSocketViewerVanishes(t *testing.T) { throughTiers(t, testWebSocketViewerVanishes) }

func testWebSocketViewerVanishes(t *testing.T, tp topology) {
	for _, tc := range []struct {
		name  string
		reset bool
	}{{"fin", false}, {"reset", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan error, 1)
			w := newWSWorld(t, echoOrigin(ended), wsOptions{tp: tp})
			ctx := testContext(t)
			conns := make(chan net.Conn, 1)
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err == nil {
					conns <- c
				}
				return c, err
			}}}
			c, _, err := w.dial(ctx, "/vanish", &websocket.DialOptions{HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			echo(ctx, t, c, websocket.MessageText, []byte("hello"))
			raw := (<-conns).(*net.TCPConn)
			if tc.reset {
				raw.SetLinger(0)
			}
			raw.Close()
			select {
			case err := <-ended:
				if websocket.CloseStatus(err) != -1 {
					t.Fatalf("origin got a close frame (%v); the viewer sent none", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the origin's connection did not end")
			}
			waitFor(t, 10*time.Second, func() bool { return w.pop.tunnels.len() == 0 })
		})
	}
}

// Silence for the idle timeout closes both connections; traffic keeps a
// WebSocket open past it.
func TestWebSocketIdleTimeout(t *testing.T) { throughTiers(t, testWebSocketIdleTimeout) }

func testWebSocketIdleTimeout(t *testing.T, tp topology) {
	const idle = 1500 * time.Millisecond
	ended := make(chan error, 1)
	w := newWSWorld(t, echoOrigin(ended), wsOptions{tp: tp, idle: idle})
	ctx := testContext(t)
	c, _, err := w.dial(ctx, "/idle", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	start := time.Now()
	var last time.Time // the last bytes moved after this
	for time.Since(start) < 2*idle {
		last = time.Now()
		echo(ctx, t, c, websocket.MessageText, []byte("still here"))
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := c.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("viewer read: %v (context: %v), want the connection closed", err, ctx.Err())
	}
	if d := time.Since(last); d < idle {
		t.Fatalf("closed %v after the last message, before the idle timeout %v", d, idle)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin's connection did not end")
	}
	if line := w.accessLine("/idle"); !strings.Contains(line, "ws_end=idle") {
		t.Fatalf("access log: %s", line)
	}
}

// The origin's read timeout bounds the handshake, not the silence of an
// established WebSocket (that is the idle timeout's).
func TestWebSocketOutlivesOriginReadTimeout(t *testing.T) {
	throughTiers(t, testWebSocketOutlivesOriginReadTimeout)
}

func testWebSocketOutlivesOriginReadTimeout(t *testing.T, tp topology) {
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp, mutate: func(c *config.Config) {
		c.Distributions[0].Origins[0].CustomOriginConfig = &config.CustomOriginConfig{OriginReadTimeout: config.Duration(time.Second)}
	}})
	ctx := testContext(t)
	c, _, err := w.dial(ctx, "/quiet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	echo(ctx, t, c, websocket.MessageText, []byte("before"))
	time.Sleep(2500 * time.Millisecond) // more than twice the read timeout
	echo(ctx, t, c, websocket.MessageText, []byte("after"))
}

// An origin that refuses the upgrade answers the viewer as a normal
// response, which is not cached.
func TestWebSocketOriginRefuses(t *testing.T) { throughTiers(t, testWebSocketOriginRefuses) }

func testWebSocketOriginRefuses(t *testing.T, tp topology) {
	w := newWSWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		http.Error(rw, "not you", http.StatusForbidden)
	}, wsOptions{tp: tp})
	ctx := testContext(t)
	for i := 1; i <= 2; i++ {
		_, resp, err := w.dial(ctx, "/private", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: %v, response %v", err, resp)
		}
		if got := resp.Header.Get("X-Cache"); got != "Error from strata" {
			t.Fatalf("X-Cache = %q", got)
		}
		if n := w.hits.Load(); n != int64(i) {
			t.Fatalf("origin saw %d handshakes after %d attempts", n, i)
		}
	}
}

// An origin that cannot be reached: 502 from Strata.
func TestWebSocketOriginDown(t *testing.T) { throughTiers(t, testWebSocketOriginDown) }

func testWebSocketOriginDown(t *testing.T, tp topology) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String()
	ln.Close()
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp, originURL: down})
	_, resp, err := w.dial(testContext(t), "/x", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dial: %v, response %v", err, resp)
	}
	if got := resp.Header.Get("X-Cache"); got != "Error from strata" {
		t.Fatalf("X-Cache = %q", got)
	}
}

// A handshake goes to the origin group like any request that is not
// cached: a primary that is down fails over to the secondary.
func TestWebSocketOriginGroupFailover(t *testing.T) {
	throughTiers(t, testWebSocketOriginGroupFailover)
}

func testWebSocketOriginGroupFailover(t *testing.T, tp topology) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String()
	ln.Close()
	sec := httptest.NewServer(echoOrigin(nil))
	defer sec.Close()
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp, originURL: down, mutate: func(c *config.Config) {
		d := &c.Distributions[0]
		d.Origins = append(d.Origins, config.Origin{ID: "s", URL: sec.URL})
		d.OriginGroups = []config.OriginGroup{{ID: "g", PrimaryOriginID: "o", SecondaryOriginID: "s",
			FailoverCriteria: config.FailoverCriteria{StatusCodes: []int{502}}}}
		d.DefaultCacheBehavior.TargetOriginID = "g"
	}})
	ctx := testContext(t)
	c, resp, err := w.dial(ctx, "/g", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "failover-s") {
		t.Fatalf("Cache-Status = %q", cs)
	}
	echo(ctx, t, c, websocket.MessageText, []byte("via the secondary"))
}

// Handshakes the edge refuses itself, without asking the origin.
func TestWebSocketBadHandshakes(t *testing.T) { throughTiers(t, testWebSocketBadHandshakes) }

func testWebSocketBadHandshakes(t *testing.T, tp topology) {
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp})
	addr := strings.TrimPrefix(w.url, "ws://")
	for _, tc := range []struct{ name, req string }{
		{"POST", "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"},
		{"PUT", "PUT /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n"},
		{"no Connection: upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
		{"HTTP/1.0", "GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, tc.req)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Cache") != "Error from strata" {
				t.Fatalf("status %d, X-Cache %q", resp.StatusCode, resp.Header.Get("X-Cache"))
			}
		})
	}
	if n := w.hits.Load(); n != 0 {
		t.Fatalf("origin saw %d requests", n)
	}
}

// Bytes the viewer sends right behind its handshake, before the 101 came
// back, are in the listener's buffer when the connection is taken over:
// they reach the origin.
func TestWebSocketBytesBehindHandshake(t *testing.T) {
	throughTiers(t, testWebSocketBytesBehindHandshake)
}

func testWebSocketBytesBehindHandshake(t *testing.T, tp topology) {
	w := newWSWorld(t, echoOrigin(nil), wsOptions{tp: tp})
	c, err := net.Dial("tcp", strings.TrimPrefix(w.url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	payload := []byte("sent before the 101")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload))} // FIN, text; masked, short length
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	req := "GET /early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write(append([]byte(req), frame...)); err != nil { // one write: one segment
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("status %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatalf("no echo: %v", err)
	}
	got := make([]byte, head[1]&0x7f)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if head[0] != 0x81 || !bytes.Equal(got, payload) {
		t.Fatalf("echo frame %x %q", head, got)
	}
}

// A half-close passes through: the origin's FIN reaches the viewer, which
// can still send, and its own FIN then reaches the origin. Raw bytes on
// both sides: Strata reads no frames.
func TestWebSocketHalfClose(t *testing.T) { throughTiers(t, testWebSocketHalfClose) }

func testWebSocketHalfClose(t *testing.T, tp topology) {
	gotAfter := make(chan string, 1)
	w := newWSWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			gotAfter <- err.Error()
			return
		}
		defer conn.Close()
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\nlast words", base64.StdEncoding.EncodeToString(sum[:]))
		brw.Flush()
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(brw) // until the viewer's FIN
		if err != nil {
			gotAfter <- err.Error()
			return
		}
		gotAfter <- string(rest)
	}, wsOptions{tp: tp})
	c, err := net.Dial("tcp", strings.TrimPrefix(w.url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /half HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	last, err := io.ReadAll(br) // until the origin's FIN, passed on
	if err != nil || string(last) != "last words" {
		t.Fatalf("viewer read %q, %v", last, err)
	}
	io.WriteString(c, "after your FIN")
	c.(*net.TCPConn).CloseWrite()
	select {
	case got := <-gotAfter:
		if got != "after your FIN" {
			t.Fatalf("origin read %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the origin did not get the viewer's bytes and FIN")
	}
	waitFor(t, 10*time.Second, func() bool { return w.pop.tunnels.len() == 0 })
	if line := w.accessLine("/half"); !strings.Contains(line, "ws_end=origin-closed") || logInt(t, line, "bytes_in") != 14 || logInt(t, line, "bytes") != 10 {
		t.Fatalf("access log: %s", line)
	}
}

// Closing the PoP closes its open WebSockets.
func TestWebSocketClosedWithPoP(t *testing.T) { throughTiers(t, testWebSocketClosedWithPoP) }

func testWebSocketClosedWithPoP(t *testing.T, tp topology) {
	ended := make(chan error, 1)
	w := newWSWorld(t, echoOrigin(ended), wsOptions{tp: tp})
	ctx := testContext(t)
	c, _, err := w.dial(ctx, "/shutdown", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	echo(ctx, t, c, websocket.MessageText, []byte("hi"))
	w.pop.Close()
	if _, _, err := c.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("viewer read: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin's connection did not end")
	}
}

// Round trip of a 64-byte message, straight to the origin and through the
// edge (both on loopback, plain ws://).
func BenchmarkWebSocketEchoDirect(b *testing.B) { benchmarkWebSocketEcho(b, false) }

func BenchmarkWebSocketEchoEdge(b *testing.B) { benchmarkWebSocketEcho(b, true) }

func benchmarkWebSocketEcho(b *testing.B, edge bool) {
	origin := httptest.NewServer(echoOrigin(nil))
	defer origin.Close()
	url := "ws" + strings.TrimPrefix(origin.URL, "http")
	if edge {
		p := benchPoP(b, origin.URL, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &h1.Server{Handler: p}
		go srv.Serve(ln)
		defer srv.Close()
		url = "ws://" + ln.Addr().String()
	}
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, url+"/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	msg := bytes.Repeat([]byte("x"), 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWebSocketThroughTiers: a WebSocket goes from the edge straight to the
// origin (it is never cached), over ws:// and wss://, whatever tiers are
// configured; no parent sees it.
func TestWebSocketThroughTiers(t *testing.T) {
	eachTopology(t, netOpts{tls: true}, echoOrigin(nil), nil, func(t *testing.T, n *network) {
		ctx := testContext(t)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.ca.Pool(), ServerName: "d.strata.localhost"}}
		t.Cleanup(tr.CloseIdleConnections)
		for _, u := range []string{n.urls[n.viewer], n.tlsURLs[n.viewer]} {
			c, resp, err := websocket.Dial(ctx, u+"/chat", &websocket.DialOptions{Subprotocols: []string{"chat"},
				HTTPClient: &http.Client{Transport: tr}, Host: "d.strata.localhost"})
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if got := resp.Header.Values("Cache-Status"); len(got) != 1 || !strings.Contains(got[0], "Strata-"+n.viewer) {
				t.Fatalf("%s: Cache-Status %q (the edge alone)", u, got)
			}
			echo(ctx, t, c, websocket.MessageText, []byte("hello through "+u))
			c.Close(websocket.StatusNormalClosure, "")
		}
		if c := n.origin.count("/chat"); c != 2 {
			t.Fatalf("origin count %d", c)
		}
	})
}
