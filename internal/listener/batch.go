package listener

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/h1"
)

// batchConn is the connection an HTTP/2 server writes to: it gathers the
// server's writes and hands them to the TLS connection from a goroutine of
// its own, so the writes made while that goroutine waits to run go out
// together, in one TLS record and one system call.
//
// x/net/http2 writes each response as a HEADERS frame, for which the
// handler waits, then its DATA frames, and flushes the connection whenever
// its queue of frames is empty: between the two, and again after the DATA.
// Every response then costs two records and two writes to the socket,
// however many streams are open. Here those flushes cost a copy: the
// frames of a response, and of the other responses of the connection
// finished meanwhile, are written at once. Nothing waits on a timer: the
// gathered bytes go out as soon as the writing goroutine runs, which on an
// idle machine is at once.
//
// Back pressure is kept: Write blocks while batchMax bytes are waiting,
// so a viewer that stops reading stops the server as before. A write error
// is returned by the next Write (the connection is closed at once, which
// also ends the server's reads). Close first lets the gathered bytes go out
// (the last responses, a GOAWAY), for at most closeDrain.
type batchConn struct {
	*tls.Conn // Read, ConnectionState, deadlines, addresses

	mu       sync.Mutex
	drained  sync.Cond // signalled when pending shrinks or the writer stops
	pending  *[]byte   // gathered bytes, nil when none
	writing  bool      // a writer goroutine is running
	err      error     // the first write error, or net.ErrClosed after Close
	closeErr error

	// writeTimeout is the progress deadline of the writes to the
	// connection (as h1.Server.WriteTimeout): each step of h1.WriteChunk
	// bytes must be taken within it, else the connection is closed. Zero:
	// none.
	writeTimeout time.Duration
	wdl          int64       // the write deadline armWrite set, unix nanos (writer goroutine only)
	closing      atomic.Bool // Close set its drain deadline: no step extends it

	// HTTP/2 frame boundaries of what the server wrote (goaway.go), so a
	// GOAWAY of ours goes between two of its frames.
	frames frameTracker
	goAway []byte // a GOAWAY to send at the next frame boundary
	sealed bool   // the GOAWAY went out: the server's later writes are dropped
}

const (
	batchMax   = 64 << 10
	closeDrain = 5 * time.Second // as crypto/tls allows its close_notify
)

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func newBatchConn(c *tls.Conn, writeTimeout time.Duration) *batchConn {
	b := &batchConn{Conn: c, writeTimeout: writeTimeout}
	b.drained.L = &b.mu
	return b
}

// Write copies p and makes sure a writer goroutine will send it.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && c.pending != nil && len(*c.pending) >= batchMax {
		c.drained.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.sealed {
		return len(p), nil // after our GOAWAY: the connection is closing
	}
	if c.pending == nil {
		c.pending = batchBufs.Get().(*[]byte)
	}
	if c.goAway != nil {
		n := c.frames.untilBoundary(p)
		*c.pending = append(*c.pending, p[:n]...)
		c.frames.feed(p[:n])
		if c.frames.atBoundary() {
			c.sealGoAway()
		}
	} else {
		*c.pending = append(*c.pending, p...)
		c.frames.feed(p)
	}
	if !c.writing {
		c.writing = true
		go c.writeOut()
	}
	return len(p), nil
}

// writeOut writes what is gathered until nothing is left.
func (c *batchConn) writeOut() {
	c.mu.Lock()
	for c.pending != nil && c.err == nil {
		b := c.pending
		c.pending = nil
		c.drained.Broadcast()
		c.mu.Unlock()
		err := c.writeSteps(*b)
		*b = (*b)[:0]
		if cap(*b) <= 4*batchMax {
			batchBufs.Put(b)
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
			c.Conn.Close() // the server's reads end too
		}
	}
	c.writing = false
	c.drained.Broadcast()
	c.mu.Unlock()
}

// armWrite moves the write deadline forward, only when less than 3/4 of
// writeTimeout is left (as h1 does: a deadline costs a timer update; each
// step gets between 3/4 of writeTimeout and all of it). Only the writer
// goroutine calls it.
func (c *batchConn) armWrite() {
	now := time.Now()
	if c.wdl-now.UnixNano() >= int64(c.writeTimeout-c.writeTimeout/4) {
		return
	}
	t := now.Add(c.writeTimeout)
	c.Conn.SetWriteDeadline(t)
	c.wdl = t.UnixNano()
}

// writeSteps writes b in steps of h1.WriteChunk, each with its own write
// deadline when writeTimeout is set. It runs without c.mu.
func (c *batchConn) writeSteps(b []byte) error {
	if c.writeTimeout <= 0 {
		_, err := c.Conn.Write(b)
		return err
	}
	for len(b) > 0 {
		step := min(len(b), h1.WriteChunk)
		if !c.closing.Load() {
			c.armWrite()
		}
		if _, err := c.Conn.Write(b[:step]); err != nil {
			return err
		}
		b = b[step:]
	}
	return nil
}

// Close sends what is gathered (for at most closeDrain), then closes the
// TLS connection.
func (c *batchConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == net.ErrClosed {
		return c.closeErr
	}
	if c.writing {
		c.closing.Store(true)
		c.Conn.SetWriteDeadline(time.Now().Add(closeDrain))
		for c.writing {
			c.drained.Wait()
		}
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.closeErr = c.Conn.Close()
	c.err = net.ErrClosed
	return c.closeErr
}
