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
)

// connLimiter counts the open connections of a Server, per client address
// and in total, across all its TCP listeners. A connection over a limit is
// closed at accept, before its TLS handshake or any read, and counted; the
// accept loop goes on, so other addresses keep being served. Exempt
// addresses (the PoP's peers) count towards neither limit.
type connLimiter struct {
	maxPerAddr, maxTotal int
	exempt               func(netip.Addr) bool
	log                  *slog.Logger

	mu      sync.Mutex
	perAddr map[netip.Addr]int
	total   int

	refused    atomic.Int64
	lastLogged atomic.Int64 // unix seconds of the last refusal logged
}

func newConnLimiter(maxPerAddr, maxTotal int, exempt func(netip.Addr) bool, log *slog.Logger) *connLimiter {
	if maxPerAddr <= 0 {
		maxPerAddr = DefaultMaxConnsPerAddr
	}
	if maxTotal <= 0 {
		maxTotal = DefaultMaxConns
	}
	return &connLimiter{maxPerAddr: maxPerAddr, maxTotal: maxTotal, exempt: exempt, log: log, perAddr: map[netip.Addr]int{}}
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
			"client", c.RemoteAddr().String(), "maxConnsPerAddr", l.maxPerAddr, "maxConns", l.maxTotal, "refusedTotal", n)
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
