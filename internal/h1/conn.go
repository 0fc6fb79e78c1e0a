package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, for Shutdown.
const (
	stateActive   = iota // handshaking, reading a head, or serving a request
	stateIdle            // waiting for the first byte of a request
	stateClosed          // closed by Shutdown or Close
	stateHijacked        // handed to a handler
)

const (
	bufSize = 4 << 10
	// lingerTimeout bounds how long a closing connection reads and discards
	// what the client still sends, so that the kernel does not answer it with
	// a reset that would destroy the response in flight.
	lingerTimeout = 500 * time.Millisecond
)

var (
	bufrPool sync.Pool
	bufwPool sync.Pool
)

// aLongTimeAgo is a non-zero time in the past, to interrupt a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection, served by one goroutine.
type conn struct {
	srv        *Server
	wdl        writeDeadline // the progress deadline of writes (connWriter, sendfile)
	rwc        net.Conn
	remoteAddr string
	tlsState   *tls.ConnectionState
	state      atomic.Int32
	hijacked   atomic.Bool
	// headDeadline is set when the read deadline already bounds the
	// current head (the first request's, from accept).
	headDeadline bool

	ctx    context.Context // cancelled when the connection dies
	cancel context.CancelFunc

	r    connReader
	bufr *bufio.Reader
	bufw *bufio.Writer
	p    parser

	hdr   []byte   // the serialized handler header of the current response
	keys  []string // scratch for sorting header keys
	stage []byte   // body held back until the framing is known
	tmpl  http.Request
}

func (s *Server) newConn(ctx context.Context, rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.r.c = c
	c.r.cond.L = &c.r.mu
	c.p.maxHeaderBytes = s.maxHeaderBytes()
	c.p.maxHeaders = s.maxHeaders()
	return c
}

func (c *conn) acquireBufs() {
	if v := bufrPool.Get(); v != nil {
		c.bufr = v.(*bufio.Reader)
		c.bufr.Reset(&c.r)
	} else {
		c.bufr = bufio.NewReaderSize(&c.r, bufSize)
	}
	if v := bufwPool.Get(); v != nil {
		c.bufw = v.(*bufio.Writer)
		c.bufw.Reset(connWriter{c})
	} else {
		c.bufw = bufio.NewWriterSize(connWriter{c}, bufSize)
	}
}

func (c *conn) releaseBufs() {
	if c.hijacked.Load() || c.bufr == nil {
		return
	}
	c.bufr.Reset(nil)
	c.bufw.Reset(nil)
	bufrPool.Put(c.bufr)
	bufwPool.Put(c.bufw)
	c.bufr, c.bufw = nil, nil
}

// serve runs the connection: requests one after another until the client
// or the server closes it, or a handler hijacks it.
func (c *conn) serve() {
	defer func() {
		if v := recover(); v != nil {
			c.srv.logger().Error("h1: panic serving connection", "remote", c.remoteAddr, "panic", v, "stack", string(debug.Stack()))
		}
		c.cancel()
		if !c.hijacked.Load() {
			c.rwc.Close()
			c.r.wait(time.Time{}) // the background read uses bufr until it ends
			c.releaseBufs()
		}
		c.srv.untrack(c)
	}()

	rht := c.srv.readHeaderTimeout()
	if tc, ok := c.rwc.(*tls.Conn); ok {
		d := time.Now().Add(rht)
		tc.SetDeadline(d)
		if err := tc.HandshakeContext(c.ctx); err != nil {
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
				io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\nclient sent an HTTP request to an HTTPS server\n")
				re.Conn.Close()
			}
			c.srv.logger().Debug("h1: TLS handshake failed", "remote", c.remoteAddr, "err", err)
			return
		}
		tc.SetWriteDeadline(time.Time{})
		st := tc.ConnectionState()
		c.tlsState = &st
		if fn := c.srv.TLSNextProto[st.NegotiatedProtocol]; fn != nil && st.NegotiatedProtocol != "" {
			if c.srv.shuttingDown() {
				return
			}
			tc.SetReadDeadline(time.Time{})
			fn(c.ctx, tc)
			return
		}
	} else {
		c.rwc.SetReadDeadline(time.Now().Add(rht))
	}

	c.acquireBufs()
	c.state.Store(stateIdle)
	if _, err := c.bufr.Peek(1); err != nil {
		return
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return // closed by Shutdown or Close
	}
	c.headDeadline = true // the first head is due ReadHeaderTimeout after accept
	for {
		if !c.serveRequest() {
			return
		}
		if !c.awaitRequest() {
			return
		}
	}
}

// awaitRequest waits, within the idle timeout, for the next request. The background read that watched for a
// disconnect during the handler, if it is still pending, does the waiting:
// it gets the idle deadline rather than being aborted and restarted.
func (c *conn) awaitRequest() bool {
	c.state.Store(stateIdle)
	if c.srv.shuttingDown() {
		return false
	}
	idle := time.Now().Add(c.srv.idleTimeout())
	if c.r.wait(idle) != nil {
		return false
	}
	if c.bufr.Buffered() == 0 {
		c.rwc.SetReadDeadline(idle)
		if _, err := c.bufr.Peek(1); err != nil {
			return false
		}
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false // closed by Shutdown or Close
	}
	c.headDeadline = false // armed by serveRequest if the head is not whole yet
	return true
}

