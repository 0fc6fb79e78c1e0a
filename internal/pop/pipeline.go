package pop

import (
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/signedurl"
)

// exchange is the per-request state that the stages share.
type exchange struct {
	rw     responseWriter // ex.w points here
	w      *responseWriter
	r      *http.Request
	id     string
	start  time.Time
	scheme string // "http" or "https"
	client string // viewer IP
	host   string // normalized Host: lower case, no port
	path   string // escaped path after dot-segment removal and default root object

	snap *snapshot
	dist *dist
	beh  *behavior

	key      string      // cache key (cached methods only)
	fwd      http.Header // headers for the origin, built once (see forwardHeader)
	query    string      // query string for the origin
	xcache   string
	status   string // Cache-Status entry
	err      error
	fromTier bool // sent by a child tier of this network (trusted hop header)

	// A custom error page being served in place of an error (errorpages.go).
	errorPage  bool
	pageStatus int  // the status it goes out with
	headOnly   bool // the viewer's request was a HEAD

	ws *tunnel // an established WebSocket, for the log (websocket.go)

	geo       geo.Location // stage 4
	viewerHdr http.Header  // CloudFront-Viewer-* values, built when needed
	rawQuery  string       // the viewer's query, without signed-URL parameters (stage 9)

	// Stage 16 (respheaders.go): what Server-Timing reports, and the
	// behavior whose policy a custom error page gets.
	flight    *cache.Flight        // the shared fetch whose result is served
	timing    cache.UpstreamTiming // a pass's upstream request
	viewerBeh *behavior
}

// ServeHTTP runs the pipeline for one request. The order of the stages is
// fixed here and only here (DESIGN.md, "The request pipeline of a PoP");
// configuration switches stages on and sets them up.
func (p *PoP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangePool.Get().(*exchange)
	ex.rw = responseWriter{ResponseWriter: w}
	ex.w, ex.r, ex.start, ex.id = &ex.rw, r, p.now(), requestID()
	defer p.finish(ex)
	if err := p.pipeline(ex); err != nil {
		p.renderError(ex, err)
	}
}

