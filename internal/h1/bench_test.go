package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchRequest is a typical browser GET for a cached object.
const benchRequest = "GET /static/app.3f9a2c.js?v=2 HTTP/1.1\r\n" +
	"Host: cdn.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Site: same-site\r\n" +
	"\r\n"

var benchBody = bytes.Repeat([]byte("x"), 1024)

// benchHandler answers like a cache hit: a few headers, 1 KiB with a
// Content-Length.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"application/javascript"}
	h["Cache-Control"] = []string{"public, max-age=31536000, immutable"}
	h["Etag"] = []string{`"3f9a2c"`}
	h["Content-Length"] = []string{"1024"}
	w.Write(benchBody)
})

// BenchmarkServe measures one keep-alive request/response round trip over
// loopback, against this server and against net/http's with the same
// handler and the same allocation-free raw client. allocs/op counts the
// server's allocations (the client makes none).
func BenchmarkServe(b *testing.B) {
	b.Run("h1", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &Server{Handler: benchHandler, Logger: quietLogger()}
		go s.Serve(l)
		defer s.Close()
		benchRoundTrips(b, l.Addr().String())
	})
	b.Run("net-http", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &http.Server{Handler: benchHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		go s.Serve(l)
		defer s.Close()
		benchRoundTrips(b, l.Addr().String())
	})
}

// BenchmarkServeParallel is BenchmarkServe with 16 connections at once:
// with the CPUs saturated, ns/op reflects the CPU cost per request
// (client included, and the client is the same for both servers).
func BenchmarkServeParallel(b *testing.B) {
	b.Run("h1", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &Server{Handler: benchHandler, Logger: quietLogger()}
		go s.Serve(l)
		defer s.Close()
		benchParallel(b, l.Addr().String())
	})
	b.Run("net-http", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &http.Server{Handler: benchHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		go s.Serve(l)
		defer s.Close()
		benchParallel(b, l.Addr().String())
	})
}

func benchParallel(b *testing.B, addr string) {
	b.ReportAllocs()
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 connections
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 8<<10)
		req := []byte(benchRequest)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if _, err := readRawResponse(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchRoundTrips(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 8<<10)
	req := []byte(benchRequest)
	roundTrip := func() error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		n, err := readRawResponse(br)
		if err == nil && n != 1024 {
			err = errors.New("short body")
		}
		return err
	}
	for range 10 { // warm up the connection and the pools
		if err := roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
}

// readRawResponse reads a response head and its Content-Length body
// without allocating, and returns the body length.
func readRawResponse(br *bufio.Reader) (int, error) {
	cl := -1
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if first {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return 0, errors.New("bad status line: " + string(line))
			}
			first = false
			continue
		}
		if len(line) == 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("content-length")) {
			cl, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if cl < 0 {
		return 0, errors.New("no Content-Length")
	}
	_, err := br.Discard(cl)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return cl, err
}

// BenchmarkServeInMemory is BenchmarkServe without the kernel: one
// connection whose reads deliver the next request once the previous
// response was written. ns/op is the server's own CPU cost per request
// (plus a little of the fake connection's), which loopback system calls
// hide on a virtual machine.
func BenchmarkServeInMemory(b *testing.B) {
	b.Run("h1", func(b *testing.B) {
		s := &Server{Handler: benchHandler, Logger: quietLogger()}
		benchInMemory(b, s.Serve, s.Close)
	})
	b.Run("net-http", func(b *testing.B) {
		s := &http.Server{Handler: benchHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		benchInMemory(b, s.Serve, s.Close)
	})
}

func benchInMemory(b *testing.B, serve func(net.Listener) error, stop func() error) {
	b.ReportAllocs()
	mc := newMemConn([]byte(benchRequest), b.N)
	l := &oneConnListener{c: mc, closed: make(chan struct{})}
	b.ResetTimer()
	go serve(l)
	<-mc.done
	b.StopTimer()
	stop()
}

// memConn is a net.Conn that plays a keep-alive client: it offers req,
// and again after each response (one Write), n times in all.
type memConn struct {
	req   []byte
	done  chan struct{}
	mu    sync.Mutex
	cond  sync.Cond
	timer *time.Timer

	left     int // responses still expected
	ready    bool
	off      int // offset in req of the request being read
	deadline time.Time
	closed   bool
}

func newMemConn(req []byte, n int) *memConn {
	c := &memConn{req: req, done: make(chan struct{}), left: n, ready: true}
	c.cond.L = &c.mu
	c.timer = time.AfterFunc(time.Hour, func() { c.cond.Broadcast() })
	return c
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, io.EOF
		case !c.deadline.IsZero() && !time.Now().Before(c.deadline):
			return 0, os.ErrDeadlineExceeded
		case c.ready:
			n := copy(p, c.req[c.off:])
			c.off += n
			if c.off == len(c.req) {
				c.off, c.ready = 0, false
			}
			return n, nil
		}
		c.cond.Wait()
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.left--; c.left == 0 {
		close(c.done)
	} else {
		c.ready = true
		c.cond.Broadcast()
	}
	return len(p), nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	if !t.IsZero() {
		c.timer.Reset(time.Until(t))
	}
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

func (c *memConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "192.0.2.1:1234" }

// oneConnListener accepts one connection, then blocks until closed.
type oneConnListener struct {
	c      net.Conn
	once   sync.Once
	closed chan struct{}
	taken  bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.taken {
		l.taken = true
		return l.c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return memAddr{} }
