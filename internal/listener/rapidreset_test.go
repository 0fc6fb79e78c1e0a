package listener

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/strata-cdn/strata/internal/testutil"
)

// An HTTP/2 rapid reset (HEADERS + RST_STREAM in a loop on one TLS
// connection) gets the connection closed, and the handler (the origin
// fetch behind it) runs for far fewer streams than were opened; an
// ordinary HTTP/2 client on another connection is served meanwhile.
func TestRapidReset(t *testing.T) {
	const streams = 2000
	var calls atomic.Int64
	cert, _ := testutil.TLSCert(t, "127.0.0.1")
	s, err := New(Options{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1) // an origin fetch of some milliseconds
			select {
			case <-r.Context().Done():
			case <-time.After(50 * time.Millisecond):
			}
			io.WriteString(w, "ok")
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
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
	closed := make(chan error, 1)
	type goAwayRead struct {
		code  http2.ErrCode
		debug string
	}
	var goAway atomic.Pointer[goAwayRead]
	go func() { // read frames until the server closes, keeping its GOAWAY
		rf := http2.NewFramer(nil, c)
		for {
			f, err := rf.ReadFrame()
			if err != nil {
				closed <- err
				return
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				goAway.Store(&goAwayRead{ga.ErrCode, string(ga.DebugData())})
			}
		}
	}()
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := hb.Bytes()
	sent := 0
	c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	for id := uint32(1); sent < streams; id += 2 {
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break // the server closed the connection
		}
		sent++
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatalf("connection still open after %d HEADERS+RST_STREAM (%d handler calls)", sent, calls.Load())
	}
	ga := goAway.Load()
	if ga == nil || ga.code != http2.ErrCodeEnhanceYourCalm || ga.debug != "rapid reset" {
		t.Fatalf("GOAWAY before the close: %+v, want ENHANCE_YOUR_CALM \"rapid reset\"", ga)
	}
	if n := calls.Load(); n > streams/4 {
		t.Errorf("handler ran %d times for %d reset streams; want far fewer", n, sent)
	}
	t.Logf("%d streams sent and reset, %d handler calls, connection closed", sent, calls.Load())

	// An ordinary HTTP/2 client is served, its streams completed.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ {
		resp, err := client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || string(b) != "ok" {
			t.Fatalf("ordinary client: %s %q", resp.Proto, b)
		}
	}
}
