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

// cacheKey builds the key of a cached request and the query string that goes
// to the origin.
func (p *PoP) cacheKey(ex *exchange) string {
	b := ex.beh
	ck := &b.policy.CacheKey
	var sb strings.Builder
	sb.Grow(len(ex.dist.cfg.ID) + len(ex.path) + 64)
	sb.WriteString(ex.dist.cfg.ID)
	sb.WriteByte(0x1f)
	if ex.r.Method == http.MethodOptions {
		sb.WriteString("OPTIONS")
	}
	sb.WriteByte(0x1f)
	sb.WriteString(ex.path)
	sb.WriteByte(0x1f)
	ex.query = p.originQuery(ex)
	sb.WriteString(keyQuery(ex.rawQuery, ck.QueryStrings))
	sb.WriteByte(0x1f)
	if ck.Headers.Behavior == config.KeyWhitelist {
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
	}
	sb.WriteByte(0x1f)
	if !ck.Cookies.None() {
		sb.WriteString(filterCookies(ex.r, ck.Cookies))
	}
	sb.WriteByte(0x1f)
	sb.WriteString(keyEncoding(ex)) // compress.go
	return sb.String()
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

// originQuery is the query string forwarded: what the cache key holds plus
// what the origin request policy adds, normalized.
func (p *PoP) originQuery(ex *exchange) string {
	raw := ex.rawQuery
	if raw == "" {
		return ""
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