// serveRequest reads one request, runs the handler, and finishes the
// response. It reports whether the connection may carry another request.
func (c *conn) serveRequest() bool {
	head, ok, err := c.p.bufferedHead(c.bufr)
	if !ok && err == nil {
		if !c.headDeadline {
			c.rwc.SetReadDeadline(time.Now().Add(c.srv.readHeaderTimeout()))
		}
		head, err = c.p.readHead(c.bufr)
	}
	c.tmpl = http.Request{}
	e := &exchange{}
	var meta reqMeta
	var rerr *reqError
	if err == nil {
		meta, rerr = c.p.parseRequest(head, &c.tmpl, e.vals[:])
	} else if re, ok := err.(*reqError); ok {
		rerr = re
	} else {
		if isTimeout(err) {
			// A partial head that did not arrive in time: a slow client or
			// a slow-loris attack. Nothing is sent.
			c.srv.reportError(c.rwc.RemoteAddr(), http.StatusRequestTimeout, "request head timeout")
		}
		return false
	}
	if rerr != nil {
		c.refuse(rerr)
		return false
	}
	c.rwc.SetReadDeadline(time.Time{})

	w := &e.w
	ctx, cancel := context.WithCancel(c.ctx)
	tmpl := &c.tmpl
	tmpl.RemoteAddr = c.remoteAddr
	tmpl.TLS = c.tlsState
	if meta.chunked || tmpl.ContentLength > 0 {
		b := &e.b
		b.br, b.p, b.w, b.chunked, b.n = c.bufr, &c.p, w, meta.chunked, tmpl.ContentLength
		w.b = b
		tmpl.Body = b
	} else {
		tmpl.Body = http.NoBody
	}
	req := tmpl.WithContext(ctx)
	if w.b != nil {
		w.b.req = req
	}
	w.c, w.req = c, req
	w.isHEAD = req.Method == http.MethodHead
	w.proto10 = req.ProtoMinor == 0
	w.wantClose = req.Close
	w.expectContinue = meta.expectContinue
	w.clen = -1
	c.stage = c.stage[:0]
	if w.b == nil {
		c.bodyEOF()
	}

	if !c.runHandler(w, req) {
		cancel()
		return false
	}
	cancel()
	if c.hijacked.Load() {
		return false
	}
	keep := w.finish()
	if w.b != nil {
		keep = w.b.finish(keep) && keep
	}
	if !keep {
		c.r.abortPendingRead() // before looking at bufr, which it may be filling
		if w.err == nil && (w.b != nil && !w.b.sawEOF() || c.bufr.Buffered() > 0) {
			c.lingerClose()
		}
		return false
	}
	return true
}

// exchange holds the per-request state in one allocation.
type exchange struct {
	w    response
	b    body
	vals [16]string // backing of the header map's value slices
}

// runHandler calls the handler and deals with its panic. It reports false
// when the connection must be closed at once.
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		ok = false
		w.handlerDone = true
		if w.b != nil {
			w.b.Close()
		}
		if c.hijacked.Load() {
			if v != http.ErrAbortHandler {
				c.srv.logger().Error("h1: panic in handler", "remote", c.remoteAddr, "method", req.Method, "uri", req.RequestURI, "panic", v, "stack", string(debug.Stack()))
			}
			return
		}
		if v != http.ErrAbortHandler {
			c.srv.logger().Error("h1: panic in handler", "remote", c.remoteAddr, "method", req.Method, "uri", req.RequestURI, "panic", v, "stack", string(debug.Stack()))
			if !w.committed {
				c.stage = c.stage[:0]
				c.writePlain(http.StatusInternalServerError, "")
				c.bufw.Flush()
				c.lingerClose()
				return
			}
		}
		// Abort: what is buffered goes out, the body is never terminated,
		// and the close tells the client the response is truncated.
		c.bufw.Flush()
	}()
	c.srv.handler().ServeHTTP(w, req)
	return true
}

// bodyEOF is called when the request body has been read to its end (or
// there is none): from then on a read on the connection can only see the
// next request or the client going away, so a background read watches for
// the latter and cancels the context. When the next request is already
// buffered, the client is evidently there and nothing is started.
func (c *conn) bodyEOF() {
	if c.bufr.Buffered() == 0 && !c.hijacked.Load() {
		c.r.startBackgroundRead()
	}
}

func (c *conn) hijack() {
	c.wdl.reset()
	c.rwc.SetWriteDeadline(time.Time{}) // the hijacker's to set
	c.hijacked.Store(true)
	c.state.Store(stateHijacked)
	c.srv.untrack(c)
}

// refuse answers a request the parser refused and closes the connection.
func (c *conn) refuse(e *reqError) {
	c.srv.reportError(c.rwc.RemoteAddr(), e.status, e.reason)
	c.writePlain(e.status, e.reason)
	if c.bufw.Flush() == nil {
		c.lingerClose()
	}
}

