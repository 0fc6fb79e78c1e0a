package listener

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startPlain serves a small response over plain HTTP with o's limits.
func startPlain(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	o.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot bind loopback source %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a request on c and reports whether a 200 came back.
func get(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// closedByServer reports whether the server closed c without answering.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeoutErr(err)
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// One address is held to MaxConnsPerAddr open connections: the next is
// closed at accept and counted, while another address is served; once one
// of its connections closes, the address may connect again.
func TestMaxConnsPerAddr(t *testing.T) {
	s, addr := startPlain(t, Options{MaxConnsPerAddr: 3})
	held := make([]net.Conn, 3)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.2", addr)
		if err := get(held[i]); err != nil { // admitted and served
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	over := dialFrom(t, "127.0.0.2", addr)
	if !closedByServer(over) {
		t.Fatal("a 4th connection from 127.0.0.2 was not closed")
	}
	if n := s.Refused(); n != 1 {
		t.Fatalf("Refused() = %d, want 1", n)
	}
	if err := get(dialFrom(t, "127.0.0.3", addr)); err != nil {
		t.Fatalf("another address refused while one is at its limit: %v", err)
	}
	held[0].Close()
	waitFor(t, 5*time.Second, "127.0.0.2 to be admitted again", func() bool {
		return get(dialFrom(t, "127.0.0.2", addr)) == nil
	})
}

// MaxConns bounds the connections of all addresses together.
func TestMaxConns(t *testing.T) {
	s, addr := startPlain(t, Options{MaxConns: 2})
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		if err := get(dialFrom(t, src, addr)); err != nil {
			t.Fatal(err)
		}
	}
	if !closedByServer(dialFrom(t, "127.0.0.4", addr)) {
		t.Fatal("a 3rd connection over MaxConns 2 was not closed")
	}
	if n := s.Refused(); n != 1 {
		t.Fatalf("Refused() = %d, want 1", n)
	}
}

// An exempt address (a peer PoP) is limited by neither bound and does not
// use up the others' budget.
func TestExemptAddr(t *testing.T) {
	peer := netip.MustParseAddr("127.0.0.5")
	s, addr := startPlain(t, Options{MaxConnsPerAddr: 2, MaxConns: 2, ExemptAddr: func(a netip.Addr) bool { return a == peer }})
	for i := 0; i < 6; i++ {
		if err := get(dialFrom(t, "127.0.0.5", addr)); err != nil {
			t.Fatalf("peer connection %d: %v", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := get(dialFrom(t, "127.0.0.6", addr)); err != nil {
			t.Fatalf("viewer connection %d: %v", i, err)
		}
	}
	if !closedByServer(dialFrom(t, "127.0.0.6", addr)) {
		t.Fatal("a viewer's 3rd connection was not closed")
	}
	if n := s.Refused(); n != 1 {
		t.Fatalf("Refused() = %d, want 1", n)
	}
}

// New connections from one address are rate limited by a token bucket
// (2*rate deep): past the burst the next is closed at accept even though
// each connection was closed before the next, another address is served,
// and once the bucket refills (the limiter's clock moves on) the address
// is admitted again.
func TestNewConnsPerAddr(t *testing.T) {
	s, addr := startPlain(t, Options{NewConnsPerAddr: 3})
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	s.limit.mu.Lock()
	s.limit.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s.limit.mu.Unlock()
	for i := 0; i < 6; i++ { // the bucket's depth: 2 * 3
		c := dialFrom(t, "127.0.0.2", addr)
		if err := get(c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	if !closedByServer(dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a 7th new connection within the same instant was not closed")
	}
	if n := s.Refused(); n != 1 {
		t.Fatalf("Refused() = %d, want 1", n)
	}
	if err := get(dialFrom(t, "127.0.0.3", addr)); err != nil {
		t.Fatalf("another address refused while one is over its rate: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Second) // three tokens back
	mu.Unlock()
	for i := 0; i < 3; i++ {
		if err := get(dialFrom(t, "127.0.0.2", addr)); err != nil {
			t.Fatalf("after a second, connection %d: %v", i, err)
		}
	}
	if !closedByServer(dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a 4th connection in the next second was not closed")
	}
	// Idle buckets are swept once full again.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if err := get(dialFrom(t, "127.0.0.4", addr)); err != nil {
		t.Fatal(err)
	}
	s.limit.mu.Lock()
	n := len(s.limit.buckets)
	s.limit.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d buckets after a minute's quiet and one new address, want 1", n)
	}
}
