package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Interface guards.
var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
	_ io.ReaderFrom       = (*response)(nil)
	_ interface {
		FlushError() error
		SetReadDeadline(time.Time) error
		SetWriteDeadline(time.Time) error
		EnableFullDuplex() error
	} = (*response)(nil)
)

// stageSize is how much body a response holds back before it commits to a
// framing: a handler that finishes within it gets a Content-Length instead
// of chunked encoding, and chunks are at least this big.
const stageSize = 2 << 10

// Response body framing.
const (
	modeNone    = iota // HEAD, 1xx, 204, 304
	modeLength         // Content-Length
	modeChunked        // HTTP/1.1 without a length
	modeClose          // HTTP/1.0 without a length: delimited by closing
)

var (
	errWriteAfterHandler  = errors.New("h1: Write after the handler returned")
	errHijackAfterHandler = errors.New("h1: Hijack after the handler returned")
)

// response is the http.ResponseWriter of one request.
//
// The handler's header map is serialized when the final status is chosen
// (WriteHeader or the first Write), which gives the net/http rule that later
// changes to the map have no effect without cloning it. The framing fields
// (Content-Length, Transfer-Encoding, Connection, Date) are decided and
// written when the head is committed to the connection's bufio.Writer: at
// the first write that cannot be held back, at a flush, or when the handler
// returns.
type response struct {
	c      *conn
	req    *http.Request
	b      *body // nil when the request has no body
	header http.Header

	// mu orders writeContinue (called from Body.Read, possibly on another
	// goroutine) with WriteHeader. Only taken when expectContinue.
	mu             sync.Mutex
	expectContinue bool
	continueSent   bool

	isHEAD    bool
	proto10   bool
	wantClose bool // the request asked to close (Connection: close, or 1.0 without keep-alive)

	status      int
	wroteHeader bool // the final status is chosen and the header serialized into c.hdr
	committed   bool // the head is in c.bufw
	handlerDone bool
	dateSet     bool  // the handler set Date
	connClose   bool  // the handler set Connection: close
	clen        int64 // Content-Length: declared by the handler, computed at the end, or -1
	written     int64 // body bytes accepted from the handler
	mode        int
	closeAfter  bool
	err         error // sticky write error
}

