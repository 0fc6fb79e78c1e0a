package signedurl

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

type hashChoice int

const (
	hashDefault hashChoice = iota // no Hash-Algorithm: SHA-1 (and SHA-256 for ECDSA)
	hashSHA1                      // Hash-Algorithm=SHA1
	hashSHA256                    // Hash-Algorithm=SHA256
)

// credentials are the decoded signing values of a request.
type credentials struct {
	canned    bool
	expires   int64  // canned
	policy    []byte // custom: the policy document as signed
	signature []byte
	keyID     string
	hash      hashChoice
}

// signingValues holds the raw values found in the query or the cookies.
type signingValues struct {
	where                                 string // "query" or "cookie"
	expires, policy, signature, keyID, ha string
	hasExpires, hasPolicy, hasSignature   bool
	hasKeyID, hasHA                       bool
}

// memoKey identifies a request's raw credentials (and, for a canned
// policy, the resource URL the signature covers) for the accepted memo.
func (sv *signingValues) memoKey(resourceURL string) string {
	var b strings.Builder
	b.Grow(len(sv.keyID) + len(sv.ha) + len(sv.expires) + len(sv.policy) + len(sv.signature) + len(resourceURL) + 8)
	for _, part := range [...]string{sv.keyID, sv.ha, sv.expires, sv.policy, sv.signature} {
		b.WriteString(part)
		b.WriteByte(0)
	}
	if !sv.hasPolicy {
		b.WriteString(resourceURL)
	}
	return b.String()
}

// rawValuesOf finds the raw signing values of r: the query's when there are
// any, else the signed cookies.
func rawValuesOf(r *http.Request) (*signingValues, error) {
	if r == nil {
		return nil, refuse(ReasonMissing, "no request")
	}
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	sv, err := queryValues(rawQuery)
	if err != nil {
		return nil, err
	}
	if !sv.hasExpires && !sv.hasPolicy && !sv.hasSignature && !sv.hasKeyID {
		sv = cookieValues(r)
		if !sv.hasExpires && !sv.hasPolicy && !sv.hasSignature && !sv.hasKeyID {
			return nil, refuse(ReasonMissing, "no signed URL parameters and no signed cookies")
		}
	}
	return sv, nil
}

// queryValues reads the signing parameters of a raw query. A parameter that
// appears twice is refused: which one counts would be ambiguous.
func queryValues(rawQuery string) (*signingValues, error) {
	sv := &signingValues{where: "query"}
	for rest := rawQuery; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "&")
		name, value, _ := strings.Cut(seg, "=")
		if !cfsign.IsSigningParam(name) {
			continue
		}
		if len(value) > maxParamChars {
			return nil, refuse(ReasonMalformed, "the %s parameter is too long", name)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, refuse(ReasonMalformed, "the %s parameter is not a valid query value", name)
		}
		if !sv.set(name, v) {
			return nil, refuse(ReasonMalformed, "the %s parameter appears more than once", name)
		}
	}
	return sv, nil
}

// cookieValues reads the signed cookies of r (the first of each name: a
// browser sends the cookie of the most specific path first).
func cookieValues(r *http.Request) *signingValues {
	sv := &signingValues{where: "cookie"}
	if len(r.Header["Cookie"]) == 0 {
		return sv
	}
	for _, name := range [...]struct{ cookie, param string }{
		{cfsign.CookieExpires, cfsign.ParamExpires},
		{cfsign.CookiePolicy, cfsign.ParamPolicy},
		{cfsign.CookieSignature, cfsign.ParamSignature},
		{cfsign.CookieKeyPairID, cfsign.ParamKeyPairID},
		{cfsign.CookieHashAlgorithm, cfsign.ParamHashAlgorithm},
	} {
		cs := r.CookiesNamed(name.cookie)
		if len(cs) == 0 {
			continue
		}
		v := cs[0].Value
		if len(v) > maxParamChars {
			v = v[:maxParamChars+1] // refused as too long below
		} else if strings.Contains(v, "%") {
			if u, err := url.QueryUnescape(v); err == nil {
				v = u
			}
		}
		sv.set(name.param, v)
	}
	return sv
}