// finish is stage 17 (log and metrics: always runs), then the exchange goes
// back to the pool. Nothing may keep a pointer to it: shared fetches copy
// what they need (fetch runs on values taken before it starts).
func (p *PoP) finish(ex *exchange) {
	p.logExchange(ex)
	*ex = exchange{}
	exchangePool.Put(ex)
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// detach copies what a shared fetch needs: it outlives the request (and the
// pooled exchange) that started it.
func (ex *exchange) detach() *exchange {
	c := *ex
	c.w, c.rw = nil, responseWriter{}
	return &c
}

func (p *PoP) pipeline(ex *exchange) error {
	// 1. listener: framing, limits and timeouts are enforced before we get here.
	// 2. normalize: request id, client IP, host, path; find the distribution.
	if err := p.normalize(ex); err != nil {
		return err
	}
	// Viewer decisions are the edge's. A request that came over the tier
	// hop (the tier secret) was decided by the edge its viewer reached:
	// that edge checked the viewer's country, connection and signature
	// (and stripped the signature), so a parent trusts it and skips stages
	// 6, 7 and 9, the CORS preflight and custom error pages (15). A
	// regional PoP is not viewer-facing: normalize refuses anything else,
	// unless it is configured to accept viewers (tier.go).
	viewer := !ex.fromTier
	// 3. rate limit: later issue.
	// 4. geo lookup: enriches, decides nothing.
	p.geoLookup(ex)
	// 5. web ACL (waf.go): at the edge; a parent trusts the edge's verdict.
	if viewer {
		if err := p.webACL(ex); err != nil || ex.w.wrote {
			return err
		}
	}
	// 6. geo restriction.
	if viewer {
		if err := p.geoRestriction(ex); err != nil {
			return err
		}
	}

	// 8. cache behavior (chosen before 7 because the viewer protocol policy
	// and the allowed methods are settings of the behavior).
	ex.beh = ex.dist.behaviorFor(ex.path)
	// 7. viewer protocol policy: about the viewer's connection, so never
	// applied to the (plain HTTP) hop between tiers.
	if viewer {
		if err := p.viewerProtocol(ex); err != nil || ex.w.wrote {
			return err
		}
	}
	if !ex.beh.cfg.AllowsMethod(ex.r.Method) {
		return &Error{Status: http.StatusMethodNotAllowed, Source: FromViewer, Reason: "method not allowed",
			Header: http.Header{"Allow": {strings.Join(ex.beh.cfg.AllowedMethods, ", ")}}}
	}
	// 9. trusted signers: signed URLs and cookies, before the cache is
	// consulted. A parent never sees the credentials (the edge strips
	// them); its cache is reached only through an edge that checked them.
	if viewer {
		if err := p.trustedSigners(ex); err != nil {
			return err
		}
	}
	// 10. edge functions: later issue.
	// 16, early: a CORS preflight is answered by the response headers policy.
	if viewer && p.answerPreflight(ex) {
		return nil
	}

	// 11–14. cache key, lookup, collapse, fetch. A WebSocket handshake is
	// never cached: it goes to the origin like pass (websocket.go).
	if isUpgrade(ex.r) {
		return p.websocket(ex)
	}
	if ex.beh.bypass || !ex.beh.cfg.CachesMethod(ex.r.Method) {
		return p.pass(ex)
	}
	ex.key = p.cacheKey(ex)
	p.refreshSignalled(ex) // a child tier's refresh after an unsafe request (unsafe.go)
	return p.serveCached(ex)
	// 15. custom error responses: errorpages.go, from deliver and renderError.
	// 16. response headers: X-Cache, Via, Age and Cache-Status are written by
	// deliver's stampHeaders, which applies the policies (respheaders.go).
}

// normalize is stage 2.
func (p *PoP) normalize(ex *exchange) error {
	r := ex.r
	if r.TLS != nil {
		ex.scheme = "https"
	} else {
		ex.scheme = "http"
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ex.client = host
	} else {
		ex.client = r.RemoteAddr
	}
	if p.fromChildTier(r) {
		ex.fromTier = true
		if c := clientFromForwarded(r.Header.Get("X-Forwarded-For")); c != "" {
			ex.client = c
		}
		// The hop is plain HTTP whatever the viewer used: the scheme that
		// matters (X-Forwarded-Proto to the origin, match-viewer origins)
		// is the viewer's, which the child reported.
		if xp := r.Header.Get("X-Forwarded-Proto"); xp == "https" || xp == "http" {
			ex.scheme = xp
		}
	}
	// Before the host is looked up: a viewer learns nothing from a
	// regional PoP, not even which hosts it serves.
	if err := p.regionalRefusal(ex); err != nil {
		return err
	}
	ex.host = normalizeHost(r.Host)
	if r.URL.Scheme != "" || r.URL.Host != "" {
		// Absolute-form target: the listener checked that it agrees with Host.
		if h := normalizeHost(r.URL.Host); h != ex.host {
			return viewerError(http.StatusBadRequest, "request target and Host disagree")
		}
	}
	if r.URL.Path == "" && r.URL.RawPath == "" {
		if r.Method == http.MethodOptions && r.RequestURI == "*" {
			return viewerError(http.StatusBadRequest, "asterisk-form is not served")
		}
	}
	path, ok := cleanPath(r.URL.EscapedPath())
	if !ok {
		return viewerError(http.StatusBadRequest, "malformed path")
	}
	ex.snap = p.snap.Load()
	ex.dist = ex.snap.lookup(ex.host)
	if ex.dist == nil {
		return &Error{Status: http.StatusMisdirectedRequest, Source: FromViewer, Reason: "no distribution for this host"}
	}
	// The TLS handshake applied the certificate and security policy of the
	// distribution its SNI named; a Host of another distribution on that
	// connection (a reused HTTP/2 connection, domain fronting) must not
	// borrow them. Requests between tiers name the parent, not the viewer's
	// host, in their SNI.
	if r.TLS != nil && r.TLS.ServerName != "" && !ex.fromTier && ex.snap.lookup(normalizeHost(r.TLS.ServerName)) != ex.dist {
		return &Error{Status: http.StatusMisdirectedRequest, Source: FromViewer, Reason: "TLS server name and Host name different distributions"}
	}
	if !ex.dist.cfg.UnderscoresInHeaders {
		dropUnderscoreNames(r.Header) // key.go
	}
	if path == "/" && ex.dist.cfg.DefaultRootObject != "" {
		path = "/" + ex.dist.cfg.DefaultRootObject
	}
	ex.path = path
	ex.rawQuery = r.URL.RawQuery
	return nil
}

// trustedSigners is stage 9: a behavior with trusted key groups serves only
// requests with a valid CloudFront signed URL or signed cookies; the
// signing parameters are then left out of the cache key and the origin
// request.
func (p *PoP) trustedSigners(ex *exchange) error {
	v := ex.beh.verifier
	if v == nil {
		return nil
	}
	ip, _ := netip.ParseAddr(ex.client)
	// The policy must cover the path that chose this behavior: the
	// normalized one (a signed /public/* must not open /public/../private/x).
	path, _ := cleanPath(ex.r.URL.EscapedPath())
	resource := ex.scheme + "://" + ex.r.Host + path
	if q := signedurl.StripSigningParams(ex.r.URL.RawQuery); q != "" {
		resource += "?" + q
	}
	if err := v.Check(ex.r, resource, ip, ex.start); err != nil {
		return &Error{Status: http.StatusForbidden, Source: FromViewer,
			Reason: "signed URL refused: " + string(signedurl.ReasonOf(err)), Err: err}
	}
	ex.rawQuery = signedurl.StripSigningParams(ex.r.URL.RawQuery)
	return nil
}

// viewerProtocol is stage 7.
func (p *PoP) viewerProtocol(ex *exchange) error {
	if ex.scheme == "https" {
		return nil
	}
	switch ex.beh.cfg.ViewerProtocolPolicy {
	case config.ViewerProtocolHTTPSOnly:
		return viewerError(http.StatusForbidden, "HTTPS is required")
	case config.ViewerProtocolRedirectToHTTPS:
		code := http.StatusMovedPermanently
		if ex.r.Method != http.MethodGet && ex.r.Method != http.MethodHead {
			code = http.StatusTemporaryRedirect
		}
		target := "https://" + ex.host
		if port := p.redirectPort(ex.r); port != 0 && port != 443 {
			target += ":" + strconv.Itoa(port)
		}
		target += ex.r.URL.EscapedPath()
		if ex.r.URL.RawQuery != "" {
			target += "?" + ex.r.URL.RawQuery
		}
		h := ex.w.Header()
		h.Set("Location", target)
		p.stampHeaders(ex, h, "Redirect from strata", "")
		ex.w.WriteHeader(code)
	}
	return nil
}

func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}

