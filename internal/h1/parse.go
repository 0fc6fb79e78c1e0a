package h1

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Limits of the parser that are not configurable.
const (
	// maxRequestLine bounds the request line alone; over it the answer is 414.
	maxRequestLine = 8 << 10
	// maxLeadingEmptyLines is how many CRLFs may precede a request line
	// (RFC 9112 section 2.2 lets a server skip "at least one").
	maxLeadingEmptyLines = 4
	// maxContentLength is the largest Content-Length accepted (2^62).
	maxContentLength = 1 << 62
	// maxChunkLine bounds a chunk-size line including its extensions.
	maxChunkLine = 1 << 10
)

// reqError is a request refused by the parser. Status is the response code;
// reason is sent to the client in the plain-text body and passed to
// Server.OnError.
type reqError struct {
	status int
	reason string
}

func (e *reqError) Error() string {
	return "h1: " + strconv.Itoa(e.status) + " " + e.reason
}

func badRequest(reason string) *reqError { return &reqError{http.StatusBadRequest, reason} }

// The refusals. They are values so that the hot path never allocates an error.
var (
	errBareLF             = badRequest("bare LF in request head")
	errBareCR             = badRequest("bare CR in request head")
	errTooManyEmptyLines  = badRequest("too many empty lines before the request line")
	errRequestLine        = badRequest("malformed request line")
	errMethod             = badRequest("invalid method")
	errTarget             = badRequest("invalid request target")
	errAsterisk           = badRequest("asterisk-form is only allowed with OPTIONS")
	errVersion            = badRequest("malformed HTTP version")
	errVersionUnsupported = &reqError{http.StatusHTTPVersionNotSupported, "unsupported HTTP version"}
	errConnect            = &reqError{http.StatusNotImplemented, "CONNECT is not supported"}
	errLineTooLong        = &reqError{http.StatusRequestURITooLong, "request line too long"}
	errHeadTooLarge       = &reqError{http.StatusRequestHeaderFieldsTooLarge, "request header section too large"}
	errTooManyFields      = &reqError{http.StatusRequestHeaderFieldsTooLarge, "too many header fields"}
	errObsFold            = badRequest("obsolete line folding")
	errFieldName          = badRequest("invalid header field name")
	errFieldValue         = badRequest("invalid character in header field value")
	errMissingHost        = badRequest("missing Host header")
	errManyHosts          = badRequest("more than one Host header")
	errBadHost            = badRequest("invalid Host header")
	errHostMismatch       = badRequest("request target authority does not match Host")
	errCLAndTE            = badRequest("both Content-Length and Transfer-Encoding")
	errTE10               = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errTECoding           = badRequest("unsupported transfer coding")
	errBadCL              = badRequest("invalid Content-Length")
	errConflictingCL      = badRequest("conflicting Content-Length values")
	errBadTrailerKey      = badRequest("invalid field in Trailer")
	errExpectation        = &reqError{http.StatusExpectationFailed, "unsupported expectation"}
)

// ErrMalformedBody is matched (errors.Is) by the errors Request.Body.Read
// returns when the client's framing of the body is broken: a malformed
// chunked coding or trailer section. The request is the client's fault
// (400), not the handler's nor an upstream's.
var ErrMalformedBody = errors.New("h1: malformed request body")

// bodyError is a malformed body; it matches ErrMalformedBody.
type bodyError struct{ msg string }

func (e *bodyError) Error() string        { return e.msg }
func (e *bodyError) Is(target error) bool { return target == ErrMalformedBody }

// Body errors, returned by Request.Body.Read.
var (
	errChunkSize      = &bodyError{"h1: malformed chunk size"}
	errChunkTooLarge  = &bodyError{"h1: chunk size overflow"}
	errChunkExt       = &bodyError{"h1: malformed chunk extension"}
	errChunkLine      = &bodyError{"h1: chunk header too long"}
	errChunkCRLF      = &bodyError{"h1: missing CRLF after chunk data"}
	errTrailer        = &bodyError{"h1: malformed trailer section"}
	errTrailerTooBig  = &bodyError{"h1: trailer section too large"}
	errBodyAfterClose = http.ErrBodyReadAfterClose
)

