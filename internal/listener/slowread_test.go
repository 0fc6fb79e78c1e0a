package listener

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/strata-cdn/strata/internal/testutil"
)

// smallSendBuffer keeps the kernel's send buffer of accepted connections
// small, so a client that stops reading stops the server's writes soon.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// An HTTP/2 client that opens its flow-control windows and then reads
// nothing is cut by the write progress deadline: the handler's writes fail
// within seconds, long before its body is sent.
func TestWriteTimeoutHTTP2(t *testing.T) {
	const size = 64 << 20
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	cert, _ := testutil.TLSCert(t, "127.0.0.1")
	s, err := New(Options{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 32<<10)
			var n int
			var err error
			for n < size && err == nil {
				var m int
				m, err = w.Write(buf)
				n += m
			}
			done <- result{n, err}
		}),
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}},
		WriteTimeout: 300 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(smallSendBuffer{ln})
	t.Cleanup(func() { s.Close() })

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.(*net.TCPConn).SetReadBuffer(4 << 10)
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	fr.WriteWindowUpdate(0, 1<<31-1-65535)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/big"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	start := time.Now()
	// Then read nothing.
	select {
	case r := <-done:
		if r.err == nil || r.n >= size {
			t.Fatalf("handler wrote %d bytes, err %v; want a write error well before %d", r.n, r.err, size)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("slow reader cut after %v; want within seconds", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an HTTP/2 client reading nothing held its stream for 30 s")
	}
}
