package pop

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// Stage 11: the cache key, and the request Strata sends to the origin.
//
// The rule that keeps shared responses honest: the origin request is a
// function of the cache key plus only what the origin request policy adds
// explicitly. Query strings and cookies go to the origin in the normalized
// form that is keyed, so two viewers with the same key send the origin the
// same request.

// keySep separates the fields of a cache key's string form.
const keySep = 0x1f

// cacheKey is the key of a cached request. Its String is what the store
// holds (and the disk tier persists, so the format must not change): the
// fields in this order, separated by keySep. Stored keys may carry a Vary
// variant's suffix after enc (cache.variantKey).
type cacheKey struct {
	dist    string // distribution ID
	method  string // "OPTIONS", or "" for GET and HEAD (they share objects)
	path    string // the escaped, cleaned path
	query   string // the keyed query parameters (keyQuery)
	headers string // the keyed headers, "name=value\n" each, names lower case
	cookies string // the keyed cookies, as a sorted Cookie value
	enc     string // the encoding segment (keyEncoding, compress.go)
}

// cacheKey builds the key of a cached request: the one place a key is made.
func (p *PoP) cacheKey(ex *exchange) cacheKey {
	ck := &ex.beh.policy.CacheKey
	k := cacheKey{dist: ex.dist.cfg.ID, path: ex.path, enc: keyEncoding(ex)}
	if ex.r.Method == http.MethodOptions {
		k.method = http.MethodOptions
	}
	k.query = keyQuery(ex.rawQuery, ck.QueryStrings)
	if ck.Headers.Behavior == config.KeyWhitelist {
		var sb strings.Builder
		for _, name := range ck.Headers.Items {
			sb.WriteString(strings.ToLower(name))
			sb.WriteByte('=')
			if strings.EqualFold(name, "Host") {
				sb.WriteString(ex.host)
			} else if isViewerHeader(name) {
				sb.WriteString(p.viewerHeaders(ex).Get(filterName(name)))
			} else {
				sb.WriteString(strings.Join(ex.r.Header.Values(name), ","))
			}
			sb.WriteByte('\n')
		}
		k.headers = sb.String()
	}
	if !ck.Cookies.None() {
		k.cookies = filterCookies(ex.r, ck.Cookies)
	}
	return k
}

// String is the key's wire form, as stored.
func (k cacheKey) String() string {
	var sb strings.Builder
	sb.Grow(len(k.dist) + len(k.method) + len(k.path) + len(k.query) + len(k.headers) + len(k.cookies) + len(k.enc) + 6)
	k.writeBase(&sb)
	sb.WriteByte(keySep)
	sb.WriteString(k.enc)
	return sb.String()
}

// base is the key's wire form without its encoding segment: what every
// encoding variant of the request shares (an unsafe request invalidates
// them all, unsafe.go).
func (k cacheKey) base() string {
	var sb strings.Builder
	sb.Grow(len(k.dist) + len(k.method) + len(k.path) + len(k.query) + len(k.headers) + len(k.cookies) + 5)
	k.writeBase(&sb)
	return sb.String()
}

func (k cacheKey) writeBase(sb *strings.Builder) {
	for i, f := range [...]string{k.dist, k.method, k.path, k.query, k.headers, k.cookies} {
		if i > 0 {
			sb.WriteByte(keySep)
		}
		sb.WriteString(f)
	}
}

// parseCacheKey reads a stored key back into its fields (invalidation
// matches stored keys by distribution and path). dist, method, path and
// query are read from the front and are exact for any stored key, a Vary
// variant's included; cookies and enc are read from the back, and headers
// are what lies between, so a header value holding keySep does not shift
// the other fields. parseCacheKey(s).String() == s whenever ok.
func parseCacheKey(s string) (k cacheKey, ok bool) {
	sep := string(rune(keySep))
	if k.dist, s, ok = strings.Cut(s, sep); !ok {
		return cacheKey{}, false
	}
	if k.method, s, ok = strings.Cut(s, sep); !ok {
		return cacheKey{}, false
	}
	if k.path, s, ok = strings.Cut(s, sep); !ok {
		return cacheKey{}, false
	}
	if k.query, s, ok = strings.Cut(s, sep); !ok {
		return cacheKey{}, false
	}
	i := strings.LastIndexByte(s, keySep)
	if i < 0 {
		return cacheKey{}, false
	}
	k.enc, s = s[i+1:], s[:i]
	j := strings.LastIndexByte(s, keySep)
	if j < 0 {
		return cacheKey{}, false
	}
	k.cookies, k.headers = s[j+1:], s[:j]
	return k, true
}

