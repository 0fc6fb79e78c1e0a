package pop

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/config"
)

// Stage 16, response headers policies, as CloudFront applies them: to every
// response a viewer gets for a request that chose a cache behavior (hits,
// misses, passes, redirects, custom error pages, Strata's own errors and
// 304s), never to responses for a child tier (the edge applies its policy),
// and never stored. Headers the policy removes go first; then CORS, security
// and custom headers are added, each keeping a header of the same name the
// response already has unless it overrides; then Server-Timing. A CORS
// preflight is answered here, ahead of the cache, when the policy's CORS
// part lists allowed methods.
//
// A policy is resolved once per configuration snapshot (buildBehavior) into
// a respPolicy whose header values are shared, never-modified slices.

// respPolicy is a response headers policy resolved for serving.
type respPolicy struct {
	remove []string // canonical names, removed before anything is added
	cors   *corsPolicy
	add    []addHeader // security and custom headers
	timing bool        // Server-Timing enabled
	rate   float64     // percent of requests that get it
}

type addHeader struct {
	name     string   // canonical
	value    []string // shared: len == cap, never modified
	override bool
}

type corsPolicy struct {
	star       bool     // answer "*": any origin, no credentials
	anyOrigin  bool     // "*" is in the list
	exact      []string // allowed origins, lower case, default ports dropped
	wildcards  []wildOrigin
	varyOrigin bool // the answer depends on the request's Origin
	override   bool
	// Shared values; nil when the header is not sent.
	credentials, expose, methods, headers, maxAge []string
}

// wildOrigin is https://*.example.com[:port] as prefix "https://" and
// suffix ".example.com[:port]".
type wildOrigin struct{ prefix, suffix string }

// Header names and shared values.
const (
	hACAO   = "Access-Control-Allow-Origin"
	hACAC   = "Access-Control-Allow-Credentials"
	hACEH   = "Access-Control-Expose-Headers"
	hACAM   = "Access-Control-Allow-Methods"
	hACAH   = "Access-Control-Allow-Headers"
	hACMA   = "Access-Control-Max-Age"
	hTiming = "Server-Timing"
)

var starValue = []string{"*"}

// allMethods is what CloudFront's ALL stands for.
const allMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// preflightStatus is the Cache-Status detail of a preflight answered here.
const preflightStatus = "detail=cors-preflight"

func shared(v string) []string { s := []string{v}; return s[:1:1] }

// newRespPolicy resolves a validated policy.
func newRespPolicy(c *config.ResponseHeadersPolicy) *respPolicy {
	rp := &respPolicy{}
	for _, name := range c.RemoveHeaders {
		rp.remove = append(rp.remove, http.CanonicalHeaderKey(name))
	}
	if c.CORS != nil {
		rp.cors = newCORSPolicy(c.CORS)
	}
	if s := c.SecurityHeaders; s != nil {
		if t := s.StrictTransportSecurity; t != nil {
			v := "max-age=" + strconv.FormatInt(t.AccessControlMaxAgeSec, 10)
			if t.IncludeSubdomains {
				v += "; includeSubDomains"
			}
			if t.Preload {
				v += "; preload"
			}
			rp.add = append(rp.add, addHeader{"Strict-Transport-Security", shared(v), t.Override})
		}
		if t := s.ContentTypeOptions; t != nil {
			rp.add = append(rp.add, addHeader{"X-Content-Type-Options", shared("nosniff"), t.Override})
		}
		if t := s.FrameOptions; t != nil {
			rp.add = append(rp.add, addHeader{"X-Frame-Options", shared(t.FrameOption), t.Override})
		}
		if t := s.ReferrerPolicy; t != nil {
			rp.add = append(rp.add, addHeader{"Referrer-Policy", shared(t.ReferrerPolicy), t.Override})
		}
		if t := s.ContentSecurityPolicy; t != nil {
			rp.add = append(rp.add, addHeader{"Content-Security-Policy", shared(t.ContentSecurityPolicy), t.Override})
		}
		if t := s.XSSProtection; t != nil {
			v := "0"
			if t.Protection {
				v = "1"
				if t.ModeBlock {
					v += "; mode=block"
				}
				if t.ReportURI != "" {
					v += "; report=" + t.ReportURI
				}
			}
			rp.add = append(rp.add, addHeader{"X-Xss-Protection", shared(v), t.Override}) // canonical form
		}
	}
	for _, h := range c.CustomHeaders {
		rp.add = append(rp.add, addHeader{http.CanonicalHeaderKey(h.Header), shared(h.Value), h.Override})
	}
	if st := c.ServerTiming; st != nil && st.Enabled {
		rp.timing, rp.rate = true, st.SamplingRate
	}
	return rp
}

