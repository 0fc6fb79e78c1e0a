// Package respheaders is stage 16 of the request pipeline: response headers
// policies, as CloudFront applies them. The PoP applies a policy to every
// response a viewer gets for a request that chose a cache behavior (hits,
// misses, passes, redirects, custom error pages, Strata's own errors and
// 304s), never to responses for a child tier (the edge applies its policy),
// and never stores the result.
//
// Apply works in this order:
//
//  1. Headers the policy removes are deleted.
//  2. CORS headers are added for the request's Origin, when it is allowed
//     (Vary: Origin whenever the answer depends on it).
//  3. Security and custom headers are added.
//
// Steps 2 and 3 keep a header of the same name the response already has,
// unless the policy overrides it. Server-Timing comes last and is the
// PoP's to render (it knows the timings); WantsTiming says whether this
// response gets it. A CORS preflight is answered at the edge, ahead of the
// cache, when the policy's CORS part lists allowed methods
// (AnswersPreflight); its headers are those Apply adds.
//
// A policy is resolved once per configuration snapshot (New) into a Policy
// whose header values are shared, never-modified slices: Apply puts them in
// a response header as they are, and never appends to a slice it did not
// allocate.
package respheaders

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// Policy is a response headers policy resolved for serving. It is
// read-only after New and safe for concurrent use.
type Policy struct {
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

// Header names.
const (
	hACAO = "Access-Control-Allow-Origin"
	hACAC = "Access-Control-Allow-Credentials"
	hACEH = "Access-Control-Expose-Headers"
	hACAM = "Access-Control-Allow-Methods"
	hACAH = "Access-Control-Allow-Headers"
	hACMA = "Access-Control-Max-Age"
)

var starValue = []string{"*"}

// allMethods is what CloudFront's ALL stands for.
const allMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

func shared(v string) []string { s := []string{v}; return s[:1:1] }

// New resolves a validated policy.
func New(c *config.ResponseHeadersPolicy) *Policy {
	rp := &Policy{}
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

// Apply removes and adds the policy's headers (all but Server-Timing) in
// h, the response header for r. h's existing slices are never written.
func (p *Policy) Apply(r *http.Request, h http.Header) {
	for _, name := range p.remove {
		delete(h, name)
	}
	if p.cors != nil {
		p.cors.apply(r, h)
	}
	for i := range p.add {
		a := &p.add[i]
		if _, sent := h[a.name]; !sent || a.override {
			h[a.name] = a.value
		}
	}
}

// AnswersPreflight reports whether r is a CORS preflight this policy
// answers at the edge (its CORS part lists allowed methods): the PoP then
// sends 204 with the headers Apply adds, without asking the origin.
func (p *Policy) AnswersPreflight(r *http.Request) bool {
	return p.cors != nil && p.cors.methods != nil && isPreflight(r)
}

// ServerTiming reports whether the policy has Server-Timing on, so that
// upstream requests are worth measuring.
func (p *Policy) ServerTiming() bool { return p.timing }

// WantsTiming reports whether the response to r gets a Server-Timing
// header: the policy has it on, and r is sampled (samplingRate percent of
// requests) or asks with "Pragma: server-timing".
func (p *Policy) WantsTiming(r *http.Request) bool {
	return p.timing && (p.rate >= 100 || rand.Float64()*100 < p.rate || pragmaServerTiming(r))
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
		AddVary(h, "Origin")
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

// AddVary adds name to Vary unless it (or "*") is there. The slice may be
// shared with a stored object: it is never appended to in place.
func AddVary(h http.Header, name string) {
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
