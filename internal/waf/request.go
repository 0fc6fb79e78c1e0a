package waf

import (
	"net/http"
	"net/netip"
	"strings"
)

// Request is what a web ACL inspects: the viewer's request as the PoP
// received it, enriched by the geo lookup. The caller fills it; Evaluate
// does not modify it.
type Request struct {
	ClientIP netip.Addr // the viewer's address (the PoP's client IP)
	Country  string     // ISO 3166-1 alpha-2 from the PoP's geo lookup; "" unknown
	Method   string
	Host     string
	Path     string // the URI path as sent (escaped), e.g. /a%20b
	RawQuery string // the query as sent, without '?'
	Proto    string // e.g. HTTP/1.1, HTTP/2.0
	Header   http.Header
	// Body holds the first bytes of the request body, at most the
	// program's BodyLimit; BodyOversize says that more followed.
	Body         []byte
	BodyOversize bool
	// BodySize is the whole body's size when known (Content-Length), else
	// -1; SizeConstraint on Body compares it.
	BodySize int64
	// ID is the request id, for sampled requests and logs.
	ID string
}

// header returns the values of a header (case-insensitive), Host included.
func (r *Request) header(name string) ([]string, bool) {
	if strings.EqualFold(name, "host") {
		if r.Host == "" {
			return nil, false
		}
		return []string{r.Host}, true
	}
	v, ok := r.Header[http.CanonicalHeaderKey(name)]
	if !ok {
		// a non-canonical key set by hand
		for k, vv := range r.Header {
			if strings.EqualFold(k, name) {
				return vv, true
			}
		}
	}
	return v, ok
}

// queryArgs splits the raw query into name and value pairs, undecoded.
func queryArgs(raw string) [][2]string {
	if raw == "" {
		return nil
	}
	var out [][2]string
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// cookies splits the Cookie headers into name and value pairs, leniently.
func cookies(h http.Header) [][2]string {
	var out [][2]string
	for _, line := range h["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k, v, _ := strings.Cut(part, "=")
			out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return out
}