func newCORSPolicy(c *config.CORSConfig) *corsPolicy {
	cp := &corsPolicy{override: c.OriginOverride}
	for _, o := range c.AccessControlAllowOrigins {
		if o == "*" {
			cp.anyOrigin = true
			continue
		}
		o = dropDefaultPort(strings.ToLower(o))
		if scheme, rest, ok := strings.Cut(o, "://*."); ok {
			cp.wildcards = append(cp.wildcards, wildOrigin{prefix: scheme + "://", suffix: "." + rest})
			continue
		}
		cp.exact = append(cp.exact, o)
	}
	cp.star = cp.anyOrigin && !c.AccessControlAllowCredentials
	cp.varyOrigin = !cp.star
	if c.AccessControlAllowCredentials {
		cp.credentials = shared("true")
	}
	if len(c.AccessControlExposeHeaders) > 0 {
		cp.expose = shared(strings.Join(c.AccessControlExposeHeaders, ", "))
	}
	if len(c.AccessControlAllowMethods) > 0 {
		m := strings.Join(c.AccessControlAllowMethods, ", ")
		if m == "ALL" {
			m = allMethods
		}
		cp.methods = shared(m)
	}
	if len(c.AccessControlAllowHeaders) > 0 {
		cp.headers = shared(strings.Join(c.AccessControlAllowHeaders, ", "))
	}
	if c.AccessControlMaxAgeSec > 0 {
		cp.maxAge = shared(strconv.Itoa(c.AccessControlMaxAgeSec))
	}
	return cp
}

// dropDefaultPort writes an origin the way browsers send it.
func dropDefaultPort(o string) string {
	if s, ok := strings.CutSuffix(o, ":443"); ok && strings.HasPrefix(o, "https://") {
		return s
	}
	if s, ok := strings.CutSuffix(o, ":80"); ok && strings.HasPrefix(o, "http://") {
		return s
	}
	return o
}

