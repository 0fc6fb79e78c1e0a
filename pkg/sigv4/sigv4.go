// Package sigv4 signs and verifies HTTP requests with AWS Signature Version 4
// (header-based Authorization, AWS4-HMAC-SHA256), without the AWS SDK.
//
// Sign produces the same Authorization header as AWS's own signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4) for the same request and the
// same set of signed headers; the tests check this. Verify is the other side:
// it checks a signed request the way an AWS service does, strictly, and says
// why it refuses in a machine-readable Reason.
//
// # What is signed
//
// Sign signs host, content-type and content-md5 (when present) and every
// x-amz-* header, including the X-Amz-Date and X-Amz-Content-Sha256 headers
// it sets itself (and X-Amz-Security-Token with a session token). Other
// headers (User-Agent, Accept, Via, ...) are not signed, so proxies and
// transports may add or change them freely.
//
// # Canonical URI
//
// The canonical URI is built from the decoded path (r.URL.Path), never from
// the raw form the client happened to send: every byte other than the
// unreserved characters A-Z a-z 0-9 - . _ ~ and '/' is percent-encoded with
// upper-case hex. For the service "s3" this is done once; for every other
// service the result is encoded a second time, as AWS specifies. There is no
// dot-segment normalisation (AWS's Go signer does none either). Since both
// Sign and Verify start from the decoded path, "/a%2Fb" and "/a/b" sign alike,
// as they do for S3.
//
// This is what AWS's Go signer computes when the request's path was escaped
// the way the SDK escapes S3 keys (URL.RawPath set to that encoding; see
// "Pre-escaping a request URI" in that package's documentation). A request
// signed by it from Go's default EscapedPath form, which leaves characters
// such as '+', '=' or ':' unescaped, does not verify here.
//
// # Host
//
// The host is r.Host, or r.URL.Host when r.Host is empty. Like AWS's signer,
// Sign drops the port when it is the scheme's default (":80" for http,
// ":443" for https) and then sets r.Host to the result, so that the Host
// header sent on the wire is the one signed. Unlike AWS's signer it keeps the
// brackets of an IPv6 literal ("[::1]:443" becomes "[::1]", not "::1").
// Verify uses the Host it received, as it received it.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm supported.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the X-Amz-Content-Sha256 value of a request whose body
// is not covered by the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// EmptyPayloadHash is the hex SHA-256 of an empty body.
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const (
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
	terminator = "aws4_request"

	headerAuthorization = "Authorization"
	headerDate          = "X-Amz-Date"
	headerContentSHA256 = "X-Amz-Content-Sha256"
	headerSecurityToken = "X-Amz-Security-Token"
)

// Credentials are the keys a request is signed with. SessionToken is
// optional; when set it is sent (and signed) as X-Amz-Security-Token.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Sign signs r in place for the given region and service at time now.
// payloadHash is the hex SHA-256 of the body (EmptyPayloadHash for none) or
// UnsignedPayload. Sign sets X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token
// (when c has a session token) and Authorization, and may set r.Host (see the
// package documentation). It does not read the body.
func Sign(r *http.Request, c Credentials, region, service string, now time.Time, payloadHash string) error {
	if r == nil || r.URL == nil {
		return errors.New("sigv4: sign: request has no URL")
	}
	if r.URL.Opaque != "" {
		return errors.New("sigv4: sign: request URL has an opaque part; set Path (and RawPath) instead")
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("sigv4: sign: access key id and secret access key are required")
	}
	if !validScopePart(c.AccessKeyID) {
		return fmt.Errorf("sigv4: sign: access key id %q may not contain '/', ',', '=' or spaces", c.AccessKeyID)
	}
	if !validScopePart(region) {
		return fmt.Errorf("sigv4: sign: region %q must be non-empty, without '/', ',', '=' or spaces", region)
	}
	if !validScopePart(service) {
		return fmt.Errorf("sigv4: sign: service %q must be non-empty, without '/', ',', '=' or spaces", service)
	}
	if payloadHash != UnsignedPayload && !isHexSHA256(payloadHash) {
		return fmt.Errorf("sigv4: sign: payload hash %q is neither a lower-case hex SHA-256 nor %s", payloadHash, UnsignedPayload)
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("sigv4: sign: query: %w", err)
	}

	t := now.UTC()
	amzDate := t.Format(timeFormat)
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Header.Del(headerAuthorization)
	r.Header.Set(headerDate, amzDate)
	r.Header.Set(headerContentSHA256, payloadHash)
	if c.SessionToken != "" {
		r.Header.Set(headerSecurityToken, c.SessionToken)
	}
	host := signingHost(r)

	headers := signableHeaders(r.Header)
	scope := amzDate[:8] + "/" + region + "/" + service + "/" + terminator
	sig, signedHeaders := signature(c.SecretAccessKey, amzDate, region, service, scope,
		r.Method, r.URL.Path, query, host, headers, payloadHash)

	auth := make([]byte, 0, len(Algorithm)+len(c.AccessKeyID)+len(scope)+len(signedHeaders)+128)
	auth = append(auth, Algorithm...)
	auth = append(auth, " Credential="...)
	auth = append(auth, c.AccessKeyID...)
	auth = append(auth, '/')
	auth = append(auth, scope...)
	auth = append(auth, ", SignedHeaders="...)
	auth = append(auth, signedHeaders...)
	auth = append(auth, ", Signature="...)
	auth = append(auth, sig...)
	r.Header.Set(headerAuthorization, string(auth))
	return nil
}

// header is one signed header: its lower-case name and its values in order.
type header struct {
	name   string
	values []string
}