// Header returns the response header map.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader sends an interim (1xx except 101) response at once, or
// chooses the final status.
func (w *response) WriteHeader(code int) {
	if w.c.hijacked.Load() || w.handlerDone {
		w.c.srv.logger().Debug("h1: WriteHeader on a hijacked or finished response", "status", code)
		return
	}
	if w.wroteHeader {
		w.c.srv.logger().Debug("h1: superfluous WriteHeader call", "status", code, "previous", w.status)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	if w.expectContinue {
		w.mu.Lock()
		w.wroteHeader = true
		w.mu.Unlock()
	} else {
		w.wroteHeader = true
	}
	w.status = code
	w.serializeHeader()
}

// Rewind takes back a final response none of which has reached the
// connection (its head is held back with the first body bytes until more
// come or the handler flushes), so that the handler can answer anew: a proxy
// whose upstream failed before its first flush sends a 502 instead of an
// aborted response. It reports whether it could; once anything was sent it
// changes nothing.
func (w *response) Rewind() bool {
	if w.committed || !w.wroteHeader || w.handlerDone || w.c.hijacked.Load() || w.err != nil {
		return false
	}
	if w.expectContinue {
		w.mu.Lock()
		w.wroteHeader = false
		w.mu.Unlock()
	} else {
		w.wroteHeader = false
	}
	w.status, w.written, w.clen, w.connClose = 0, 0, -1, false
	w.c.stage = w.c.stage[:0]
	w.c.hdr = w.c.hdr[:0]
	clear(w.header)
	return true
}

// writeInterim writes a 1xx response with the handler's header fields (103
// Early Hints carries Link fields); the map is not cleared (RFC 8297).
func (w *response) writeInterim(code int) {
	if w.proto10 {
		return // RFC 9110 section 15.2: no 1xx to an HTTP/1.0 client
	}
	if w.expectContinue {
		w.mu.Lock()
		defer w.mu.Unlock()
		if code == http.StatusContinue {
			if w.continueSent {
				return
			}
			w.continueSent = true
		}
	}
	c := w.c
	c.hdr = appendHeaderLines(c.hdr[:0], w.header, code, &c.keys)
	bw := c.bufw
	bw.Write(statusLine(code))
	bw.Write(c.hdr)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// writeContinue answers an "Expect: 100-continue" on the first Body.Read,
// unless a final status was chosen.
func (w *response) writeContinue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.continueSent || w.wroteHeader || w.handlerDone || w.c.hijacked.Load() {
		return
	}
	w.continueSent = true
	w.c.bufw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.c.bufw.Flush()
}

// serializeHeader records what the framing needs from the handler's map and
// writes the rest of it into c.hdr.
func (w *response) serializeHeader() {
	h := w.header
	w.clen = -1
	if vv := h["Content-Length"]; len(vv) > 0 {
		if n, ok := parseContentLength(trimOWS(vv[0])); ok {
			w.clen = n
		} else {
			w.c.srv.logger().Debug("h1: invalid Content-Length from handler ignored", "value", vv[0])
		}
	}
	if !bodyAllowed(w.status) {
		w.clen = -1 // 1xx, 204, 304 get no Content-Length
	}
	_, w.dateSet = h["Date"]
	for _, v := range h["Connection"] {
		if c, _ := connectionTokens(v); c {
			w.connClose = true
		}
	}
	w.c.hdr = appendHeaderLines(w.c.hdr[:0], h, w.status, &w.c.keys)
}

// appendHeaderLines appends the fields of h as "Key: value\r\n" lines in
// key order, leaving out fields the server owns (framing and hop-by-hop),
// invalid names, and nil values; CR, LF and other controls in values
// become spaces.
func appendHeaderLines(dst []byte, h http.Header, status int, keys *[]string) []byte {
	if len(h) == 0 {
		return dst
	}
	ks := (*keys)[:0]
	for k, vv := range h {
		if len(vv) == 0 || ownedField(k, status) {
			continue
		}
		ks = append(ks, k)
	}
	if len(ks) > 1 {
		slices.Sort(ks)
	}
	for _, k := range ks {
		if !validToken(k) {
			continue
		}
		for _, v := range h[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			start := len(dst)
			dst = append(dst, trimOWS(v)...)
			for i := start; i < len(dst); i++ {
				if c := dst[i]; c < 0x20 && c != '\t' || c == 0x7f {
					dst[i] = ' '
				}
			}
			dst = append(dst, "\r\n"...)
		}
	}
	clear(ks)
	*keys = ks[:0]
	return dst
}

// ownedField reports whether a handler's field is left out of the written
// header: the server writes the framing itself, and hop-by-hop fields are
// not the handler's to send (except Connection and Upgrade of a 101).
func ownedField(k string, status int) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Keep-Alive", "Proxy-Connection", "Te", "Trailer":
		return true
	case "Connection", "Upgrade":
		return status != http.StatusSwitchingProtocols
	}
	return false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// commit decides the framing and writes the head into the connection's
