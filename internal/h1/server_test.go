package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

func TestRefusals(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "handled")
	}))
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.calls.Load()
			nerr := len(ts.reported())
			c := dial(t, ts.addr)
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			resp := readToEOF(t, c)
			if got := statusOf(resp); got != tc.status {
				t.Fatalf("status %d, want %d; response %q", got, tc.status, resp)
			}
			head, _, _ := bytes.Cut(resp, []byte("\r\n\r\n"))
			if !bytes.Contains(head, []byte("\r\nConnection: close\r\n")) {
				t.Errorf("no Connection: close in %q", head)
			}
			if ts.calls.Load() != before {
				t.Errorf("handler was called")
			}
			rep := ts.reported()
			if len(rep) != nerr+1 || rep[nerr].status != tc.status || rep[nerr].reason == "" {
				t.Errorf("OnError reports %v, want one with status %d", rep[nerr:], tc.status)
			}
		})
	}
}

func TestAcceptedEdgeCases(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%s %s host=%q te=%v cl=%d body=%q", r.Method, r.RequestURI, r.Host, r.TransferEncoding, r.ContentLength, b)
	}))
	cases := []struct{ name, req, want string }{
		{"TE with tab OWS", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\tchunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
			`POST / host="example.com" te=[chunked] cl=-1 body="x"`},
		{"TE upper case", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: CHUNKED \r\n\r\n0\r\n\r\n",
			`POST / host="example.com" te=[chunked] cl=-1 body=""`},
		{"CL identical lines", "POST / HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
			`POST / host="example.com" te=[] cl=2 body="ab"`},
		{"leading empty lines", "\r\n\r\nGET /x HTTP/1.1\r\n" + host + "\r\n",
			`GET /x host="example.com" te=[] cl=0 body=""`},
		{"absolute-form", "GET http://Example.com:8080/p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
			`GET http://Example.com:8080/p?q=1 host="Example.com:8080" te=[] cl=0 body=""`},
		{"IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", `GET / host="[::1]:80" te=[] cl=0 body=""`},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", `GET / host="" te=[] cl=0 body=""`},
		{"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", `OPTIONS * host="example.com" te=[] cl=0 body=""`},
		{"obs-text in value", "GET / HTTP/1.1\r\n" + host + "X-A: caf\xe9\r\n\r\n", `GET / host="example.com" te=[] cl=0 body=""`},
		{"chunk extensions", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3;a=b;c=\"d \\\" e\"\r\nabc\r\n0;z\r\n\r\n",
			`POST / host="example.com" te=[chunked] cl=-1 body="abc"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			io.WriteString(c, tc.req)
			resp, body := readResponse(t, bufio.NewReader(c), "GET")
			if resp.StatusCode != 200 || string(body) != tc.want {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

// TestChunkedBodyErrors: the head is fine, so the handler runs, but
// Body.Read fails and the connection is not reused (a request pipelined
// behind the broken body is never served).
func TestChunkedBodyErrors(t *testing.T) {
	bodyErr := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
		if err != nil {
			http.Error(w, "bad body", 400)
			return
		}
		io.WriteString(w, "ok")
	}))
	next := "GET /next HTTP/1.1\r\n" + host + "\r\n"
	cases := []struct{ name, body string }{
		{"bad chunk size", "zz\r\nabc\r\n0\r\n\r\n"},
		{"empty chunk size", "\r\nabc\r\n0\r\n\r\n"},
		{"chunk size overflow", "fffffffffffffffffff1\r\n" + strings.Repeat("a", 10) + "\r\n0\r\n\r\n"},
		{"negative chunk size", "-1\r\nx\r\n0\r\n\r\n"},
		{"bare LF after size", "3\nabc\r\n0\r\n\r\n"},
		{"bare LF after data", "3\r\nabc\n0\r\n\r\n"},
		{"data longer than size", "3\r\nabcd\r\n0\r\n\r\n"},
		{"space after size", "3 \r\nabc\r\n0\r\n\r\n"},
		{"bad extension", "3;=x\r\nabc\r\n0\r\n\r\n"},
		{"unterminated quoted extension", "3;a=\"x\r\nabc\r\n0\r\n\r\n"},
		{"extension too long", "3;a=" + strings.Repeat("x", 5000) + "\r\nabc\r\n0\r\n\r\n"},
		{"bare LF in trailer", "0\r\nX-T: a\n\r\n"},
		{"obs-fold in trailer", "0\r\nX-T: a\r\n b\r\n\r\n"},
		{"bad trailer name", "0\r\nX T: a\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			io.WriteString(c, "POST / HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\n\r\n"+tc.body+next)
			resp := readToEOF(t, c)
			select {
			case err := <-bodyErr:
				if err == nil {
					t.Fatal("Body.Read succeeded")
				}
				if !errors.Is(err, ErrMalformedBody) {
					t.Fatalf("Body.Read error %v does not match ErrMalformedBody", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("handler did not read the body")
			}
			if statusOf(resp) != 400 {
				t.Fatalf("response %q", resp)
			}
			if bytes.Contains(resp, []byte("ok")) {
				t.Fatalf("pipelined request after a broken body was served: %q", resp)
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	type seen struct {
		r       *http.Request
		body    string
		trailer http.Header
		ctxErr  error
	}
	got := make(chan seen, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("body: %v", err)
		}
		got <- seen{r, string(b), r.Trailer.Clone(), r.Context().Err()}
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)

	io.WriteString(c, "GET /a%20b/c?x=1&y=2 HTTP/1.1\r\nhost: example.com\r\nx-lower: v1\r\nX-LOWER: v2\r\naccept-encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	readResponse(t, br, "GET")
	s := <-got
	r := s.r
	if r.Method != "GET" || r.URL.Path != "/a b/c" || r.URL.RawQuery != "x=1&y=2" || r.RequestURI != "/a%20b/c?x=1&y=2" {
		t.Errorf("method/url: %q %#v %q", r.Method, r.URL, r.RequestURI)
	}
	if r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Host != "example.com" || r.URL.Scheme != "" {
		t.Errorf("proto/host: %q %d.%d %q %q", r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.URL.Scheme)
	}
	if v := r.Header["X-Lower"]; len(v) != 2 || v[0] != "v1" || v[1] != "v2" {
		t.Errorf("X-Lower = %q", v)
	}
	if r.Header.Get("Accept-Encoding") != "gzip" || r.Header["Host"] != nil {
		t.Errorf("header = %v", r.Header)
	}
	if r.Body != http.NoBody || r.ContentLength != 0 || r.TransferEncoding != nil || r.Close {
		t.Errorf("body/framing: %T %d %v %v", r.Body, r.ContentLength, r.TransferEncoding, r.Close)
	}
	if r.RemoteAddr != c.LocalAddr().String() || r.TLS != nil {
		t.Errorf("remote %q tls %v", r.RemoteAddr, r.TLS)
	}
	if s.ctxErr != nil {
		t.Errorf("context cancelled during the handler: %v", s.ctxErr)
	}
	if r.Context().Err() == nil {
		t.Errorf("context not cancelled after the handler returned")
	}
	if la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr); la == nil || la.String() != ts.addr {
		t.Errorf("LocalAddrContextKey = %v", la)
	}

	// A chunked body with trailers on the same connection.
	io.WriteString(c, "POST /up HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-sum: abc\r\nX-Other: d\r\n\r\n")
	readResponse(t, br, "POST")
	s = <-got
	r = s.r
	if s.body != "hello world" || r.ContentLength != -1 || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
		t.Errorf("chunked body %q cl=%d te=%v", s.body, r.ContentLength, r.TransferEncoding)
	}
	if r.Header["Transfer-Encoding"] != nil {
		t.Errorf("Transfer-Encoding left in the header map")
	}
	if s.trailer.Get("X-Sum") != "abc" || s.trailer.Get("X-Other") != "d" {
		t.Errorf("trailer = %v", s.trailer)
	}

	// HTTP/1.0 without keep-alive: Close is set and the connection ends.
	io.WriteString(c, "POST /x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
	resp, _ := readResponse(t, br, "POST")
	s = <-got
	if !s.r.Close || s.body != "abc" || s.r.ContentLength != 3 || s.r.Proto != "HTTP/1.0" {
		t.Errorf("1.0 request: close=%v body=%q", s.r.Close, s.body)
	}
	if !resp.Close {
		t.Errorf("1.0 response without Connection: close")
	}
	if rest := readToEOF(t, c); len(rest) != 0 {
		t.Errorf("extra bytes %q", rest)
	}
}

func TestKeepAliveAndPipelining(t *testing.T) {
	waiting, proceed := make(chan struct{}), make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(20 * time.Millisecond) // the pipelined request arrives meanwhile
		case "/wait":
			close(waiting)
			<-proceed
		}
		if err := r.Context().Err(); err != nil {
			t.Errorf("%s: context cancelled: %v", r.URL.Path, err)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(r.URL.Path)))
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for i := range 5 {
		path := "/r" + strconv.Itoa(i)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\n"+host+"\r\n")
		resp, body := readResponse(t, br, "GET")
		if string(body) != path || resp.Close || resp.Header.Get("Date") == "" {
			t.Fatalf("request %d: %q close=%v header=%v", i, body, resp.Close, resp.Header)
		}
	}
	// Pipelined: three requests in one write, answered in order.
	io.WriteString(c, "GET /slow HTTP/1.1\r\n"+host+"\r\nPOST /b HTTP/1.1\r\n"+host+"Content-Length: 2\r\n\r\nxyGET /c HTTP/1.1\r\n"+host+"\r\n")
	for _, want := range []string{"/slow", "/b", "/c"} {
		_, body := readResponse(t, br, "GET")
		if string(body) != want {
			t.Fatalf("pipelined: got %q, want %q", body, want)
		}
	}
	if n := ts.calls.Load(); n != 8 {
		t.Fatalf("handler calls = %d, want 8", n)
	}
	// A request that arrives while the handler works is picked up by the
	// background read: it must not cancel the running request.
	io.WriteString(c, "GET /wait HTTP/1.1\r\n"+host+"\r\n")
	<-waiting
	io.WriteString(c, "GET /after HTTP/1.1\r\n"+host+"\r\n")
	time.Sleep(30 * time.Millisecond) // let the background read see it
	close(proceed)
	for _, want := range []string{"/wait", "/after"} {
		_, body := readResponse(t, br, "GET")
		if string(body) != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
	// Connection: close ends it.
	io.WriteString(c, "GET /z HTTP/1.1\r\n"+host+"Connection: close\r\n\r\n")
	resp, _ := readResponse(t, br, "GET")
	if !resp.Close {
		t.Error("no Connection: close")
	}
	if rest := readToEOF(t, c); len(rest) != 0 {
		t.Errorf("extra bytes %q", rest)
	}
}

func TestHTTP10KeepAlive(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big": // no Content-Length and more than the stage: close-delimited
			w.Write(bytes.Repeat([]byte("x"), 3*stageSize))
		default: // small: the server computes a Content-Length
			io.WriteString(w, "small")
		}
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	for range 2 {
		io.WriteString(c, "GET /small HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := readResponse(t, br, "GET")
		if string(body) != "small" || resp.ContentLength != 5 || resp.Close || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("got %q cl=%d close=%v conn=%q", body, resp.ContentLength, resp.Close, resp.Header.Get("Connection"))
		}
	}
	io.WriteString(c, "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if len(body) != 3*stageSize || resp.ContentLength != -1 || !resp.Close {
		t.Fatalf("big: %d bytes cl=%d close=%v", len(body), resp.ContentLength, resp.Close)
	}
	if rest := readToEOF(t, c); len(rest) != 0 {
		t.Errorf("extra bytes %q", rest)
	}
}

func TestResponseFraming(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/chunked":
			for i := range 3 {
				io.WriteString(w, strings.Repeat(strconv.Itoa(i), 1000))
				w.(http.Flusher).Flush()
			}
		case "/big":
			w.Write(bytes.Repeat([]byte("b"), 10000))
		case "/small":
			io.WriteString(w, "tiny")
		case "/empty":
		case "/204":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(204)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				t.Errorf("Write on 204: %v", err)
			}
		case "/304":
			w.Header().Set("ETag", `"e"`)
			w.WriteHeader(304)
		case "/long":
			w.Header().Set("Content-Length", "3")
			if _, err := io.WriteString(w, "abcd"); err != http.ErrContentLength {
				t.Errorf("overlong write: %v", err)
			}
			io.WriteString(w, "abc")
		case "/hop":
			h := w.Header()
			h.Set("Connection", "keep-alive, X-Foo")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("Transfer-Encoding", "gzip")
			h.Set("Upgrade", "h2c")
			h.Set("Proxy-Connection", "keep-alive")
			h.Set("Te", "trailers")
			h.Set("Trailer", "X-T")
			h["X-Inject"] = []string{"a\r\nSet-Cookie: evil=1"}
			h["X-Nil"] = nil
			h.Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
			io.WriteString(w, "hop")
		case "/after":
			w.Header().Set("X-Before", "1")
			w.WriteHeader(201)
			w.Header().Set("X-After", "1") // no effect, as in net/http
			w.WriteHeader(500)             // ignored
			io.WriteString(w, "created")
		}
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	get := func(path, method string) (*http.Response, []byte) {
		t.Helper()
		io.WriteString(c, method+" "+path+" HTTP/1.1\r\n"+host+"\r\n")
		return readResponse(t, br, method)
	}

	resp, body := get("/cl", "GET")
	if string(body) != "hello" || resp.ContentLength != 5 || resp.TransferEncoding != nil {
		t.Errorf("/cl: %q %d %v", body, resp.ContentLength, resp.TransferEncoding)
	}
	resp, body = get("/cl", "HEAD")
	if len(body) != 0 || resp.ContentLength != 5 || resp.Close {
		t.Errorf("HEAD /cl: %q %d", body, resp.ContentLength)
	}
	resp, body = get("/chunked", "GET")
	if len(body) != 3000 || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || body[2999] != '2' {
		t.Errorf("/chunked: %d bytes cl=%d te=%v", len(body), resp.ContentLength, resp.TransferEncoding)
	}
	resp, body = get("/big", "GET")
	if len(body) != 10000 || resp.TransferEncoding == nil {
		t.Errorf("/big: %d bytes te=%v", len(body), resp.TransferEncoding)
	}
	resp, body = get("/small", "GET")
	if string(body) != "tiny" || resp.ContentLength != 4 {
		t.Errorf("/small: %q cl=%d", body, resp.ContentLength)
	}
	resp, body = get("/small", "HEAD")
	if len(body) != 0 || resp.ContentLength != 4 {
		t.Errorf("HEAD /small: %q cl=%d", body, resp.ContentLength)
	}
	resp, body = get("/empty", "GET")
	if len(body) != 0 || resp.ContentLength != 0 || resp.StatusCode != 200 {
		t.Errorf("/empty: %q cl=%d", body, resp.ContentLength)
	}
	resp, _ = get("/204", "GET")
	if resp.StatusCode != 204 || resp.Header["Content-Length"] != nil {
		t.Errorf("/204: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get("/304", "GET")
	if resp.StatusCode != 304 || resp.Header.Get("Etag") != `"e"` || resp.Header["Content-Length"] != nil || resp.Header["Transfer-Encoding"] != nil {
		t.Errorf("/304: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = get("/long", "GET")
	if string(body) != "abc" {
		t.Errorf("/long: %q", body)
	}
	resp, body = get("/after", "GET")
	if resp.StatusCode != 201 || resp.Header.Get("X-Before") != "1" || resp.Header.Get("X-After") != "" || string(body) != "created" {
		t.Errorf("/after: %d %v %q", resp.StatusCode, resp.Header, body)
	}

	// Raw check of /hop: hop-by-hop fields stripped, values sanitized,
	// the handler's Date kept.
	io.WriteString(c, "GET /hop HTTP/1.1\r\n"+host+"\r\n")
	tp := textproto.NewReader(br)
	if line, err := tp.ReadLine(); err != nil || line != "HTTP/1.1 200 OK" {
		t.Fatalf("status line %q %v", line, err)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Upgrade", "Proxy-Connection", "Te", "Trailer", "X-Nil", "Set-Cookie"} {
		if v, ok := hdr[k]; ok {
			t.Errorf("%s: %q was written", k, v)
		}
	}
	if hdr.Get("X-Inject") != "a  Set-Cookie: evil=1" || hdr.Get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT" || len(hdr["Date"]) != 1 {
		t.Errorf("header %v", hdr)
	}
	if hdr.Get("Content-Length") != "3" || hdr["Transfer-Encoding"] != nil {
		t.Errorf("framing %v", hdr)
	}
	if b := make([]byte, 3); func() bool { _, err := io.ReadFull(br, b); return err != nil || string(b) != "hop" }() {
		t.Errorf("body")
	}

	// Fewer bytes than the declared Content-Length: the connection is closed
	// so that the client sees a truncated body.
	ts2 := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	}))
	c2 := dial(t, ts2.addr)
	io.WriteString(c2, "GET / HTTP/1.1\r\n"+host+"\r\n")
	raw := readToEOF(t, c2)
	if !bytes.HasSuffix(raw, []byte("\r\n\r\nabc")) {
		t.Errorf("short body response %q", raw)
	}
}

func TestExpectContinue(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("body: %v", err)
		}
		fmt.Fprintf(w, "got %d", len(b))
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	defer client.CloseIdleConnections()

	var got100 bool
	ctx := httptrace.WithClientTrace(testContext(t), &httptrace.ClientTrace{Got100Continue: func() { got100 = true }})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+ts.addr+"/", strings.NewReader(strings.Repeat("z", 5000)))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "got 5000" || !got100 {
		t.Fatalf("body %q, got 100: %v", body, got100)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("the client waited for its ExpectContinueTimeout: no 100 Continue")
	}

	// A handler that answers without reading: no 100, and the connection
	// is not kept (the client may never send the body).
	c := dial(t, ts.addr)
	io.WriteString(c, "POST /reject HTTP/1.1\r\n"+host+"Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
	raw := readToEOF(t, c)
	if statusOf(raw) != 413 || !bytes.Contains(raw, []byte("Connection: close")) {
		t.Fatalf("reject: %q", raw)
	}
}

func TestEarlyHints(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Add("Link", "</script.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "final")
	}))
	var hints []http.Header
	ctx := httptrace.WithClientTrace(testContext(t), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == 103 {
				hints = append(hints, http.Header(h).Clone())
			}
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ts.addr+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "final" || len(resp.Header["Link"]) != 2 {
		t.Fatalf("final: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if len(hints) != 2 || len(hints[0]["Link"]) != 1 || len(hints[1]["Link"]) != 2 {
		t.Fatalf("hints: %v", hints)
	}
	// HTTP/1.0 clients get no 1xx.
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	if raw := readToEOF(t, c); statusOf(raw) != 200 || bytes.Contains(raw, []byte("103")) {
		t.Fatalf("1.0: %q", raw)
	}
}

func TestHijack(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		if _, _, err := w.(http.Hijacker).Hijack(); err != http.ErrHijacked {
			t.Errorf("second hijack: %v", err)
		}
		if _, err := w.Write([]byte("x")); err != http.ErrHijacked {
			t.Errorf("write after hijack: %v", err)
		}
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString("echo " + line)
			rw.Flush()
		}
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	// The first line arrives with the request: it must be in the
	// hijacker's buffer.
	io.WriteString(c, "GET /ws HTTP/1.1\r\n"+host+"Upgrade: echo\r\nConnection: Upgrade\r\n\r\nfirst\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, want := range []string{"first", "second"} {
		if want == "second" {
			io.WriteString(c, "second\n")
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "echo "+want+"\n" {
			t.Fatalf("got %q %v", line, err)
		}
	}
	// Shutdown does not wait for the hijacked connection.
	if err := ts.Shutdown(testContext(t)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := testutil.TLSCert(t, "localhost")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	ts := serveOn(t, tl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete || r.URL.Scheme != "" {
			http.Error(w, "no TLS state", 500)
			return
		}
		fmt.Fprintf(w, "tls %x %s", r.TLS.Version, r.TLS.ServerName)
	}))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	defer client.CloseIdleConnections()
	for range 2 {
		req, _ := http.NewRequestWithContext(testContext(t), "GET", "https://"+ts.addr+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "tls 304 localhost" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
	// Plain HTTP to the TLS port gets a plain answer.
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\n"+host+"\r\n")
	if raw := readToEOF(t, c); statusOf(raw) != 400 {
		t.Fatalf("plain HTTP to TLS: %q", raw)
	}
}

func TestPanics(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort-chunked":
			io.WriteString(w, strings.Repeat("a", 3000))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/abort-length":
			w.Header().Set("Content-Length", "10000")
			io.WriteString(w, strings.Repeat("a", 100))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/abort-unflushed":
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		case "/panic-early":
			w.Header().Set("X-Lost", "1")
			w.WriteHeader(202)
			panic("boom")
		case "/panic-late":
			io.WriteString(w, strings.Repeat("a", 3000))
			w.(http.Flusher).Flush()
			panic("boom")
		}
	}))
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/abort-chunked", "/abort-length", "/panic-late"} {
		req, _ := http.NewRequestWithContext(testContext(t), "GET", "http://"+ts.addr+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: read %d bytes, err %v; want io.ErrUnexpectedEOF", path, len(b), err)
		}
	}
	// Nothing flushed: the client sees the connection close, not a response.
	req, _ := http.NewRequestWithContext(testContext(t), "GET", "http://"+ts.addr+"/abort-unflushed", nil)
	if resp, err := client.Do(req); err == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("abort before flush: complete response %q", b)
		}
	}
	// A panic before anything was written becomes a 500.
	c := dial(t, ts.addr)
	io.WriteString(c, "GET /panic-early HTTP/1.1\r\n"+host+"\r\n")
	raw := readToEOF(t, c)
	if statusOf(raw) != 500 || bytes.Contains(raw, []byte("X-Lost")) || !bytes.Contains(raw, []byte("Connection: close")) {
		t.Errorf("panic-early: %q", raw)
	}
}

func TestUnreadRequestBody(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/half" {
			io.CopyN(io.Discard, r.Body, 10)
			r.Body.Close()
			if _, err := r.Body.Read(make([]byte, 1)); err != http.ErrBodyReadAfterClose {
				t.Errorf("read after close: %v", err)
			}
		}
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	// Small unread bodies (fixed and chunked) are discarded; the connection
	// carries on.
	io.WriteString(c, "POST /a HTTP/1.1\r\n"+host+"Content-Length: 1000\r\n\r\n"+strings.Repeat("x", 1000))
	io.WriteString(c, "POST /half HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\n\r\n400\r\n"+strings.Repeat("y", 1024)+"\r\n0\r\n\r\n")
	io.WriteString(c, "GET /b HTTP/1.1\r\n"+host+"\r\n")
	for _, want := range []string{"/a", "/half", "/b"} {
		resp, body := readResponse(t, br, "GET")
		if string(body) != want || resp.Close {
			t.Fatalf("got %q close=%v, want %q", body, resp.Close, want)
		}
	}
	// A large unread body: Connection: close, then the connection ends;
	// the client can keep writing its body meanwhile without a reset
	// destroying the response.
	c2 := dial(t, ts.addr)
	io.WriteString(c2, "POST /big HTTP/1.1\r\n"+host+"Content-Length: 10000000\r\n\r\n")
	go func() {
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for range 20 {
			if _, err := c2.Write(chunk); err != nil {
				return
			}
		}
	}()
	br2 := bufio.NewReader(c2)
	resp, body := readResponse(t, br2, "POST")
	if string(body) != "/big" || !resp.Close {
		t.Fatalf("big: %q close=%v", body, resp.Close)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		func(s *Server) { s.ReadHeaderTimeout = 100 * time.Millisecond; s.IdleTimeout = time.Minute })
	// The first head is due ReadHeaderTimeout after accept, and accept is
	// after the dial began: the clock starts before dialling, so the lower
	// bound holds however late this goroutine runs. The upper bound is far
	// below both the default ReadHeaderTimeout (10 s) and IdleTimeout: a
	// close within it is this timeout's doing, on a loaded machine too.
	const upper = 5 * time.Second
	start := time.Now()
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: exa")
	if raw := readToEOF(t, c); len(raw) != 0 {
		t.Fatalf("got %q, want a silent close", raw)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > upper {
		t.Fatalf("closed after %v", d)
	}
	waitFor(t, 5*time.Second, "OnError 408", func() bool {
		r := ts.reported()
		return len(r) == 1 && r[0].status == 408
	})
	// A connection that sends nothing is closed as well.
	c2 := dial(t, ts.addr)
	if raw := readToEOF(t, c2); len(raw) != 0 {
		t.Fatalf("got %q", raw)
	}
	// A slow but timely keep-alive request is served: the header timeout
	// starts at its first byte, not at the end of the previous response.
	c3 := dial(t, ts.addr)
	br := bufio.NewReader(c3)
	io.WriteString(c3, "GET / HTTP/1.1\r\n"+host+"\r\n")
	readResponse(t, br, "GET")
	time.Sleep(150 * time.Millisecond) // idle longer than ReadHeaderTimeout
	io.WriteString(c3, "GET / HTTP/1.1\r\n"+host+"\r\n")
	readResponse(t, br, "GET")
	// But a second head that trickles in is cut off too.
	start = time.Now()
	io.WriteString(c3, "GET / HTTP/1.1\r\n")
	if rest := readToEOF(t, c3); len(rest) != 0 {
		t.Fatalf("got %q, want a silent close", rest)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > upper {
		t.Fatalf("closed after %v", d)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
	for _, body := range []bool{false, true} {
		c := dial(t, ts.addr)
		br := bufio.NewReader(c)
		if body { // the handler does not read it: no background read is running
			io.WriteString(c, "POST / HTTP/1.1\r\n"+host+"Content-Length: 1\r\n\r\nx")
		} else {
			io.WriteString(c, "GET / HTTP/1.1\r\n"+host+"\r\n")
		}
		readResponse(t, br, "GET")
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle read: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("idle close after %v", d)
		}
	}
}

func TestContextCancelledOnDisconnect(t *testing.T) {
	started := make(chan struct{}, 2)
	cancelled := make(chan error, 2)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody {
			io.ReadAll(r.Body)
		}
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- nil
		}
	}))
	for _, req := range []string{
		"GET /slow-origin HTTP/1.1\r\n" + host + "\r\n",
		"POST /upload HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc",
	} {
		c := dial(t, ts.addr)
		io.WriteString(c, req)
		select {
		case <-started:
		case <-time.After(2 * time.Second):
			t.Fatal("handler not started")
		}
		c.Close()
		select {
		case err := <-cancelled:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("context error %v, want context.Canceled", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("context not cancelled")
		}
	}
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	inHandler := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(inHandler)
			<-release
		}
		io.WriteString(w, "done")
	}))
	// An idle keep-alive connection.
	idle := dial(t, ts.addr)
	ibr := bufio.NewReader(idle)
	io.WriteString(idle, "GET / HTTP/1.1\r\n"+host+"\r\n")
	readResponse(t, ibr, "GET")
	// An active one.
	active := dial(t, ts.addr)
	abr := bufio.NewReader(active)
	io.WriteString(active, "GET /block HTTP/1.1\r\n"+host+"\r\n")
	<-inHandler

	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(testContext(t)) }()
	// The idle connection is closed at once and Serve returns.
	if _, err := ibr.ReadByte(); err != io.EOF && !isReset(err) {
		t.Fatalf("idle conn: %v", err)
	}
	select {
	case err := <-ts.done:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
		ts.done <- err // for the cleanup
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an active request", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, body := readResponse(t, abr, "GET")
	if string(body) != "done" || !resp.Close {
		t.Fatalf("active: %q close=%v", body, resp.Close)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("listener still accepting")
	}
	// Serve after Shutdown.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := ts.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	inHandler := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
	}))
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\n"+host+"\r\n")
	<-inHandler
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestResponseController(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for _, err := range []error{
			rc.SetReadDeadline(time.Now().Add(time.Minute)),
			rc.SetWriteDeadline(time.Now().Add(time.Minute)),
			rc.EnableFullDuplex(),
		} {
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		}
		io.WriteString(w, "one ")
		if err := rc.Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		// ReadFrom, as io.Copy uses it.
		n, err := io.Copy(w, strings.NewReader(strings.Repeat("r", 100000)))
		if n != 100000 || err != nil {
			t.Errorf("ReadFrom: %d %v", n, err)
		}
	}))
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\n"+host+"\r\n")
	_, body := readResponse(t, bufio.NewReader(c), "GET")
	if len(body) != 100004 || !strings.HasPrefix(string(body), "one rrr") {
		t.Fatalf("body %d bytes", len(body))
	}
}

func TestNetHTTPClient(t *testing.T) {
	// The Go client against the server, concurrently: keep-alive reuse,
	// bodies both ways.
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	}))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 20 {
				payload := strings.Repeat(strconv.Itoa(g), i*500)
				req, _ := http.NewRequestWithContext(testContext(t), "PUT", "http://"+ts.addr+"/", strings.NewReader(payload))
				resp, err := client.Do(req)
				if err != nil {
					errc <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != payload {
					errc <- fmt.Errorf("echo mismatch: %d bytes, %v", len(b), err)
					return
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestContextsAndLimits(t *testing.T) {
	type key string
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%v %v", r.Context().Value(key("base")), r.Context().Value(key("conn")))
	}), func(s *Server) {
		s.MaxHeaders = 3
		s.MaxHeaderBytes = 200
		s.BaseContext = func(net.Listener) context.Context {
			return context.WithValue(context.Background(), key("base"), "b")
		}
		s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, key("conn"), c.RemoteAddr() != nil)
		}
	})
	c := dial(t, ts.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\n"+host+"A: 1\r\nB: 2\r\n\r\n")
	if _, body := readResponse(t, bufio.NewReader(c), "GET"); string(body) != "b true" {
		t.Fatalf("context values %q", body)
	}
	for _, tc := range []refusal{
		{"fields over MaxHeaders", "GET / HTTP/1.1\r\n" + host + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
		{"head over MaxHeaderBytes", "GET / HTTP/1.1\r\n" + host + "A: " + strings.Repeat("a", 200) + "\r\n\r\n", 431},
		{"request line over MaxHeaderBytes", "GET /" + strings.Repeat("a", 250) + " HTTP/1.1\r\n" + host + "\r\n", 414},
	} {
		c := dial(t, ts.addr)
		io.WriteString(c, tc.req)
		if got := statusOf(readToEOF(t, c)); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
	}
}

// A TLS connection whose ALPN protocol is a key of TLSNextProto goes to that
// function after the handshake; one that negotiated http/1.1 stays here;
// Shutdown asks the handed-off connection to finish (RegisterOnShutdown) and
// waits for it.
func TestTLSNextProto(t *testing.T) {
	cert, pool := testutil.TLSCert(t, "localhost")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"x-test", "http/1.1"}})
	stop := make(chan struct{})
	var handedOff atomic.Int32
	ts := serveOn(t, tl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "h1 "+r.TLS.NegotiatedProtocol)
	}), func(s *Server) {
		s.TLSNextProto = map[string]func(context.Context, *tls.Conn){
			"x-test": func(ctx context.Context, c *tls.Conn) {
				handedOff.Add(1)
				if ctx.Value(http.LocalAddrContextKey) == nil {
					io.WriteString(c, "no local address in ctx\n")
				}
				io.WriteString(c, "x-test here\n")
				<-stop // until Shutdown asks
				io.WriteString(c, "bye\n")
			},
		}
		s.RegisterOnShutdown(func() { close(stop) })
	})
	// http/1.1 over TLS is still served by h1.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(testContext(t), "GET", "https://"+ts.addr+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "h1 http/1.1" {
		t.Fatalf("http/1.1 connection: %q", body)
	}
	client.CloseIdleConnections()

	c, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"x-test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "x-test here\n" {
		t.Fatalf("handed-off connection said %q", line)
	}
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(testContext(t)) }()
	if line, _ := br.ReadString('\n'); line != "bye\n" {
		t.Fatalf("after Shutdown the connection said %q", line)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := handedOff.Load(); n != 1 {
		t.Fatalf("%d connections handed off, want 1", n)
	}
}

// The handshake of a connection that would be handed off is bounded by
// ReadHeaderTimeout too: a client that never finishes it is dropped.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert, _ := testutil.TLSCert(t, "localhost")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	ts := serveOn(t, tl, http.NotFoundHandler(), func(s *Server) {
		s.ReadHeaderTimeout = 200 * time.Millisecond
		s.TLSNextProto = map[string]func(context.Context, *tls.Conn){"h2": func(context.Context, *tls.Conn) {}}
	})
	c := dial(t, ts.addr)
	io.WriteString(c, "\x16\x03\x01") // the start of a ClientHello, and nothing more
	start := time.Now()
	readToEOF(t, c)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("connection closed after %v", d)
	}
}

// Full duplex: a handler that reads the request body in another goroutine
// (a proxy streaming it upstream) while it writes the response gets its
// head and flushed bytes out at once, not when more body arrives; the
// connection closes after that exchange.
func TestFullDuplexHeadNotBlockedByBodyRead(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(r.Body) // blocks: the client sends the rest later
			got <- string(b)
		}()
		time.Sleep(20 * time.Millisecond) // let the reader block inside Read
		io.WriteString(w, "early ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "body="+<-got)
	}))
	c := dial(t, ts.addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\none,\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("head before the body ended: %q %v", line, err)
	}
	io.WriteString(c, "3\r\ntwo\r\n0\r\n\r\n")
	resp, body := readResponse(t, bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), "POST")
	if string(body) != "early body=one,two" || !resp.Close {
		t.Fatalf("body %q, Connection: close %v", body, resp.Close)
	}
}
