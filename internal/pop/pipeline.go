package pop

import (
	"encoding/base64"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

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

	key      string      // cache key (cached methods only): ck.String()
	ck       cacheKey    // its fields (key.go)
	fwd      http.Header // headers for the origin, built once (see forwardHeader)
	query    string      // query string for the origin (originQuery, set with the behavior)
	out      outcome     // what was decided about the response (outcome.go)
	err      error
	fromTier bool // sent by a child tier of this network (trusted hop header)

	ws *tunnel // an established WebSocket, for the log (websocket.go)

	geo       geo.Location // stage 4
	viewerHdr http.Header  // CloudFront-Viewer-* values, built when needed
	rawQuery  string       // the viewer's query, without signed-URL parameters (stage 9)

	// The behavior whose response headers policy a custom error page gets
	// (servertiming.go).
	viewerBeh *behavior
}

// ServeHTTP runs the pipeline for one request. The order of the stages is
// fixed here and only here (DESIGN.md, "The request pipeline of a PoP");
// configuration switches stages on and sets them up.
func (p *PoP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangePool.Get().(*exchange)
	ex.rw = responseWriter{ResponseWriter: w}
	ex.w, ex.r, ex.start, ex.id = &ex.rw, r, p.now(), requestID()
	// 17. log and metrics: always runs, even after an early exit (finish).
	defer p.finish(ex)
	// 1–14, and 15–16 on the way of every response (deliver, pass).
	if err := p.pipeline(ex); err != nil && err != errAnswered {
		// 15–16 for an error: the one error path renders it, through a
		// custom error page when the distribution has one (errorpages.go),
		// with the response headers policy (servertiming.go).
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

// setKey makes ex a cached request of key k.
func (ex *exchange) setKey(k cacheKey) {
	ex.ck, ex.key = k, k.String()
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// detach copies what a shared fetch needs: it outlives the request (and the
// pooled exchange) that started it.
func (ex *exchange) detach() *exchange {
	c := *ex
	c.w, c.rw = nil, responseWriter{}
	return &c
}

// pipeline runs the stages in order. Every stage has one shape (the stage
// contract):
//
//	func (p *PoP) stage(ex *exchange) error
//
// and returns one of three things:
//
//   - nil: continue with the next stage (the stage may have enriched ex:
//     geo lookup, the behavior, the cache key);
//   - errAnswered: the stage answered the request itself (a redirect to
//     HTTPS, a CORS preflight, a cached or fetched response, a WebSocket
//     tunnel); nothing more runs but stage 17;
//   - an *Error (or an error that renderError maps to one): the request
//     fails; the stage wrote nothing, and the one error path (renderError,
//     errors.go) renders it, with custom error pages (stage 15) and the
//     response policy (16). A stage never renders an error itself.
//
// The last stages (11–14) answer through deliver and return nil or an
// error as well; a body that fails after its head went out is aborted
// (http.ErrAbortHandler), never presented as complete.
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
	if err := p.geoLookup(ex); err != nil {
		return err
	}
	// 5. web ACL (waf.go): at the edge; a parent trusts the edge's verdict.
	if viewer {
		if err := p.webACL(ex); err != nil {
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
		if err := p.viewerProtocol(ex); err != nil {
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
	if viewer {
		if err := p.answerPreflight(ex); err != nil {
			return err
		}
	}

	// 11–14. cache key, lookup, collapse, fetch. A WebSocket handshake is
	// never cached: it goes to the origin like pass (websocket.go). The
	// origin's query is settled here, once the behavior and the query
	// without signing parameters are known (key.go).
	upgrade := isUpgrade(ex.r)
	cached := !upgrade && !ex.beh.bypass && ex.beh.cfg.CachesMethod(ex.r.Method)
	ex.query = originQuery(ex, cached)
	if upgrade {
		return p.websocket(ex)
	}
	if !cached {
		return p.pass(ex)
	}
	ex.setKey(p.cacheKey(ex))
	p.refreshSignalled(ex) // a child tier's refresh after an unsafe request (unsafe.go)
	return p.serveCached(ex)
	// 15. custom error responses: errorpages.go, from deliver and renderError.
	// 16. response headers: X-Cache, Cache-Status and Server-Timing are
	// rendered from ex.out, the outcome decided on the way (outcome.go), by
	// deliver's stampHeaders, which adds Via and applies the policies
	// (servertiming.go, internal/respheaders).
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
		ex.decide(outcome{kind: decRedirect})
		p.stampHeaders(ex, h)
		ex.w.WriteHeader(code)
		return errAnswered
	}
	return nil
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