// bufio.Writer. final is true when the handler has returned, so the held
// back body is the whole body.
func (w *response) commit(final bool) {
	w.committed = true
	c := w.c
	allowed := bodyAllowed(w.status)
	if final && w.clen < 0 && allowed && (!w.isHEAD || w.written > 0) {
		w.clen = w.written
	}
	switch {
	case w.isHEAD || !allowed:
		w.mode = modeNone
	case w.clen >= 0:
		w.mode = modeLength
	case !w.proto10:
		w.mode = modeChunked
	default:
		w.mode = modeClose
	}
	if w.wantClose || w.connClose || w.mode == modeClose || w.status == http.StatusSwitchingProtocols || c.srv.shuttingDown() {
		w.closeAfter = true
	}
	if b := w.b; b != nil && !w.closeAfter && !w.bodyAllowsReuse(b) {
		w.closeAfter = true
	}
	bw := c.bufw
	bw.Write(statusLine(w.status))
	bw.Write(c.hdr)
	if !w.dateSet {
		bw.Write(c.srv.dates.get(time.Now()))
	}
	if w.clen >= 0 && (w.mode == modeLength || w.isHEAD && allowed) {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), w.clen, 10))
		bw.WriteString("\r\n")
	}
	if w.mode == modeChunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.status == http.StatusSwitchingProtocols:
		// the handler's Connection: upgrade stands
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.proto10:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// bodyAllowsReuse reports whether, as far as the request body tells when
// the head is committed, the connection may carry another request.
func (w *response) bodyAllowsReuse(b *body) bool {
	if !b.mu.TryLock() {
		// Another goroutine is blocked reading the request body (a
		// full-duplex exchange): the head must go out now, not when more
		// body arrives. Whether the body will end cleanly is unknown.
		return false
	}
	defer b.mu.Unlock()
	switch {
	case b.err != nil && b.err != io.EOF:
		return false // a broken body leaves the stream unusable
	case b.err == io.EOF:
		return true
	case w.expectContinue && !w.continueSent:
		return false // the client may never send the body it offered
	case !b.chunked && b.n > maxDiscard:
		return false
	}
	return true
}

