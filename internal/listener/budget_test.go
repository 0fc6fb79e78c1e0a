package listener

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

// An HTTP/2 connection is closed gracefully after its request budget: the
// client's requests all succeed, over a new connection every 5.
func TestHTTP2RequestBudget(t *testing.T) {
	cert, _ := testutil.TLSCert(t, "127.0.0.1")
	s, err := New(Options{
		Handler:            http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		TLSConfig:          &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		MaxRequestsPerConn: 5,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
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
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	conns := map[string]bool{}
	for i := range 12 {
		var local string
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { local = ci.Conn.LocalAddr().String() }}
		req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/", nil)
		resp, err := client.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" || resp.Proto != "HTTP/2.0" {
			t.Fatalf("request %d: %d %s %q", i, resp.StatusCode, resp.Proto, b)
		}
		if resp.Header.Get("Connection") != "" {
			t.Fatalf("Connection field sent over HTTP/2")
		}
		conns[local] = true
	}
	if len(conns) != 3 {
		t.Fatalf("12 requests went over %d connections, want 3 (a budget of 5)", len(conns))
	}
}