// signableHeaders returns the headers Sign signs (other than host), sorted by
// name: content-type, content-md5 and every x-amz-* header.
func signableHeaders(h http.Header) []header {
	out := make([]header, 0, 8)
	for k, v := range h {
		lk := strings.ToLower(k)
		if lk != "content-type" && lk != "content-md5" && !strings.HasPrefix(lk, "x-amz-") {
			continue
		}
		out = append(out, header{name: lk, values: v})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.name, b.name) })
	// Keys that differ only in case (set into the map directly, not through
	// Header.Set) are one header; merge them in a stable order.
	merged := out[:0]
	for i := 0; i < len(out); i++ {
		if len(merged) > 0 && merged[len(merged)-1].name == out[i].name {
			last := &merged[len(merged)-1]
			last.values = append(slices.Clip(last.values), out[i].values...)
			continue
		}
		merged = append(merged, out[i])
	}
	return merged
}

// signingHost returns the host to sign: r.Host, else r.URL.Host, with the
// scheme's default port dropped; when a port is dropped r.Host is set to the
// result so the wire carries what was signed.
func signingHost(r *http.Request) string {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	h, port := splitPort(host)
	scheme := strings.ToLower(r.URL.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		r.Host = h
		return h
	}
	return host
}

// splitPort splits "host:port" and "[v6]:port"; port is "" when there is
// none. The brackets of an IPv6 literal stay on the host.
func splitPort(hostport string) (host, port string) {
	if strings.HasPrefix(hostport, "[") {
		i := strings.Index(hostport, "]:")
		if i < 0 {
			return hostport, ""
		}
		return hostport[:i+1], hostport[i+2:]
	}
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.IndexByte(hostport, ':') != i {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}

// signature computes the hex signature and the SignedHeaders value of a
// request. headers must be sorted by name and must not contain host.
func signature(secret, amzDate, region, service, scope, method, path string, query url.Values,
	host string, headers []header, payloadHash string) (sig, signedHeaders string) {
	canonical, signedHeaders := canonicalRequest(method, path, service, query, host, headers, payloadHash)
	sum := sha256.Sum256(canonical)

	sts := make([]byte, 0, len(Algorithm)+len(amzDate)+len(scope)+3+64)
	sts = append(sts, Algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])

	key := signingKey(secret, amzDate[:8], region, service)
	mac := hmac.New(sha256.New, key)
	mac.Write(sts)
	var out [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(out[:0])), signedHeaders
}

// signingKey derives the SigV4 signing key for a day, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest builds the canonical request:
//
//	method \n uri \n query \n (name:value \n)* \n signed;headers \n payloadHash
//
// host goes first into the sorted header list. It returns the canonical
// request and the SignedHeaders value.
func canonicalRequest(method, path, service string, query url.Values, host string,
	headers []header, payloadHash string) ([]byte, string) {
	b := make([]byte, 0, 512)
	b = append(b, method...)
	b = append(b, '\n')

	if path == "" {
		path = "/"
	}
	if service == "s3" {
		b = appendEscaped(b, path, true)
	} else {
		b = appendEscaped(b, string(appendEscaped(nil, path, true)), true)
	}
	b = append(b, '\n')
	b = appendCanonicalQuery(b, query)
	b = append(b, '\n')

	// host sorts among the others by name.
	signed := make([]byte, 0, 64)
	hostDone := false
	writeHost := func() {
		b = append(b, "host:"...)
		b = appendCanonicalValue(b, host)
		b = append(b, '\n')
		if len(signed) > 0 {
			signed = append(signed, ';')
		}
		signed = append(signed, "host"...)
		hostDone = true
	}
	for _, h := range headers {
		if !hostDone && h.name > "host" {
			writeHost()
		}
		b = append(b, h.name...)
		b = append(b, ':')
		for i, v := range h.values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalValue(b, v)
		}
		b = append(b, '\n')
		if len(signed) > 0 {
			signed = append(signed, ';')
		}
		signed = append(signed, h.name...)
	}
	if !hostDone {
		writeHost()
	}
	b = append(b, '\n')
	b = append(b, signed...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, string(signed)
}

// appendCanonicalValue appends a header value as AWS canonicalises it:
// leading and trailing spaces removed, runs of spaces collapsed to one, then
// any remaining leading or trailing white space (strings.TrimSpace) removed.
// Only spaces are collapsed, as in AWS's signer; a tab inside a value stays.
func appendCanonicalValue(b []byte, v string) []byte {
	v = strings.Trim(v, " ")
	if !strings.Contains(v, "  ") {
		return append(b, strings.TrimSpace(v)...)
	}
	start := len(b)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	trimmed := strings.TrimSpace(string(b[start:]))
	return append(b[:start], trimmed...)
}

// appendCanonicalQuery appends the query parameters, each name and value
// encoded, sorted by encoded name and then encoded value (AWS sorts after
// encoding), joined with '&'.
func appendCanonicalQuery(b []byte, query url.Values) []byte {
	if len(query) == 0 {
		return b
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(query))
	for k, vs := range query {
		ek := string(appendEscaped(nil, k, false))
		for _, v := range vs {
			pairs = append(pairs, pair{ek, string(appendEscaped(nil, v, false))})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

// appendEscaped percent-encodes every byte of s except the unreserved
// characters (and '/' when keepSlash), with upper-case hex.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && keepSlash) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// validScopePart reports whether s can stand in a credential scope or as an
// access key id: non-empty, printable ASCII, without '/', ',', '=' or spaces.
func validScopePart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
