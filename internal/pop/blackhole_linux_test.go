package pop

import (
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// blackhole returns the address of a socket that drops connection
// attempts, as a firewalled or vanished host does: it listens with a
// backlog of 0, never accepts, and its queue is already full, so Linux
// drops further SYNs and a connect hangs until its timeout.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "blackhole")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	filler, err := net.DialTimeout("tcp", addr, time.Second) // fills the queue
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("this kernel does not drop connection attempts to a full queue")
	}
	return addr
}

// An origin that vanished from the network (its SYNs go unanswered) holds a
// viewer with a stale copy for one connection timeout (2 s here), not for
// every attempt (3 x 2 s), before the stale copy is served.
func TestStaleOnBlackholedOrigin(t *testing.T) {
	o := newRawOrigin(t)
	o.set("/obj", "plain")
	origins := func(url string) func(*config.Config) {
		return func(c *config.Config) {
			c.Distributions[0].Origins = []config.Origin{{ID: "o", URL: url,
				ConnectionTimeout: config.Duration(2 * time.Second), ConnectionAttempts: 3}}
		}
	}
	w := newWorld(t, func(http.ResponseWriter, *http.Request) {}, origins("http://"+o.ln.Addr().String()))
	if r := w.get("/obj"); r.status != 200 || r.body != "good" {
		t.Fatalf("warm-up: %d %q", r.status, r.body)
	}
	// The origin's address now leads nowhere.
	hole := "http://" + blackhole(t)
	cfg := testConfig(hole, origins(hole))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := w.pop.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Second)
	start := time.Now()
	r := w.get("/obj")
	took := time.Since(start)
	if cs := r.header.Get("Cache-Status"); r.status != 200 || r.body != "good" || !strings.Contains(cs, "stale-if-error") {
		t.Fatalf("%d %q Cache-Status %q, want the stale copy", r.status, r.body, cs)
	}
	if took > 5*time.Second {
		t.Fatalf("stale copy after %v: the viewer waited for more than one connection attempt (2 s each, 3 attempts)", took)
	}
	t.Logf("stale copy after %v", took.Round(time.Millisecond))
}
