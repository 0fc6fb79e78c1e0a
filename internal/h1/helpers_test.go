package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

// testServer is a Server on 127.0.0.1:0 that counts handler calls and
// records OnError reports.
type testServer struct {
	*Server
	addr  string
	calls atomic.Int64
	done  chan error // Serve's result

	mu     sync.Mutex
	errors []reportedError
}

type reportedError struct {
	status int
	reason string
}

func (ts *testServer) reported() []reportedError {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]reportedError(nil), ts.errors...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer serves h on a fresh loopback listener; opts may adjust the
// Server before Serve. The server is closed at cleanup.
func startServer(t testing.TB, h http.Handler, opts ...func(*Server)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, l, h, opts...)
}

func serveOn(t testing.TB, l net.Listener, h http.Handler, opts ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{Server: &Server{Logger: quietLogger()}, addr: l.Addr().String(), done: make(chan error, 1)}
	ts.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		h.ServeHTTP(w, r)
	})
	ts.OnError = func(_ net.Addr, status int, reason string) {
		ts.mu.Lock()
		ts.errors = append(ts.errors, reportedError{status, reason})
		ts.mu.Unlock()
	}
	for _, o := range opts {
		o(ts.Server)
	}
	go func() { ts.done <- ts.Serve(l) }()
	t.Cleanup(func() {
		ts.Close()
		select {
		case err := <-ts.done:
			if !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

// dial opens a raw connection with an overall deadline.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readToEOF reads until the server closes the connection and fails the
// test if it does not within the deadline.
func readToEOF(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading to EOF: %v (got %q)", err, b)
	}
	return b
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// readResponse reads one response for a request with the given method.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	resp.Body.Close()
	return resp, body
}

// waitFor polls cond until it holds or the timeout passes.
// waitFor is testutil.WaitFor (kept so other tests of this package read
// the same).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, timeout, what, cond)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// refusal is a request the parser must refuse with status, without calling
// the handler, and close the connection.
type refusal struct {
	name   string
	req    string
	status int
}

const host = "Host: example.com\r\n"

var refusals = []refusal{
	// Framing: request smuggling ingredients.
	{"CL then TE", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE then CL", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
	{"TE chunked, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE two lines", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE two lines gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE space before colon", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE xchunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
	{"TE chunked with parameter", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;x\r\n\r\n0\r\n\r\n", 400},
	{"TE identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 400},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"TE vertical tab", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\vchunked\r\n\r\n0\r\n\r\n", 400},
	{"CL list differing", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\nhello", 400},
	{"CL list identical", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\nhello", 400},
	{"CL two lines differing", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400},
	{"CL plus sign", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", 400},
	{"CL negative", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
	{"CL hex", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x10\r\n\r\n", 400},
	{"CL huge", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
	{"CL over 2^62", "POST / HTTP/1.1\r\n" + host + "Content-Length: 4611686018427387905\r\n\r\n", 400},
	{"CL empty", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", 400},
	{"CL space inside", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1 0\r\n\r\n", 400},
	{"CL space before colon", "POST / HTTP/1.1\r\n" + host + "Content-Length : 5\r\n\r\nhello", 400},

	// Line endings and characters.
	{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", 400},
	{"obs-fold with tab", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\n\tb\r\n\r\n", 400},
	{"bare LF everywhere", "GET / HTTP/1.1\nHost: example.com\n\n", 400},
	{"bare LF after request line", "GET / HTTP/1.1\n" + host + "\r\n", 400},
	{"bare LF in field line", "GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", 400},
	{"bare LF ending head", "GET / HTTP/1.1\r\n" + host + "\n", 400},
	{"bare LF leading line", "\nGET / HTTP/1.1\r\n" + host + "\r\n", 400},
	{"bare CR in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\rb\r\n\r\n", 400},
	{"bare CR line ending", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\r\n\r\n", 400},
	{"bare CR in request line", "GET /\r HTTP/1.1\r\n" + host + "\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\x7fb\r\n\r\n", 400},
	{"space in field name", "GET / HTTP/1.1\r\n" + host + "X A: b\r\n\r\n", 400},
	{"empty field name", "GET / HTTP/1.1\r\n" + host + ": b\r\n\r\n", 400},
	{"field without colon", "GET / HTTP/1.1\r\n" + host + "X-A\r\n\r\n", 400},
	{"too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n", 400},

	// Host.
	{"missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400},
	{"two identical Hosts", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n", 400},
	{"Host with slash", "GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n", 400},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n", 400},
	{"Host with bad port", "GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n", 400},
	{"Host with bad IPv6", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400},
	{"absolute-form disagrees with Host", "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", 400},
	{"absolute-form empty authority", "GET http:///x HTTP/1.1\r\nHost: \r\n\r\n", 400},
	{"absolute-form with userinfo", "GET http://u@a.example/ HTTP/1.1\r\nHost: u@a.example\r\n\r\n", 400},
	{"absolute-form other scheme", "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},

	// Request line.
	{"bad version 1.2", "GET / HTTP/1.2\r\n" + host + "\r\n", 505},
	{"bad version 2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
	{"garbage version", "GET / HTTP/1.1x\r\n" + host + "\r\n", 400},
	{"lower-case version", "GET / http/1.1\r\n" + host + "\r\n", 400},
	{"HTTP/0.9", "GET /\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
	{"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400},
	{"tab separator", "GET\t/ HTTP/1.1\r\n" + host + "\r\n", 400},
	{"leading space", " GET / HTTP/1.1\r\n" + host + "\r\n", 400},
	{"method not a token", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
	{"fragment in target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400},
	{"NUL in target", "GET /a\x00b HTTP/1.1\r\n" + host + "\r\n", 400},
	{"bad escape in target", "GET /%zz HTTP/1.1\r\n" + host + "\r\n", 400},
	{"asterisk with GET", "GET * HTTP/1.1\r\n" + host + "\r\n", 400},
	{"authority-form with GET", "GET example.com:80 HTTP/1.1\r\n" + host + "\r\n", 400},
	{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501},

	// Limits.
	{"too many headers", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X-A: b\r\n", 100) + "\r\n", 431},
	{"too big headers", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X-Big: "+strings.Repeat("b", 1000)+"\r\n", 40) + "\r\n", 431},
	{"one huge header", "GET / HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("b", 40<<10) + "\r\n\r\n", 431},
	{"request line too long", "GET /" + strings.Repeat("a", 9<<10) + " HTTP/1.1\r\n" + host + "\r\n", 414},
	{"request line too long, small", "GET /" + strings.Repeat("a", 8<<10) + " HTTP/1.1\r\n" + host + "\r\n", 414},

	// Expectations.
	{"unknown expectation", "POST / HTTP/1.1\r\n" + host + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
	{"two expectations", "POST / HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", 417},

	// Trailer declarations that would smuggle framing.
	{"Trailer declares Content-Length", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n", 400},
}

// statusOf returns the status code of a raw response.
func statusOf(resp []byte) int {
	line, _, _ := bytes.Cut(resp, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || len(f[1]) != 3 {
		return 0
	}
	n := 0
	for _, c := range f[1] {
		n = n*10 + int(c-'0')
	}
	return n
}
