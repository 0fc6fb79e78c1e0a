package disk

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// serveOnce accepts one connection and sends what it received on the
// returned channel when it closes, or, with discard, throws it away.
func serveOnce(t testing.TB, discard bool) (*net.TCPConn, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		if discard {
			io.Copy(io.Discard, c)
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !discard {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return c.(*net.TCPConn), got
}

// TestCopyToTCP copies bodies to a real loopback connection with io.Copy.
// io.Copy calls BodyReader.WriteTo, which hands the *os.File to
// (*net.TCPConn).ReadFrom under an io.LimitedReader: on Linux that is
// sendfile(2) from the body's offset for exactly Size bytes (verified with
// strace -e sendfile). The bytes after the body (the trailer) and before a
// Seek offset must not reach the peer.
func TestCopyToTCP(t *testing.T) {
	s := openStore(t, Options{})
	body := randBytes(3, 4<<20+123)
	put(t, s.Store, "video.mp4", []byte("meta"), body, int64(len(body)))
	e, err := s.Get("video.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	for _, start := range []int64{0, 1<<20 + 7} {
		conn, got := serveOnce(t, false)
		r := e.Body()
		r.Seek(start, io.SeekStart) // a range request
		n, err := io.Copy(conn, r)
		if err != nil || n != int64(len(body))-start {
			t.Fatalf("io.Copy from %d = %d, %v; want %d bytes", start, n, err, int64(len(body))-start)
		}
		conn.CloseWrite()
		if b := <-got; !bytes.Equal(b, body[start:]) {
			t.Fatalf("peer got %d bytes differing from body[%d:] (%d bytes)", len(b), start, len(body[start:]))
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := openStore(b, Options{})
	body := randBytes(1, 1<<20)
	put(b, s.Store, "https://example.com/1MiB.bin", []byte("status=200 content-type=application/octet-stream"), body, int64(len(body)))
	get(b, s.Store, "https://example.com/1MiB.bin")
	buf := make([]byte, len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.Get("https://example.com/1MiB.bin")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(e.Body(), buf); err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

// BenchmarkGetTCP measures a hit served to a loopback socket by sendfile.
func BenchmarkGetTCP(b *testing.B) {
	s := openStore(b, Options{})
	body := randBytes(1, 1<<20)
	put(b, s.Store, "k", nil, body, int64(len(body)))
	get(b, s.Store, "k")
	conn, _ := serveOnce(b, true)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.Get("k")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(conn, e.Body()); err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}