// set records a value; it reports false when the name was already set.
func (sv *signingValues) set(name, v string) bool {
	var dst *string
	var has *bool
	switch name {
	case cfsign.ParamExpires:
		dst, has = &sv.expires, &sv.hasExpires
	case cfsign.ParamPolicy:
		dst, has = &sv.policy, &sv.hasPolicy
	case cfsign.ParamSignature:
		dst, has = &sv.signature, &sv.hasSignature
	case cfsign.ParamKeyPairID:
		dst, has = &sv.keyID, &sv.hasKeyID
	case cfsign.ParamHashAlgorithm:
		dst, has = &sv.ha, &sv.hasHA
	default:
		return true
	}
	if *has {
		return false
	}
	*dst, *has = v, true
	return true
}

// decode checks and decodes the raw values.
func (sv *signingValues) decode() (*credentials, error) {
	name := func(param string) string {
		if sv.where == "cookie" {
			return "CloudFront-" + param + " cookie"
		}
		return param + " parameter"
	}
	c := &credentials{}
	switch {
	case !sv.hasKeyID || sv.keyID == "":
		return nil, refuse(ReasonMissing, "missing %s", name(cfsign.ParamKeyPairID))
	case !sv.hasSignature || sv.signature == "":
		return nil, refuse(ReasonMissing, "missing %s", name(cfsign.ParamSignature))
	case !sv.hasPolicy && !sv.hasExpires:
		return nil, refuse(ReasonMissing, "missing %s or %s", name(cfsign.ParamExpires), name(cfsign.ParamPolicy))
	case sv.hasPolicy && sv.hasExpires && sv.where == "query":
		return nil, refuse(ReasonMalformed, "both Expires and Policy parameters")
	}
	if len(sv.keyID) > maxKeyIDChars {
		return nil, refuse(ReasonMalformed, "the %s is too long", name(cfsign.ParamKeyPairID))
	}
	c.keyID = sv.keyID

	switch {
	case !sv.hasHA:
		c.hash = hashDefault
	case sv.ha == "SHA256":
		c.hash = hashSHA256
	case sv.ha == "SHA1":
		c.hash = hashSHA1
	default:
		return nil, refuse(ReasonMalformed, "unknown %s %.40q (SHA1 or SHA256)", name(cfsign.ParamHashAlgorithm), sv.ha)
	}

	if len(sv.signature) > maxSignatureChars {
		return nil, refuse(ReasonMalformed, "the %s is too long", name(cfsign.ParamSignature))
	}
	sig, ok := decodeBase64(sv.signature)
	if !ok {
		return nil, refuse(ReasonMalformed, "the %s is not CloudFront base64", name(cfsign.ParamSignature))
	}
	c.signature = sig

	if sv.hasPolicy {
		if len(sv.policy) > maxPolicyChars {
			return nil, refuse(ReasonMalformed, "the %s is longer than %d characters", name(cfsign.ParamPolicy), maxPolicyChars)
		}
		doc, ok := decodeBase64(sv.policy)
		if !ok || len(doc) == 0 {
			return nil, refuse(ReasonMalformed, "the %s is not CloudFront base64", name(cfsign.ParamPolicy))
		}
		c.policy = doc
		return c, nil
	}
	exp, ok := parseExpires(sv.expires)
	if !ok {
		return nil, refuse(ReasonMalformed, "the %s %.20q is not an epoch time up to %d", name(cfsign.ParamExpires), sv.expires, cfsign.MaxEpoch)
	}
	c.canned, c.expires = true, exp
	return c, nil
}

// decodeBase64 decodes CloudFront's base64, refusing any character outside
// its alphabet (the standard decoder would skip line breaks).
func decodeBase64(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '~' || c == '_') {
			return nil, false
		}
	}
	b, err := cfsign.Encoding.DecodeString(s)
	return b, err == nil
}

// parseExpires parses a canned Expires: decimal digits without a sign or a
// leading zero, at most CloudFront's 32-bit epoch. One spelling per value,
// since the value is rebuilt into the signed policy.
func parseExpires(s string) (int64, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > cfsign.MaxEpoch {
		return 0, false
	}
	return n, true
}