// Byte classes.
var (
	tokenTable  = makeTable(func(c byte) bool { return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 })
	valueTable  = makeTable(func(c byte) bool { return c == '\t' || (c >= 0x20 && c != 0x7f) })
	targetTable = makeTable(func(c byte) bool { return c > 0x20 && c != 0x7f && c != '#' })
	// regNameTable is unreserved / sub-delims of RFC 3986 (pct-encoding is
	// refused: DNS names never need it and it would make Host ambiguous).
	regNameTable = makeTable(func(c byte) bool { return isAlnum(c) || strings.IndexByte("-._~!$&'()*+,;=", c) >= 0 })
)

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func makeTable(f func(byte) bool) (t [256]bool) {
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parser holds the limits and the scratch buffer of one connection. It is
// not safe for concurrent use.
type parser struct {
	maxHeaderBytes int
	maxHeaders     int
	scratch        []byte // accumulates a head that is not whole in the bufio.Reader
}

var crlfcrlf = []byte("\r\n\r\n")

// readHead reads the request head (request line, field lines and the empty
// line that ends them) from br and returns it as one string, so that every
// header value is a substring of it: one allocation for the whole head.
//
// Leading empty lines are skipped. The only checks here are the size limits;
// parseRequest checks everything else. Network errors are returned as they
// are (io.EOF before any byte of a request, io.ErrUnexpectedEOF inside one).
func (p *parser) readHead(br *bufio.Reader) (string, error) {
	for i := 0; ; i++ {
		b, err := br.Peek(2)
		if len(b) > 0 && b[0] == '\n' {
			return "", errBareLF
		}
		if err != nil {
			if len(b) > 0 {
				err = unexpectedEOF(err)
			}
			return "", err
		}
		if b[0] != '\r' || b[1] != '\n' {
			break
		}
		if i == maxLeadingEmptyLines {
			return "", errTooManyEmptyLines
		}
		br.Discard(2)
	}

	if s, ok, err := p.bufferedHead(br); ok || err != nil {
		return s, err
	}

	// Slow path: collect lines into the scratch buffer.
	buf := p.scratch[:0]
	lineStart := 0
	lineMax := min(maxRequestLine+2, p.maxHeaderBytes)
	for {
		frag, err := br.ReadSlice('\n')
		if lineStart == 0 && len(buf)+len(frag) > lineMax {
			p.scratch = buf
			return "", errLineTooLong
		}
		if len(buf)+len(frag) > p.maxHeaderBytes {
			p.scratch = buf
			return "", errHeadTooLarge
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			p.scratch = buf
			return "", unexpectedEOF(err)
		}
		line := buf[lineStart:]
		if lineStart > 0 && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			break // the empty line; a bare LF one is reported by parseRequest
		}
		lineStart = len(buf)
	}
	p.scratch = buf
	return string(buf), nil
}

// bufferedHead is readHead's fast path: it returns the head if it is whole
// in br's buffer, without reading. ok is false if it is not there (or the
// buffer starts with an empty line: readHead deals with those).
func (p *parser) bufferedHead(br *bufio.Reader) (s string, ok bool, err error) {
	buf, _ := br.Peek(br.Buffered())
	if len(buf) < 2 || buf[0] == '\r' || buf[0] == '\n' {
		return "", false, nil
	}
	i := bytes.Index(buf, crlfcrlf)
	if i < 0 {
		return "", false, nil
	}
	end := i + len(crlfcrlf)
	if nl := bytes.IndexByte(buf, '\n'); nl+1 > maxRequestLine+2 || nl+1 > p.maxHeaderBytes {
		return "", false, errLineTooLong
	}
	if end > p.maxHeaderBytes {
		return "", false, errHeadTooLarge
	}
	s = string(buf[:end])
	br.Discard(end)
	return s, true, nil
}

// reqMeta is what the parser learnt besides the http.Request fields.
type reqMeta struct {
	chunked        bool
	expectContinue bool // a 100-continue expectation on an HTTP/1.1 request with a body
}

// parseRequest parses a head returned by readHead into req: Method, URL,
// Proto*, Header, Host, ContentLength, TransferEncoding, Close, RequestURI
// and Trailer. Body, RemoteAddr, TLS and the context are the caller's.
// Like net/http's readRequest, it goes in three steps: the request line,
// the field lines, then the framing the fields declare.
//
// vals, if long enough, backs the header map's one-element value slices.
func (p *parser) parseRequest(s string, req *http.Request, vals []string) (reqMeta, *reqError) {
	rest, absAuthority, err := parseRequestLine(s, req)
	if err != nil {
		return reqMeta{}, err
	}
	f, err := p.parseFields(rest, req, vals)
	if err != nil {
		return reqMeta{}, err
	}
	if f.hosts == 0 && req.ProtoMinor == 1 {
		return reqMeta{}, errMissingHost
	}
	req.Host = f.host
	if absAuthority != "" {
		if f.hosts == 1 && !strings.EqualFold(absAuthority, f.host) {
			return reqMeta{}, errHostMismatch
		}
		req.Host = req.URL.Host
	}
	return framing(req, &f)
}