// writePlain writes a short text/plain response with Connection: close.
func (c *conn) writePlain(status int, reason string) {
	text := http.StatusText(status)
	msg := text + "\n"
	if reason != "" {
		msg = text + ": " + reason + "\n"
	}
	bw := c.bufw
	bw.Write(statusLine(status))
	bw.Write(c.srv.dates.get(time.Now()))
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(msg)))
	bw.WriteString("\r\n\r\n")
	bw.WriteString(msg)
}

// lingerClose half-closes the connection and reads what the client still
// sends for a short while before the final close, so that unread request
// bytes do not make the kernel reset the connection and destroy the
// response on its way.
func (c *conn) lingerClose() {
	c.r.abortPendingRead()
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.rwc.(closeWriter); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.rwc, maxDiscard)
}

func looksLikeHTTP(hdr []byte) bool {
	switch string(hdr) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// WriteChunk and FileWriteChunk are the steps of a response write that
// Server.WriteTimeout bounds each (see there).
const (
	WriteChunk     = 16 << 10
	FileWriteChunk = 64 << 10
)

// connWriter is the destination of conn.bufw: a failed write means the
// client is gone, which cancels the connection's context. It writes in
// steps of WriteChunk, each with its own write deadline (the progress
// deadline of Server.WriteTimeout).
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		step := min(len(p), WriteChunk)
		w.c.wdl.arm(w.c.rwc, w.c.srv.writeTimeout())
		m, err := w.c.rwc.Write(p[:step])
		n += m
		if err != nil {
			w.c.writeFailed(err)
			return n, err
		}
		p = p[step:]
	}
	return n, nil
}

// writeDeadline arms a connection's write deadline for a step of a
// response. Setting a deadline costs a timer update in the runtime's poller,
// too much for every small response of a keep-alive connection; so it is
// moved forward only when less than 3/4 of the timeout is left: each step
// gets at least 3/4 of Server.WriteTimeout to be taken, and at most all of
// it. Code that sets the connection's write deadline otherwise calls reset.
type writeDeadline struct{ at int64 } // unix nanos; 0: none set by us

func (d *writeDeadline) arm(c interface{ SetWriteDeadline(time.Time) error }, timeout time.Duration) {
	now := time.Now()
	if d.at-now.UnixNano() >= int64(timeout-timeout/4) {
		return
	}
	t := now.Add(timeout)
	c.SetWriteDeadline(t)
	d.at = t.UnixNano()
}

func (d *writeDeadline) reset() { d.at = 0 }

// writeFailed ends the connection after a failed write: the client is
// gone or, on a write timeout, too slow (logged at Debug).
func (c *conn) writeFailed(err error) {
	if isTimeout(err) {
		c.srv.logger().Debug("connection closed: response write timeout (the client reads too slowly)",
			"client", c.remoteAddr, "writeTimeout", c.srv.writeTimeout().String())
		c.rwc.Close() // a partly written TLS record cannot be resumed anyway
	}
	c.cancel()
}

// connReader is the source of conn.bufr. It also runs the background read
// that detects a client going away while a handler works (the net/http
// design): once the request body is at its end, a goroutine fills bufr,
// which can only bring the next request or an error. An error cancels the
// connection's context; data is simply the next request, already buffered.
// Unlike net/http's one-byte read, this costs no extra read system call.
type connReader struct {
	c       *conn
	mu      sync.Mutex
	cond    sync.Cond
	inRead  bool        // a background read is pending; it owns bufr
	bg      atomic.Bool // Read is called from the background read
	aborted bool        // abortPendingRead set a past deadline
	bgErr   error       // error of the last background read
}

func (r *connReader) Read(p []byte) (int, error) {
	n, err := r.c.rwc.Read(p)
	if err != nil && !r.bg.Load() {
		r.c.cancel()
	}
	return n, err
}

// startBackgroundRead is called when the request body is at its end and
// nothing is buffered.
func (r *connReader) startBackgroundRead() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inRead {
		return
	}
	r.inRead = true
	r.bgErr = nil
	r.bg.Store(true)
	go r.backgroundRead()
}

func (r *connReader) backgroundRead() {
	_, err := r.c.bufr.Peek(1)
	r.bg.Store(false)
	r.mu.Lock()
	if err != nil && !(r.aborted && isTimeout(err)) {
		r.bgErr = err
		r.c.cancel()
	}
	r.aborted = false
	r.inRead = false
	r.mu.Unlock()
	r.cond.Broadcast()
}

// abortPendingRead stops a pending background read (keeping what it read
// in bufr) and clears the read deadline.
func (r *connReader) abortPendingRead() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inRead {
		return
	}
	r.aborted = true
	r.c.rwc.SetReadDeadline(aLongTimeAgo)
	for r.inRead {
		r.cond.Wait()
	}
	r.c.rwc.SetReadDeadline(time.Time{})
}

// wait lets a pending background read wait for the next request until the
// idle deadline, and returns the error it ended with, if any.
func (r *connReader) wait(idle time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inRead {
		if !idle.IsZero() {
			r.c.rwc.SetReadDeadline(idle)
		}
		for r.inRead {
			r.cond.Wait()
		}
	}
	return r.bgErr
}
