package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the zero Server fields.
const (
	DefaultMaxHeaderBytes    = 32 << 10
	DefaultMaxHeaders        = 100
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	// DefaultWriteTimeout is the progress deadline of a write to a
	// client (see Server.WriteTimeout).
	DefaultWriteTimeout = 20 * time.Second
)

// Server serves HTTP/1.x connections with a standard http.Handler. A zero
// field means its documented default. The fields must not change after
// Serve is called.
type Server struct {
	// Handler answers the requests. If nil, every request gets 404.
	Handler http.Handler

	// MaxHeaderBytes bounds the request line and the header section, and
	// separately a chunked body's trailer section. If zero,
	// DefaultMaxHeaderBytes. Over it the answer is 431; a request line
	// alone over 8 KiB gets 414.
	MaxHeaderBytes int

	// MaxHeaders bounds the number of header fields (and trailer fields).
	// If zero, DefaultMaxHeaders. Over it the answer is 431.
	MaxHeaders int

	// ReadHeaderTimeout is the time a client has to send a whole request
	// head, counted from the connection's accept (first request, TLS
	// handshake included) or from the first byte (later requests). Then
	// the connection is closed without an answer. If zero,
	// DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration

	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. If zero, DefaultIdleTimeout.
	IdleTimeout time.Duration

	// WriteTimeout is a progress deadline, not a total one (nginx's
	// send_timeout, per step): every step of a response write, at most
	// WriteChunk bytes (FileWriteChunk for a file sent with sendfile),
	// must be taken by the connection within WriteTimeout (at least 3/4 of
	// it: the deadline is moved forward only when less than that is left,
	// see writeDeadline), else the connection is closed and the request's
	// context cancelled. A client
	// that reads slower than WriteChunk per WriteTimeout (16 KiB per 20 s,
	// 800 B/s, by default) is cut once the socket buffers between it and
	// the server are full; a large response to a slow but steady client
	// takes as long as it takes. If zero, DefaultWriteTimeout. A hijacked
	// connection gets no deadline.
	WriteTimeout time.Duration

	// BaseContext, if set, returns the base context of the requests
	// accepted on a listener. It must not return nil.
	BaseContext func(net.Listener) context.Context

	// ConnContext, if set, derives the context of a new connection. It
	// must not return nil.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// OnError, if set, is called for every request the parser refuses
	// (with the status sent) and for a head that did not arrive within
	// ReadHeaderTimeout (status 408, nothing sent). It must be quick.
	OnError func(remote net.Addr, status int, reason string)

	// Logger receives the few messages the server logs (handler panics at
	// Error, protocol misuse at Debug). If nil, slog.Default().
	Logger *slog.Logger

	// TLSNextProto, if set, takes over a TLS connection whose negotiated
	// ALPN protocol is one of its keys (such as "h2") once the handshake
	// is done: the handshake still has ReadHeaderTimeout, then the
	// deadlines are cleared and fn serves the connection on the
	// connection's goroutine. ctx is the connection's context (BaseContext,
	// ConnContext, http.LocalAddrContextKey). The connection stays the
	// server's: Shutdown waits for fn to return (see RegisterOnShutdown)
	// and Close closes it.
	TLSNextProto map[string]func(ctx context.Context, c *tls.Conn)

	inShutdown atomic.Bool
	onShutdown []func()
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	dates      dateCache
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (s *Server) maxHeaders() int {
	if s.MaxHeaders > 0 {
		return s.MaxHeaders
	}
	return DefaultMaxHeaders
}

func (s *Server) readHeaderTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return DefaultReadHeaderTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) handler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.NotFoundHandler()
}

func (s *Server) reportError(remote net.Addr, status int, reason string) {
	if s.OnError != nil {
		s.OnError(remote, status, reason)
	}
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

// Serve accepts connections on l and serves each on its own goroutine. It
// closes l when it returns, which is with http.ErrServerClosed after
// Shutdown or Close, or with the listener's error. l may be a tls.Listener.
func (s *Server) Serve(l net.Listener) error {
	l = &onceCloseListener{Listener: l}
	defer l.Close()
	if !s.trackListener(&l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&l, false)

	base := context.Background()
	if s.BaseContext != nil {
		base = s.BaseContext(l)
		if base == nil {
			panic("h1: BaseContext returned a nil context")
		}
	}
	var delay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("h1: accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		ctx := context.WithValue(base, http.LocalAddrContextKey, rwc.LocalAddr())
		if s.ConnContext != nil {
			ctx = s.ConnContext(ctx, rwc)
			if ctx == nil {
				panic("h1: ConnContext returned nil")
			}
		}
		c := s.newConn(ctx, rwc)
		if !s.track(c) {
			rwc.Close()
			c.cancel()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// RegisterOnShutdown registers f to be called, on its own goroutine, when
// Shutdown starts (after the listeners are closed): the way to ask
// connections handed to TLSNextProto to finish (an HTTP/2 GOAWAY).
func (s *Server) RegisterOnShutdown(f func()) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections, and waits until the
// active ones have finished their responses (they close after them) or ctx
// is done, whose error it then returns. Connections handed to TLSNextProto
// count as active until their function returns. Hijacked connections are
// not the server's any more.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	for _, f := range s.onShutdown {
		go f()
	}
	s.mu.Unlock()

	const maxPoll = 500 * time.Millisecond
	interval := time.Millisecond
	next := func() time.Duration {
		d := interval + time.Duration(rand.Int64N(int64(interval/10)+1))
		interval = min(2*interval, maxPoll)
		return d
	}
	timer := time.NewTimer(next())
	defer timer.Stop()
	for {
		if s.closeIdleConns() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			timer.Reset(next())
		}
	}
}

// closeIdleConns closes the idle connections and reports whether none is
// left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rwc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns) == 0
}

// Close closes the listeners and every connection at once, without waiting.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.rwc.Close()
		delete(s.conns, c)
	}
	return err
}

// onceCloseListener makes the Close of Serve's defer and of Shutdown safe
// together.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// dateCache holds the "Date: ...\r\n" line of the current second.
type dateCache struct {
	p atomic.Pointer[dateLine]
}

type dateLine struct {
	sec  int64
	line []byte
}

func (d *dateCache) get(now time.Time) []byte {
	sec := now.Unix()
	if e := d.p.Load(); e != nil && e.sec == sec {
		return e.line
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	d.p.Store(&dateLine{sec: sec, line: b})
	return b
}