// allows reports whether a request's Origin value is allowed.
func (c *corsPolicy) allows(origin string) bool {
	if c.anyOrigin {
		return true
	}
	for _, e := range c.exact {
		if strings.EqualFold(origin, e) {
			return true
		}
	}
	if len(c.wildcards) == 0 {
		return false
	}
	o := strings.ToLower(origin)
	for _, w := range c.wildcards {
		if len(o) > len(w.prefix)+len(w.suffix) && strings.HasPrefix(o, w.prefix) && strings.HasSuffix(o, w.suffix) &&
			isHostLabels(o[len(w.prefix):len(o)-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// isHostLabels: one or more DNS labels (what "*" may stand for).
func isHostLabels(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isPreflight: a CORS preflight request (Fetch standard).
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) > 0 && len(r.Header["Access-Control-Request-Method"]) > 0
}

// apply adds the CORS headers for a request to h.
func (c *corsPolicy) apply(r *http.Request, h http.Header) {
	if c.varyOrigin {
		addVary(h, "Origin")
	}
	origin := r.Header["Origin"]
	if len(origin) != 1 || !c.allows(origin[0]) {
		return
	}
	acao := starValue
	if !c.star {
		acao = []string{origin[0]}
	}
	c.set(h, hACAO, acao)
	c.set(h, hACAC, c.credentials)
	c.set(h, hACEH, c.expose)
	if isPreflight(r) {
		c.set(h, hACAM, c.methods)
		c.set(h, hACAH, c.headers)
		c.set(h, hACMA, c.maxAge)
	}
}

func (c *corsPolicy) set(h http.Header, name string, v []string) {
	if v == nil {
		return
	}
	if _, sent := h[name]; sent && !c.override {
		return
	}
	h[name] = v
}

// addVary adds name to Vary unless it (or "*") is there. The slice may be
// shared with a stored object: it is never appended to in place.
func addVary(h http.Header, name string) {
	vv := h["Vary"]
	for _, v := range vv {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return
			}
		}
	}
	h["Vary"] = append(vv[:len(vv):len(vv)], name)
}

// policy is the response headers policy for ex: a custom error page gets the
// one of the behavior the viewer's request chose.
func (ex *exchange) policy() *respPolicy {
	b := ex.beh
	if ex.viewerBeh != nil {
		b = ex.viewerBeh
	}
	if b == nil || ex.fromTier {
		return nil
	}
	return b.rhp
}

// applyResponsePolicy is called by stampHeaders for every response, after
// Strata's own headers are in h.
func (p *PoP) applyResponsePolicy(ex *exchange, h http.Header, xcache string) {
	rp := ex.policy()
	if rp == nil {
		return
	}
	for _, name := range rp.remove {
		delete(h, name)
	}
	if rp.cors != nil {
		rp.cors.apply(ex.r, h)
	}
	for i := range rp.add {
		a := &rp.add[i]
		if _, sent := h[a.name]; !sent || a.override {
			h[a.name] = a.value
		}
	}
	if rp.timing && (rp.rate >= 100 || rand.Float64()*100 < rp.rate || pragmaServerTiming(ex.r)) {
		h[hTiming] = p.serverTiming(ex, h[hTiming], xcache)
	}
}

// answerPreflight answers a CORS preflight at the edge when the behavior's
// policy lists allowed methods: 204 with the policy's headers; the origin is
// not asked. It reports whether it did.
func (p *PoP) answerPreflight(ex *exchange) bool {
	rp := ex.policy()
	if rp == nil || rp.cors == nil || rp.cors.methods == nil || !isPreflight(ex.r) {
		return false
	}
	h := ex.w.Header()
	p.stampHeaders(ex, h, "Miss from strata", preflightStatus)
	ex.w.WriteHeader(http.StatusNoContent)
	return true
}

// pragmaServerTiming: "Pragma: server-timing" asks for the header whatever
// the sampling rate (as in CloudFront).
func pragmaServerTiming(r *http.Request) bool {
	for _, v := range r.Header["Pragma"] {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "server-timing") {
				return true
			}
		}
	}
	return false
}

// serverTiming is the Server-Timing value, with CloudFront's metric names
// and Strata's timings. On a miss the origin's own value follows ours; a hit
// has only ours.
func (p *PoP) serverTiming(ex *exchange, fromOrigin []string, xcache string) []string {
	var b strings.Builder
	b.Grow(256)
	metric := func(name, param string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(param)
	}
	dur := func(d time.Duration) string { return ";dur=" + strconv.FormatInt(d.Milliseconds(), 10) }
	desc := func(s string) string { return `;desc="` + s + `"` }

	t, via, parentHit := ex.timing, "", false
	if f := ex.flight; f != nil {
		t, via = f.Timing, f.Upstream
		if via != "" {
			x := f.Header.Get("X-Cache")
			parentHit = strings.HasPrefix(x, "Hit ") || strings.HasPrefix(x, "RefreshHit ")
		}
	}
	result := ""
	switch {
	case ex.status == preflightStatus || strings.HasPrefix(xcache, "Redirect "):
	case strings.HasPrefix(xcache, "Hit "):
		result = "hit"
	case strings.HasPrefix(xcache, "RefreshHit "):
		result = "refresh"
	case parentHit:
		result = "parent-hit"
	default:
		result = "miss"
	}
	if (result == "miss" || result == "refresh") && t.Measured {
		layer := p.layer(ex)
		if via != "" {
			layer = p.parentLayer()
		}
		metric("cdn-upstream-layer", desc(layer))
		metric("cdn-upstream-dns", dur(t.DNS))
		metric("cdn-upstream-connect", dur(t.Connect))
		metric("cdn-upstream-fbl", dur(t.FirstByte))
	}
	switch result {
	case "hit", "parent-hit":
		metric("cdn-cache-hit", "")
	case "refresh":
		metric("cdn-cache-refresh", "")
	case "miss":
		metric("cdn-cache-miss", "")
	}
	metric("cdn-pop", desc(p.opts.ID))
	metric("cdn-rid", desc(ex.id))
	switch result {
	case "hit":
		metric("cdn-hit-layer", desc(p.layer(ex)))
	case "parent-hit":
		metric("cdn-hit-layer", desc(p.parentLayer()))
	}
	metric("cdn-downstream-fbl", dur(p.now().Sub(ex.start)))
	if result != "hit" && result != "parent-hit" {
		for _, v := range fromOrigin {
			if v != "" {
				b.WriteByte(',')
				b.WriteString(v)
			}
		}
	}
	return []string{b.String()}
}

