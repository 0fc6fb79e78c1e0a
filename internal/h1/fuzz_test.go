package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// parseResult is what the parser made of an input, for comparing the fast
// path (head already buffered) with the slow one (one byte per read).
type parseResult struct {
	status int // 0 when accepted
	req    *http.Request
	meta   reqMeta
	body   []byte
	bodyOK bool
}

func parseAll(t *testing.T, data []byte, r io.Reader) parseResult {
	p := &parser{maxHeaderBytes: 4096, maxHeaders: 32}
	br := bufio.NewReaderSize(r, 1024)
	head, err := p.readHead(br)
	if err != nil {
		var re *reqError
		if errors.As(err, &re) {
			return parseResult{status: re.status}
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			t.Fatalf("readHead: unexpected error %v", err)
		}
		return parseResult{status: -1} // incomplete
	}
	req := new(http.Request)
	meta, rerr := p.parseRequest(head, req, nil)
	if rerr != nil {
		return parseResult{status: rerr.status}
	}
	res := parseResult{req: req, meta: meta, bodyOK: true}
	if meta.chunked || req.ContentLength > 0 {
		b := &body{br: br, p: p, req: req, chunked: meta.chunked, n: req.ContentLength}
		res.body, err = io.ReadAll(io.LimitReader(b, 1<<20))
		res.bodyOK = err == nil
	}
	return res
}

func FuzzReadRequest(f *testing.F) {
	for _, r := range refusals {
		f.Add([]byte(r.req))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET http://a/b?c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3;e=\"q\"\r\nabc\r\n0\r\nX-T: v\r\n\r\n"))
	f.Add([]byte("\r\nPOST /x HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx"))

	f.Fuzz(func(t *testing.T, data []byte) {
		fast := parseAll(t, data, bytes.NewReader(data))
		slow := parseAll(t, data, iotest.OneByteReader(bytes.NewReader(data)))
		if fast.status != slow.status {
			t.Fatalf("fast path status %d, slow path %d", fast.status, slow.status)
		}
		if fast.req == nil {
			switch fast.status {
			case -1, 400, 414, 417, 431, 501, 505:
			default:
				t.Fatalf("unexpected refusal status %d", fast.status)
			}
			return
		}
		if !reflect.DeepEqual(fast.req.Header, slow.req.Header) || fast.req.RequestURI != slow.req.RequestURI ||
			fast.bodyOK != slow.bodyOK || !bytes.Equal(fast.body, slow.body) {
			t.Fatalf("fast and slow paths disagree")
		}
		checkRequest(t, fast)
		compareNetHTTP(t, data, fast)
	})
}

// checkRequest asserts the properties of every accepted request.
func checkRequest(t *testing.T, res parseResult) {
	r := res.req
	if !validToken(r.Method) || r.Method == "CONNECT" {
		t.Fatalf("method %q", r.Method)
	}
	if r.ProtoMajor != 1 || (r.ProtoMinor != 0 && r.ProtoMinor != 1) {
		t.Fatalf("version %d.%d", r.ProtoMajor, r.ProtoMinor)
	}
	if r.ContentLength < -1 || r.ContentLength > maxContentLength {
		t.Fatalf("ContentLength %d", r.ContentLength)
	}
	// Unambiguous framing: chunked xor a length, never both.
	chunked := len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked"
	if chunked != res.meta.chunked || chunked != (r.ContentLength == -1) || len(r.TransferEncoding) > 1 {
		t.Fatalf("framing: te=%q cl=%d", r.TransferEncoding, r.ContentLength)
	}
	if chunked && r.ProtoMinor == 0 {
		t.Fatal("chunked HTTP/1.0 request")
	}
	if _, ok := r.Header["Content-Length"]; ok && chunked {
		t.Fatal("both Content-Length and chunked")
	}
	if cl := r.Header["Content-Length"]; len(cl) > 1 {
		t.Fatalf("Content-Length values %q", cl)
	}
	for _, k := range []string{"Transfer-Encoding", "Host"} {
		if _, ok := r.Header[k]; ok {
			t.Fatalf("%s left in the header map", k)
		}
	}
	if r.ProtoMinor == 1 && !validAuthority(r.Host) {
		t.Fatalf("Host %q", r.Host)
	}
	for k, vv := range r.Header {
		if !validToken(k) || textproto.CanonicalMIMEHeaderKey(k) != k {
			t.Fatalf("header name %q", k)
		}
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n\x00") || v != trimOWS(v) {
				t.Fatalf("header value %q", v)
			}
		}
	}
	for k, vv := range r.Trailer {
		if !validToken(k) {
			t.Fatalf("trailer name %q", k)
		}
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("trailer value %q", v)
			}
		}
	}
	if !chunked && res.bodyOK && int64(len(res.body)) != r.ContentLength {
		t.Fatalf("read %d body bytes, ContentLength %d", len(res.body), r.ContentLength)
	}
}

// compareNetHTTP checks that net/http, which is more lenient, accepts
// what we accept and reads it the same way.
func compareNetHTTP(t *testing.T, data []byte, res parseResult) {
	for bytes.HasPrefix(data, []byte("\r\n")) {
		data = data[2:] // the server skips these; http.ReadRequest does not
	}
	std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("accepted here, net/http refuses: %v", err)
	}
	r := res.req
	if std.Method != r.Method || std.RequestURI != r.RequestURI || std.URL.String() != r.URL.String() ||
		std.Host != r.Host || std.ContentLength != r.ContentLength || std.Close != r.Close ||
		!reflect.DeepEqual(std.TransferEncoding, r.TransferEncoding) {
		t.Fatalf("net/http disagrees:\n std %q %q %q %d %v %v\nours %q %q %q %d %v %v",
			std.Method, std.URL, std.Host, std.ContentLength, std.Close, std.TransferEncoding,
			r.Method, r.URL, r.Host, r.ContentLength, r.Close, r.TransferEncoding)
	}
	stdHdr := std.Header.Clone()
	delete(stdHdr, "Host")
	if _, ok := r.Header["Pragma"]; ok && r.Header["Cache-Control"] == nil {
		delete(stdHdr, "Cache-Control") // net/http's fixPragmaCacheControl
	}
	if len(stdHdr) == 0 {
		stdHdr = nil
	}
	ours := r.Header
	if len(ours) == 0 {
		ours = nil
	}
	if !reflect.DeepEqual(stdHdr, ours) {
		t.Fatalf("header: net/http %q, ours %q", stdHdr, ours)
	}
	if res.bodyOK {
		b, err := io.ReadAll(io.LimitReader(std.Body, 1<<20))
		if err != nil || !bytes.Equal(b, res.body) {
			t.Fatalf("body: net/http %q (%v), ours %q", b, err, res.body)
		}
		if res.meta.chunked {
			for k, v := range r.Trailer {
				if v != nil && !reflect.DeepEqual(std.Trailer[k], v) {
					t.Fatalf("trailer %s: net/http %q, ours %q", k, std.Trailer[k], v)
				}
			}
		}
	}
}
