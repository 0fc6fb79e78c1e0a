package signedurl

import (
	"net/http"
	"strings"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// StripSigningParams returns rawQuery without the signing parameters
// (Expires, Policy, Signature, Key-Pair-Id and Hash-Algorithm), keeping the
// other parameters in their order and encoding. Names are compared as they
// appear in the raw query, exactly as Check reads them. The result is what
// the cache key, the origin request and the resource URL use.
func StripSigningParams(rawQuery string) string {
	if !mayHaveSigningParam(rawQuery) {
		return rawQuery
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	first := true
	for rest := rawQuery; ; {
		seg, tail, more := strings.Cut(rest, "&")
		name, _, _ := strings.Cut(seg, "=")
		if !cfsign.IsSigningParam(name) {
			if !first {
				b.WriteByte('&')
			}
			b.WriteString(seg)
			first = false
		}
		if !more {
			break
		}
		rest = tail
	}
	return b.String()
}

// mayHaveSigningParam is a fast filter: every signing parameter name has one
// of these substrings.
func mayHaveSigningParam(q string) bool {
	return strings.Contains(q, "Expires") || strings.Contains(q, "Policy") ||
		strings.Contains(q, "Signature") || strings.Contains(q, "Key-Pair-Id") ||
		strings.Contains(q, "Hash-Algorithm")
}

// ResourceURL returns the URL a request's policy must cover:
// scheme://host/path?query, with the host as the viewer sent it (r.Host),
// the path as it was written on the request line, and the query without the
// signing parameters. scheme is "http" or "https", as the viewer connected.
func ResourceURL(r *http.Request, scheme string) string {
	path := ""
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	} else if r.URL != nil {
		path = r.URL.EscapedPath()
	}
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	u := scheme + "://" + host + path
	if q := StripSigningParams(rawQuery); q != "" {
		u += "?" + q
	}
	return u
}