// layer is this PoP's cache layer in CloudFront's words.
func (p *PoP) layer(ex *exchange) string {
	if p.opts.Tier != TierRegional {
		return "EDGE"
	}
	if s := ex.beh; s != nil && s.shield != "" && s.shield == p.opts.RegionalCache {
		return "Origin Shield"
	}
	return "REC"
}

// parentLayer is the layer of the parent tier this PoP fetches from.
func (p *PoP) parentLayer() string {
	if p.parent != nil {
		return "REC"
	}
	return "Origin Shield"
}

// upstreamTrace measures one upstream request (net/http/httptrace). The
// transport calls its hooks from several goroutines, so every field is
// atomic: nanoseconds since base, 0 when unset.
type upstreamTrace struct {
	base                                   time.Time
	dnsStart, dnsDone, connStart, connDone atomic.Int64
	gotConn, wrote, firstByte              atomic.Int64
	reused                                 atomic.Bool
}

// traceUpstream returns ctx with a trace when the behavior's policy has
// Server-Timing on (nothing is measured otherwise).
func traceUpstream(ctx context.Context, b *behavior) (context.Context, *upstreamTrace) {
	if b == nil || b.rhp == nil || !b.rhp.timing {
		return ctx, nil
	}
	t := &upstreamTrace{base: time.Now()}
	mark := func(f *atomic.Int64) { f.Store(int64(time.Since(t.base)) + 1) }
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { mark(&t.dnsStart) },
		DNSDone:  func(httptrace.DNSDoneInfo) { mark(&t.dnsDone) },
		ConnectStart: func(string, string) {
			t.connStart.CompareAndSwap(0, int64(time.Since(t.base))+1)
		},
		ConnectDone:          func(string, string, error) { mark(&t.connDone) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { mark(&t.connDone) },
		GotConn:              func(i httptrace.GotConnInfo) { t.reused.Store(i.Reused); mark(&t.gotConn) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { mark(&t.wrote) },
		GotFirstResponseByte: func() { mark(&t.firstByte) },
	}), t
}

// result is what was measured; the zero value for a nil trace.
func (t *upstreamTrace) result() cache.UpstreamTiming {
	if t == nil {
		return cache.UpstreamTiming{}
	}
	u := cache.UpstreamTiming{Measured: true}
	span := func(from, to int64) time.Duration {
		if from == 0 || to == 0 || to < from {
			return 0
		}
		return time.Duration(to - from)
	}
	if !t.reused.Load() {
		u.DNS = span(t.dnsStart.Load(), t.dnsDone.Load())
		from := t.dnsDone.Load()
		if from == 0 {
			from = t.connStart.Load()
		}
		u.Connect = span(from, t.connDone.Load())
	}
	from := t.wrote.Load()
	if from == 0 {
		from = t.gotConn.Load()
	}
	u.FirstByte = span(from, t.firstByte.Load())
	return u
}