// keyEncodings are the values of a key's enc: the normalized
// Accept-Encoding without compress (compress.AcceptEncoding), the chosen
// encoding with it (keyEncoding).
var keyEncodings = []string{"", "gzip", "br", "br,gzip", "enc=identity", "enc=gzip", "enc=br", "enc=zstd"}

// deleteEncodings removes what is stored for k in every encoding variant
// (an unsafe request invalidates the URI for every viewer, RFC 9111 4.4).
func (p *PoP) deleteEncodings(k cacheKey) {
	for _, enc := range keyEncodings {
		k.enc = enc
		p.store.Delete(k.String())
	}
}

// keyQuery normalizes a raw query for the key: parameters selected by the
// policy, decoded and re-encoded canonically, sorted. normalizing twice gives
// the same string.
func keyQuery(raw string, l config.KeyList) string {
	if raw == "" || l.None() {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v // undecodable: keep the bytes as they are
		}
		if !l.Selects(dk) {
			continue
		}
		params = append(params, kv{dk, dv})
	}
	slices.SortStableFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var sb strings.Builder
	for i, p := range params {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(p.k))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(p.v))
	}
	return sb.String()
}

// originQuery is the query string forwarded, settled once when the pipeline
// knows whether the request is cached: for a cached request, what the cache
// key holds plus what the origin request policy adds, normalized (two
// viewers with one key send the origin one request); for any other, the
// viewer's query without signing parameters, as it came.
func originQuery(ex *exchange, cached bool) string {
	raw := ex.rawQuery
	if raw == "" || !cached {
		return raw
	}
	l := ex.beh.policy.CacheKey.QueryStrings
	if orp := ex.beh.orp; orp != nil {
		l = l.Union(orp.QueryStrings)
	}
	return keyQuery(raw, l)
}

// filterCookies returns the selected cookies as a sorted Cookie header value.
func filterCookies(r *http.Request, l config.KeyList) string {
	var parts []string
	for _, c := range r.Cookies() {
		if l.Selects(c.Name) {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// Header names with "_". CGI, WSGI, PHP and Rack origins turn a field name
// into HTTP_NAME with "-" and "_" alike, so X_Forwarded_Host reaches them as
// X-Forwarded-Host. Unless the distribution opts in
// (underscoresInHeaders), such fields are dropped in stage 2 as nginx
// drops them (underscores_in_headers off); with the opt-in they stay, and
// every filter below still matches them by filterName.

// filterName is the name header filters match: canonical, with "_" read as
// "-".
func filterName(name string) string {
	if strings.IndexByte(name, '_') >= 0 {
		name = strings.ReplaceAll(name, "_", "-")
	}
	return http.CanonicalHeaderKey(name)
}

// sameFilterName reports whether filterName(a) == filterName(b), without
// allocating.
func sameFilterName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// dropUnderscoreNames removes the fields whose names contain "_".
func dropUnderscoreNames(h http.Header) {
	for name := range h {
		if strings.IndexByte(name, '_') >= 0 {
			delete(h, name)
		}
	}
}

// strataSets are set by Strata itself on every origin request (or
// normalized by it); a viewer's spelling of them with "_" would reach the
// origin as a second copy.
var strataSets = map[string]bool{
	"X-Forwarded-For": true, "Via": true, "User-Agent": true, "Accept-Encoding": true,
	"Content-Length": true,
}

// hopByHop are never forwarded in either direction (RFC 9110 7.6.1).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true,
}

// unkeyedUnsafe are viewer headers that change how origins route or
// interpret a request; they never reach the origin unless the cache key or the
// origin request policy names them explicitly.
var unkeyedUnsafe = map[string]bool{
	"X-Forwarded-Host": true, "X-Forwarded-Server": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Port": true, "X-Forwarded-Scheme": true, "X-Forwarded-Prefix": true,
	"X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Host": true, "X-Host": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
	"Forwarded": true, "X-Real-Ip": true, "True-Client-Ip": true, "X-Client-Ip": true,
	"X-Strata-Request-Id": true, "X-Strata-Pop": true, "X-Strata-Tier": true,
}

// strataOwned: viewer copies are always dropped, because Strata sets them.
func strataOwned(name string) bool {
	return strings.HasPrefix(name, "Cloudfront-") || strings.HasPrefix(name, "X-Strata-") || strings.HasPrefix(name, "X-Amz-Cf-")
}

// notForCachedFetch: request fields that would make the origin answer
// something other than the full representation the cache stores.
var notForCachedFetch = map[string]bool{
	"If-None-Match": true, "If-Modified-Since": true, "If-Match": true,
	"If-Unmodified-Since": true, "If-Range": true, "Range": true,
	"Cache-Control": true, "Pragma": true, "Content-Length": true, "Content-Type": true,
	"Expect": true,
}

// connectionListed returns the names listed in the viewer's Connection
// header, as filterName spells them.
func connectionListed(h http.Header) map[string]bool {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vv {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				m[filterName(f)] = true
			}
		}
	}
	return m
}

