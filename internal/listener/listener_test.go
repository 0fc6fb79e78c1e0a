package listener

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

func start(t *testing.T, h http.Handler) (*Server, string, *http.Client) {
	return startOn(t, h, nil)
}

// startOn serves h over TLS on a loopback listener, wrapped by wrap if set.
func startOn(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) (*Server, string, *http.Client) {
	t.Helper()
	cert, pool := testutil.TLSCert(t, "127.0.0.1")
	s, err := New(Options{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	go s.ServeTLS(ln)
	t.Cleanup(func() { s.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return s, url, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Shutdown lets an HTTP/2 request in flight finish, then returns.
func TestShutdownDrainsHTTP2(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s, url, client := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished "+r.Proto)
	}))
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get(url + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished HTTP/2.0" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// A handler that aborts after the headers went out (a truncated origin
// body) resets the HTTP/2 stream: the client sees an error, not a short
// body presented as complete.
func TestAbortOverHTTP2(t *testing.T) {
	_, url, client := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, strings.Repeat("x", 10))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("proto %s", resp.Proto)
	}
	if b, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("read %d bytes and no error", len(b))
	}
}