// parseRequestLine parses the request line at the start of s into req's
// Method, RequestURI, URL and Proto*, and returns the field lines after it
// and the authority of an absolute-form target ("" for the other forms).
func parseRequestLine(s string, req *http.Request) (rest, absAuthority string, err *reqError) {
	nl := strings.IndexByte(s, '\n')
	if nl < 1 || s[nl-1] != '\r' {
		return "", "", errBareLF
	}
	line := s[:nl-1]
	rest = s[nl+1:]

	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return "", "", errRequestLine
	}
	method := line[:sp]
	if !validToken(method) {
		if strings.IndexByte(method, '\r') >= 0 {
			return "", "", errBareCR
		}
		return "", "", errMethod
	}
	line = line[sp+1:]
	sp = strings.IndexByte(line, ' ')
	if sp <= 0 {
		return "", "", errRequestLine
	}
	target, version := line[:sp], line[sp+1:]
	for i := 0; i < len(target); i++ {
		if !targetTable[target[i]] {
			if target[i] == '\r' {
				return "", "", errBareCR
			}
			return "", "", errTarget
		}
	}
	switch version {
	case "HTTP/1.1":
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		if len(version) == 8 && version[:5] == "HTTP/" && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) {
			return "", "", errVersionUnsupported
		}
		if strings.IndexByte(version, '\r') >= 0 {
			return "", "", errBareCR
		}
		return "", "", errVersion
	}
	if method == "CONNECT" {
		return "", "", errConnect
	}
	req.Method = method
	req.RequestURI = target

	switch {
	case target[0] == '/':
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return "", "", errTarget
		}
		req.URL = u
	case target == "*":
		if method != http.MethodOptions {
			return "", "", errAsterisk
		}
		req.URL = &url.URL{Path: "*"}
	default:
		auth, ok := absoluteAuthority(target)
		if !ok || auth == "" || !validAuthority(auth) {
			return "", "", errTarget
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.User != nil || u.Opaque != "" {
			return "", "", errTarget
		}
		req.URL = u
		absAuthority = auth
	}
	return rest, absAuthority, nil
}

// fieldSummary is what the field lines declare that framing and Host
// checks need.
type fieldSummary struct {
	hosts       int
	host        string
	cls         int
	cl          string
	tes         int
	expects     int
	expect      string
	close       bool
	keepAlive   bool
	trailerDecl bool
}

// parseFields parses the field lines of rest (up to the empty line) into
// req.Header, except Host and Transfer-Encoding, which it summarizes.
func (p *parser) parseFields(rest string, req *http.Request, vals []string) (f fieldSummary, _ *reqError) {
	hint := strings.Count(rest, "\n")
	hdr := make(http.Header, hint)
	strs := vals // one backing array for the one-element value slices
	if len(strs) < hint {
		strs = make([]string, hint)
	}
	fields := 0
	for {
		nl := strings.IndexByte(rest, '\n')
		if nl < 1 || rest[nl-1] != '\r' {
			return f, errBareLF
		}
		line := rest[:nl-1]
		rest = rest[nl+1:]
		if line == "" {
			break
		}
		fields++
		if fields > p.maxHeaders {
			return f, errTooManyFields
		}
		name, value, err := splitField(line)
		if err != nil {
			return f, err
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			f.hosts++
			if f.hosts > 1 {
				return f, errManyHosts
			}
			if !validAuthority(value) {
				return f, errBadHost
			}
			f.host = value
			continue // net/http removes Host from the map
		case "Content-Length":
			f.cls++
			if f.cls > 1 {
				if value != f.cl {
					return f, errConflictingCL
				}
				continue // an identical repeat counts as one
			}
			f.cl = value
		case "Transfer-Encoding":
			f.tes++
			if f.tes > 1 || !strings.EqualFold(value, "chunked") {
				return f, errTECoding
			}
			continue // net/http moves it to Request.TransferEncoding
		case "Expect":
			f.expects++
			f.expect = value
		case "Connection":
			c, k := connectionTokens(value)
			f.close = f.close || c
			f.keepAlive = f.keepAlive || k
		case "Trailer":
			f.trailerDecl = true
		}
		vv := hdr[key]
		if vv == nil && len(strs) > 0 {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
		} else {
			vv = append(vv, value)
		}
		hdr[key] = vv
	}
	req.Header = hdr
	return f, nil
}