// cleanPath removes dot segments (RFC 3986 5.2.4) after decoding
// percent-encoded unreserved characters, so /a/%2e%2e/b and /b select the same
// behavior and key. It keeps trailing and repeated slashes.
func cleanPath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '%' {
				if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
					return "", false
				}
				d := unhex(p[i+1])<<4 | unhex(p[i+2])
				if isUnreserved(d) {
					b.WriteByte(d)
				} else {
					b.WriteByte('%')
					b.WriteByte(upper(p[i+1]))
					b.WriteByte(upper(p[i+2]))
				}
				i += 2
				continue
			}
			b.WriteByte(c)
		}
		p = b.String()
	}
	// Encoded slashes that would make dot segments for an origin that
	// decodes them (/a/..%2Fb) are refused: the CDN and the origin would
	// disagree about the path.
	if i := strings.IndexByte(p, '%'); i >= 0 && strings.Contains(p, "..") {
		alt := strings.NewReplacer("%2F", "/", "%5C", "/", "\\", "/").Replace(p)
		for _, seg := range strings.Split(alt, "/") {
			if seg == ".." || seg == "." {
				return "", false
			}
		}
	}
	if !strings.Contains(p, "/.") {
		return p, true
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isUpgrade: a WebSocket handshake, the only upgrade Strata forwards (other
// Upgrade headers are hop-by-hop and dropped).
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func requestID() string {
	var b [24]byte
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// responseWriter records what went out, for the error path and the log.
type responseWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote, w.status = true, code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote, w.status = true, http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom passes a file body through to the listener's writer, which can
// hand it to the connection (sendfile).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wrote {
		w.wrote, w.status = true, http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// rewind takes back a response of which nothing reached the viewer yet
// (the listener still holds its head back), so that an error can be sent
// instead; it reports whether it could (HTTP/1.1 only).
func (w *responseWriter) rewind() bool {
	r, ok := w.ResponseWriter.(interface{ Rewind() bool })
	if !w.wrote || !ok || !r.Rewind() {
		return false
	}
	w.wrote, w.status, w.bytes = false, 0, 0
	return true
}

// writerOnly hides every method but Write (no ReadFrom recursion).
type writerOnly struct{ io.Writer }

// bodyWriter is what a stored body is written to: w itself when the
// listener's writer takes a file (HTTP/1.x on a plain TCP connection:
// sendfile), else a view of w without ReadFrom (TLS, HTTP/2 and HTTP/3), so
// that a disk body is copied from its file at once instead of through a
// descriptor reopened for a sendfile that cannot happen.
func (w *responseWriter) bodyWriter(overTLS bool) io.Writer {
	if _, ok := w.ResponseWriter.(io.ReaderFrom); ok && !overTLS {
		return w
	}
	return writeFlusher{w}
}

// writeFlusher is a responseWriter's Write and Flush, nothing else.
type writeFlusher struct{ w *responseWriter }

func (f writeFlusher) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f writeFlusher) Flush()                      { f.w.Flush() }

// Unwrap lets http.ResponseController reach the listener's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
