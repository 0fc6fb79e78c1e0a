package listener

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Default connection limits (Options.MaxConnsPerAddr, Options.MaxConns).
const (
	DefaultMaxConnsPerAddr = 256
	DefaultMaxConns        = 50000
	// DefaultNewConnsPerAddr is the sustained rate of new connections one
	// address may open, per second; it may open twice as many at once
	// (the bucket's depth) after a quiet spell.
	DefaultNewConnsPerAddr = 200
)

// connLimiter counts the open connections of a Server, per client address
// and in total, across all its TCP listeners. A connection over a limit is
// closed at accept, before its TLS handshake or any read, and counted; the
// accept loop goes on, so other addresses keep being served. Exempt
// addresses (the PoP's peers) count towards neither limit.
//
// New connections per address are also rate limited, by a token bucket per
// address (newPerSec tokens a second, 2*newPerSec deep): a connection flood
// from one address is refused at accept even when each connection is closed
// at once, and other addresses are not affected. Buckets that have refilled
// are swept, so the table holds only addresses seen in the last seconds.
type connLimiter struct {
	maxPerAddr, maxTotal int
	newPerSec            float64
	exempt               func(netip.Addr) bool
	log                  *slog.Logger
	now                  func() time.Time

	mu        sync.Mutex
	perAddr   map[netip.Addr]int
	total     int
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time

	refused    atomic.Int64
	lastLogged atomic.Int64 // unix seconds of the last refusal logged
}

// bucket is one address's new-connection token bucket.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

func newConnLimiter(maxPerAddr, maxTotal, newPerSec int, exempt func(netip.Addr) bool, log *slog.Logger) *connLimiter {
	if maxPerAddr <= 0 {
		maxPerAddr = DefaultMaxConnsPerAddr
	}
	if maxTotal <= 0 {
		maxTotal = DefaultMaxConns
	}
	if newPerSec <= 0 {
		newPerSec = DefaultNewConnsPerAddr
	}
	return &connLimiter{maxPerAddr: maxPerAddr, maxTotal: maxTotal, newPerSec: float64(newPerSec), exempt: exempt, log: log,
		now: time.Now, perAddr: map[netip.Addr]int{}, buckets: map[netip.Addr]*bucket{}}
}

// take spends one of ip's new-connection tokens, or reports that there is
// none left. l.mu is held.
func (l *connLimiter) take(ip netip.Addr) bool {
	now := l.now()
	depth := 2 * l.newPerSec
	if now.Sub(l.lastSweep) > 10*time.Second {
		// A bucket untouched for depth/rate seconds is full again: it says
		// nothing a new bucket would not.
		for a, b := range l.buckets {
			if now.Sub(b.at).Seconds()*l.newPerSec >= depth {
				delete(l.buckets, a)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{tokens: depth, at: now}
		l.buckets[ip] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = min(depth, b.tokens+el*l.newPerSec)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// admit counts a new connection from remote and returns the function that
// uncounts it, or a reason it is refused.
func (l *connLimiter) admit(remote net.Addr) (release func(), reason string) {
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return func() {}, "" // not TCP/IP (a test's pipe): not limited
	}
	ip := ap.Addr().Unmap()
	if l.exempt != nil && l.exempt(ip) {
		return func() {}, ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.maxTotal:
		return nil, "the PoP's connection limit"
	case l.perAddr[ip] >= l.maxPerAddr:
		return nil, "the connection limit per client address"
	case !l.take(ip):
		return nil, "the new-connection rate per client address"
	}
	l.total++
	l.perAddr[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.total--
			if l.perAddr[ip]--; l.perAddr[ip] <= 0 {
				delete(l.perAddr, ip)
			}
			l.mu.Unlock()
		})
	}, ""
}

// refuse closes a connection over a limit (at once: no bytes are owed to
// it) and logs at most one line a second about refusals.
func (l *connLimiter) refuse(c net.Conn, reason string) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // a reset: no TIME_WAIT state kept for a flood
	}
	c.Close()
	n := l.refused.Add(1)
	now := time.Now().Unix()
	if last := l.lastLogged.Load(); now != last && l.lastLogged.CompareAndSwap(last, now) {
		l.log.Warn("connection refused at accept: over "+reason, "stage", "listener",
			"client", c.RemoteAddr().String(), "maxConnsPerAddr", l.maxPerAddr, "maxConns", l.maxTotal, "newConnsPerAddr", l.newPerSec, "refusedTotal", n)
	}
}

// limitListener admits the connections of ln through a connLimiter.
type limitListener struct {
	net.Listener
	l *connLimiter
}

func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, reason := ln.l.admit(c.RemoteAddr())
		if release == nil {
			ln.l.refuse(c, reason)
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			return &limitedTCPConn{TCPConn: tc, release: release}, nil
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

// limitedTCPConn uncounts its connection when closed. It keeps
// *net.TCPConn's methods (ReadFrom for sendfile, CloseWrite).
type limitedTCPConn struct {
	*net.TCPConn
	release func()
}

func (c *limitedTCPConn) Close() error {
	c.release()
	return c.TCPConn.Close()
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