// Write writes body bytes: held back in the stage until the framing is
// known, then as chunks, or straight through with a Content-Length.
func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked.Load() {
		return 0, http.ErrHijacked
	}
	if w.handlerDone {
		return 0, errWriteAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHEAD {
		return len(p), nil
	}
	if w.err != nil {
		return 0, w.err
	}
	c := w.c
	if !w.committed {
		if w.clen < 0 && len(c.stage)+len(p) <= stageSize {
			c.stage = append(c.stage, p...)
			return len(p), nil
		}
		w.commit(false)
	}
	var err error
	switch w.mode {
	case modeChunked:
		if len(c.stage)+len(p) <= stageSize {
			c.stage = append(c.stage, p...)
			return len(p), nil
		}
		err = w.writeChunk(c.stage, p)
		c.stage = c.stage[:0]
	default:
		if len(c.stage) > 0 {
			_, err = c.bufw.Write(c.stage)
			c.stage = c.stage[:0]
		}
		if err == nil {
			_, err = c.bufw.Write(p)
		}
	}
	if err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// writeChunk writes a and b as one chunk.
func (w *response) writeChunk(a, b []byte) error {
	n := len(a) + len(b)
	if n == 0 {
		return nil
	}
	bw := w.c.bufw
	bw.Write(strconv.AppendUint(bw.AvailableBuffer(), uint64(n), 16))
	bw.WriteString("\r\n")
	bw.Write(a)
	bw.Write(b)
	_, err := bw.WriteString("\r\n")
	return err
}

// emitStage writes the held-back body under the committed framing.
func (w *response) emitStage() error {
	c := w.c
	if len(c.stage) == 0 {
		return nil
	}
	var err error
	switch w.mode {
	case modeChunked:
		err = w.writeChunk(c.stage, nil)
	case modeNone:
	default:
		_, err = c.bufw.Write(c.stage)
	}
	c.stage = c.stage[:0]
	return err
}

// Flush implements http.Flusher.
func (w *response) Flush() { w.FlushError() }

// FlushError commits the head, writes the held-back body and flushes the
// connection (http.ResponseController looks for it).
func (w *response) FlushError() error {
	if w.c.hijacked.Load() {
		return http.ErrHijacked
	}
	if w.handlerDone {
		return errWriteAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if !w.committed {
		w.commit(false)
	}
	if err := w.emitStage(); err != nil {
		w.err = err
		return err
	}
	if err := w.c.bufw.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// finish completes the response after the handler returned normally.
// It reports whether the response was complete and delimited, so the
// connection may carry another request.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.handlerDone = true
	if !w.committed {
		w.commit(true)
	}
	if w.err == nil {
		w.err = w.emitStage()
	}
	if w.mode == modeChunked {
		w.c.bufw.WriteString("0\r\n\r\n")
	}
	if w.mode == modeLength && w.written < w.clen {
		w.closeAfter = true // the client waits for bytes that will never come
	}
	if err := w.c.bufw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err == nil && !w.closeAfter
}

// ReadFrom implements io.ReaderFrom by copying through Write.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, isFile := lr.R.(*os.File); isFile {
			if n, handled, err := w.sendFile(lr); handled {
				return n, err
			}
		}
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// sendFile hands a file body straight to the TCP connection (sendfile(2))
// when the response is framed by Content-Length on a plain TCP connection.
// handled is false when it cannot, and nothing was written.
func (w *response) sendFile(lr *io.LimitedReader) (n int64, handled bool, err error) {
	if w.c.hijacked.Load() || w.handlerDone {
		return 0, false, nil
	}
	// A *net.TCPConn, or a wrapper of one that keeps its ReadFrom (the
	// listener's connection limits).
	tcp, ok := w.c.rwc.(interface {
		io.ReaderFrom
		SetWriteDeadline(time.Time) error
	})
	if !ok {
		return 0, false, nil // TLS and others copy through the buffer
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.isHEAD || !bodyAllowed(w.status) || w.clen < 0 || w.err != nil || w.written+lr.N > w.clen {
		return 0, false, nil
	}
	c := w.c
	if !w.committed {
		w.commit(false)
	}
	if w.mode != modeLength {
		return 0, false, nil
	}
	if len(c.stage) > 0 {
		_, err = c.bufw.Write(c.stage)
		c.stage = c.stage[:0]
	}
	if err == nil {
		err = c.bufw.Flush()
	}
	// In steps of FileWriteChunk, each with its own write deadline
	// (Server.WriteTimeout).
	for err == nil && lr.N > 0 {
		step := &io.LimitedReader{R: lr.R, N: min(lr.N, FileWriteChunk)}
		c.wdl.arm(tcp, c.srv.writeTimeout())
		var m int64
		m, err = tcp.ReadFrom(step)
		n += m
		lr.N -= m
		w.written += m
		if err == nil && m == 0 {
			break // the file ended early
		}
		if err != nil {
			c.writeFailed(err)
		}
	}
	if err != nil {
		w.err = err
	}
	return n, true, err
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Hijack implements http.Hijacker. The server forgets the connection; the
// returned bufio.ReadWriter holds any bytes already read from it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked.Load() {
		return nil, nil, http.ErrHijacked
	}
	if w.handlerDone {
		return nil, nil, errHijackAfterHandler
	}
	if w.wroteHeader {
		if !w.committed {
			w.commit(false)
		}
		w.emitStage()
	}
	if w.expectContinue {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	c.r.abortPendingRead()
	if err := c.bufw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijack()
	return c.rwc, bufio.NewReadWriter(c.bufr, c.bufw), nil
}

// SetReadDeadline sets the connection's read deadline (for
// http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline (for
// http.ResponseController).
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.wdl.reset()
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex is a no-op: the server never discards the request body
// while the handler runs, so reading and writing may always interleave.
func (w *response) EnableFullDuplex() error { return nil }

// statusLines caches "HTTP/1.1 NNN Text\r\n" for the codes net/http knows.
var statusLines = func() (t [600][]byte) {
	for code := range t {
		if text := http.StatusText(code); text != "" {
			t[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
		}
	}
	return t
}()

func statusLine(code int) []byte {
	if code < len(statusLines) && statusLines[code] != nil {
		return statusLines[code]
	}
	s := strconv.Itoa(code)
	return []byte("HTTP/1.1 " + s + " status code " + s + "\r\n")
}
