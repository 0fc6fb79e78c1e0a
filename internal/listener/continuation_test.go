package listener

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/strata-cdn/strata/internal/testutil"
)

// A CONTINUATION flood (CVE-2024-27316 and kin): HEADERS without
// END_HEADERS followed by CONTINUATION frames without end. The connection
// is closed once the header block passes MaxHeaderBytes (x/net/http2
// counts it as it comes, it does not buffer it), long before the client
// stops, and the handler never runs.
func TestContinuationFloodClosed(t *testing.T) {
	var calls atomic.Int64
	cert, _ := testutil.TLSCert(t, "127.0.0.1")
	s, err := New(Options{
		Handler:        http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }),
		TLSConfig:      &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}},
		MaxHeaderBytes: 16 << 10,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(ln)
	t.Cleanup(func() { s.Close() })

	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	var goAway atomic.Value
	go func() {
		defer close(closed)
		rf := http2.NewFramer(nil, c)
		for {
			f, err := rf.ReadFrame()
			if err != nil {
				return
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				goAway.Store(ga.ErrCode)
			}
		}
	}()
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, nil)
	fr.WriteSettings()
	// A literal header field without indexing, new name: 0x40, name, value.
	field := func(name, value string) []byte {
		b := []byte{0x40, byte(len(name))}
		b = append(b, name...)
		b = append(b, byte(len(value)))
		return append(b, value...)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: append(field(":method", "GET"), field(":path", "/")...)})
	chunk := field("x-flood", strings.Repeat("a", 100))
	const max = 100_000 // 10 MB of header block
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	sent := 0
	for ; sent < max; sent++ {
		if fr.WriteContinuation(1, false, chunk) != nil {
			break // the server closed the connection
		}
	}
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("connection still open after %d CONTINUATION frames", sent)
	}
	if sent == max {
		t.Fatalf("all %d CONTINUATION frames (%d bytes) were taken", max, max*len(chunk))
	}
	if calls.Load() != 0 {
		t.Fatalf("the handler ran")
	}
	t.Logf("closed after %d CONTINUATION frames; GOAWAY %v", sent, goAway.Load())
}
