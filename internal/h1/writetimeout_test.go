package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallBuffers keeps the kernel's socket buffers on the server side small,
// so a client that stops reading stops the server's writes soon.
func smallBuffers(s *Server) {
	s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetWriteBuffer(16 << 10)
		}
		return ctx
	}
}

// A client that reads one byte a second is cut: the handler's writes fail
// within a few WriteTimeouts, long before the body is sent, both for
// writes through the buffer and for a file sent with sendfile.
func TestWriteTimeoutCutsSlowReader(t *testing.T) {
	const size = 64 << 20
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"write", "sendfile"} {
		t.Run(mode, func(t *testing.T) {
			type result struct {
				n   int64
				err error
				at  time.Time
			}
			done := make(chan result, 1)
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(size))
				var n int64
				var err error
				if mode == "sendfile" {
					f, _ := os.Open(file)
					defer f.Close()
					n, err = io.Copy(w, f)
				} else {
					buf := make([]byte, 32<<10)
					for n < size && err == nil {
						var m int
						m, err = w.Write(buf)
						n += int64(m)
					}
					if err == nil {
						err = http.NewResponseController(w).Flush()
					}
				}
				done <- result{n, err, time.Now()}
			}), smallBuffers, func(s *Server) { s.WriteTimeout = 300 * time.Millisecond })

			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			start := time.Now()
			fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte a second
				b := make([]byte, 1)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
					if _, err := c.Read(b); err != nil {
						return
					}
				}
			}()
			select {
			case r := <-done:
				if r.err == nil || r.n >= size {
					t.Fatalf("handler wrote %d bytes, err %v; want a write error well before %d", r.n, r.err, size)
				}
				if d := r.at.Sub(start); d > 15*time.Second {
					t.Errorf("slow reader cut after %v; want within seconds", d)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("a client reading 1 byte/s held the connection for 30 s")
			}
		})
	}
}

// The deadline is one of progress, not a total: a response that takes many
// WriteTimeouts to reach a slow but steady client arrives whole.
func TestWriteTimeoutAllowsSlowSteadyClient(t *testing.T) {
	const size = 512 << 10
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write([]byte(strings.Repeat("a", size)))
	}), smallBuffers, func(s *Server) { s.WriteTimeout = 500 * time.Millisecond })

	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	start := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	var n int
	for {
		m, err := io.ReadFull(resp.Body, buf)
		n += m
		if err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // about 1.5 MB/s
	}
	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	t.Logf("%d bytes in %v with WriteTimeout 500ms", n, time.Since(start))
}