// framing applies what the fields declare about the message (RFC 9112
// section 6): chunked or Content-Length, Expect, Close, and the trailer
// declaration.
func framing(req *http.Request, f *fieldSummary) (reqMeta, *reqError) {
	var meta reqMeta
	switch {
	case f.tes > 0:
		if req.ProtoMinor == 0 {
			return meta, errTE10
		}
		if f.cls > 0 {
			return meta, errCLAndTE
		}
		meta.chunked = true
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	case f.cls > 0:
		n, ok := parseContentLength(f.cl)
		if !ok {
			return meta, errBadCL
		}
		req.ContentLength = n
	}

	if f.expects > 0 {
		if f.expects > 1 || !strings.EqualFold(f.expect, "100-continue") {
			return meta, errExpectation
		}
		meta.expectContinue = req.ProtoMinor == 1 && req.ContentLength != 0
	}

	if req.ProtoMinor == 0 {
		req.Close = f.close || !f.keepAlive
	} else {
		req.Close = f.close
	}

	if f.trailerDecl && meta.chunked {
		// As net/http: the declaration moves from Header to Trailer.
		hdr := req.Header
		decl := hdr["Trailer"]
		delete(hdr, "Trailer")
		for _, v := range decl {
			for k := range strings.SplitSeq(v, ",") {
				k = trimOWS(k)
				if k == "" {
					continue
				}
				if !validToken(k) {
					return meta, errBadTrailerKey
				}
				k = canonicalKey(k)
				switch k {
				case "Transfer-Encoding", "Trailer", "Content-Length":
					return meta, errBadTrailerKey
				}
				if req.Trailer == nil {
					req.Trailer = make(http.Header)
				}
				req.Trailer[k] = nil
			}
		}
	}
	return meta, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// splitField splits a field line (without its CRLF) into a token name and a
// value without surrounding OWS, refusing obs-fold, whitespace before the
// colon, and control characters in the value.
func splitField(line string) (name, value string, err *reqError) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", errObsFold
	}
	i := 0
	for i < len(line) && tokenTable[line[i]] {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		if strings.IndexByte(line, '\r') >= 0 {
			return "", "", errBareCR
		}
		return "", "", errFieldName
	}
	name = line[:i]
	value = trimOWS(line[i+1:])
	for j := 0; j < len(value); j++ {
		if !valueTable[value[j]] {
			if value[j] == '\r' {
				return "", "", errBareCR
			}
			return "", "", errFieldValue
		}
	}
	return name, value, nil
}

// canonicalKey returns the canonical form of a valid token, as
// textproto.CanonicalMIMEHeaderKey would, without allocating when name is
// already canonical or is a common header.
func canonicalKey(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return canonicalSlow(name)
		}
		upper = c == '-'
	}
	return name
}

func canonicalSlow(name string) string {
	var arr [64]byte
	var b []byte
	if len(name) <= len(arr) {
		b = arr[:len(name)]
	} else {
		b = make([]byte, len(name))
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if s, ok := commonHeader[string(b)]; ok {
		return s
	}
	return string(b)
}

var commonHeader = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Authorization", "Cache-Control", "Cdn-Loop", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "Cookie",
		"Date", "Dnt", "Expect", "Forwarded", "From", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Priority", "Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Via",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// connectionTokens reports whether a Connection field value lists the
// "close" and "keep-alive" options.
func connectionTokens(v string) (close, keepAlive bool) {
	for t := range strings.SplitSeq(v, ",") {
		t = trimOWS(t)
		close = close || strings.EqualFold(t, "close")
		keepAlive = keepAlive || strings.EqualFold(t, "keep-alive")
	}
	return close, keepAlive
}

// parseContentLength parses 1*DIGIT up to maxContentLength.
func parseContentLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxContentLength-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// absoluteAuthority returns the raw authority of an absolute-form target
// with an http or https scheme.
func absoluteAuthority(target string) (string, bool) {
	var rest string
	switch {
	case len(target) > 7 && strings.EqualFold(target[:7], "http://"):
		rest = target[7:]
	case len(target) > 8 && strings.EqualFold(target[:8], "https://"):
		rest = target[8:]
	default:
		return "", false
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// validAuthority reports whether s is host [":" port] with host a reg-name,
// an IPv4 address or a bracketed IPv6 address (RFC 3986 section 3.2). An empty
// value is valid (RFC 9112 section 3.2 allows an empty Host).
func validAuthority(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
		host = ""
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	for i := 0; i < len(host); i++ {
		if !regNameTable[host[i]] {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return true
}