// forwardHeader builds the header sent to the origin. pass is true for
// requests that are not cached (all end-to-end headers go, except the unsafe
// ones); for cached requests only keyed headers and those the origin request
// policy names go.
//
// Every filter matches filterName(name), so a spelling with "_" (kept only
// when the distribution opts in) is filtered as its dashed twin. A policy
// names a header by its exact spelling: only that spelling is forwarded as
// named, and any other spelling of the same filterName is dropped, so an
// X_Custom cannot stand in for a keyed X-Custom at the origin (nor the other
// way round).
func (p *PoP) forwardHeader(ex *exchange, pass bool) http.Header {
	in := ex.r.Header
	out := make(http.Header, 8)
	listed := connectionListed(in)
	ck := ex.beh.policy.CacheKey.Headers
	var orpHeaders config.KeyList
	if orp := ex.beh.orp; orp != nil {
		orpHeaders = orp.Headers
	}
	explicit := func(name string) bool {
		return ck.Names(name) || orpHeaders.Names(name)
	}
	// twin: a policy names another spelling of name's filterName.
	twin := func(name string) bool {
		for _, l := range []config.KeyList{ck, orpHeaders} {
			for _, it := range l.Named() {
				if sameFilterName(it, name) && !strings.EqualFold(it, name) {
					return true
				}
			}
		}
		return false
	}
	allViewer := pass
	switch orpHeaders.Behavior {
	case config.KeyAllViewer, config.KeyAllViewerAndWhitelistCloudFront, config.KeyAllExcept:
		allViewer = true
	}
	for name, vv := range in {
		fname := filterName(name)
		if hopByHop[fname] || listed[fname] || fname == "Host" || strataOwned(fname) || fname == "Cookie" {
			continue
		}
		if strataSets[fname] && strings.IndexByte(name, '_') >= 0 || twin(name) {
			continue
		}
		if unkeyedUnsafe[fname] && !explicit(name) {
			continue
		}
		if !pass && notForCachedFetch[fname] {
			continue
		}
		if fname == "Accept-Encoding" && !pass {
			continue // normalized below
		}
		if allViewer || explicit(name) {
			if orpHeaders.Behavior == config.KeyAllExcept && !explicit(name) && slices.ContainsFunc(orpHeaders.Items, func(it string) bool { return sameFilterName(it, name) }) {
				continue
			}
			out[name] = vv
		}
	}
	if isUpgrade(ex.r) {
		out.Set("Connection", "Upgrade")
		out.Set("Upgrade", "websocket")
	}
	// Cookies: all of them for pass-through, else the keyed ones plus the
	// policy's.
	if pass {
		if c := in["Cookie"]; len(c) > 0 {
			out["Cookie"] = c
		}
	} else {
		l := ex.beh.policy.CacheKey.Cookies
		if orp := ex.beh.orp; orp != nil {
			l = l.Union(orp.Cookies)
		}
		if !l.None() {
			if c := filterCookies(ex.r, l); c != "" {
				out.Set("Cookie", c)
			}
		}
		if ae := originEncoding(ex); ae != "" { // compress.go
			out.Set("Accept-Encoding", ae)
		}
	}
	// Viewer-location headers: Strata's values, when the key or the policy names them.
	var names []string
	if ck := ex.beh.policy.CacheKey.Headers; ck.Behavior == config.KeyWhitelist {
		names = append(names, ck.Items...)
	}
	if orp := ex.beh.orp; orp != nil {
		names = append(names, orp.Headers.Named()...)
	}
	for _, n := range names {
		if n = filterName(n); isViewerHeader(n) {
			if v := p.viewerHeaders(ex).Get(n); v != "" {
				out.Set(n, v)
			}
		}
	}
	if _, ok := out["User-Agent"]; !ok {
		out.Set("User-Agent", "Strata")
	}
	xff := ex.client
	if prior := in.Get("X-Forwarded-For"); prior != "" {
		switch {
		case ex.fromTier:
			xff = prior // the child tier already appended the viewer
		case pass || explicit("X-Forwarded-For") || allViewer:
			xff = prior + ", " + ex.client
		}
	}
	out.Set("X-Forwarded-For", xff)
	out.Set("X-Forwarded-Proto", ex.scheme)
	if prior := in["Via"]; len(prior) > 0 && (pass || allViewer) {
		out["Via"] = append(slices.Clip(prior), p.via)
	} else {
		out.Set("Via", p.via)
	}
	out.Set("X-Strata-Request-Id", ex.id)
	return out
}
