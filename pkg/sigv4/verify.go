package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reasons a request is refused, as found in Error.Reason.
const (
	ReasonMissingAuthorization   = "missing-authorization"   // no Authorization header
	ReasonMalformedAuthorization = "malformed-authorization" // not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…
	ReasonUnsignedHost           = "unsigned-host"           // host is not among the signed headers
	ReasonUnsignedHeader         = "unsigned-header"         // an x-amz-* header is present but not signed
	ReasonMissingDate            = "missing-date"            // no X-Amz-Date header
	ReasonMalformedDate          = "malformed-date"          // X-Amz-Date is not YYYYMMDDTHHMMSSZ
	ReasonExpired                = "expired"                 // X-Amz-Date is further from now than the allowed skew
	ReasonWrongScope             = "wrong-scope"             // credential scope date, region, service or terminator is wrong
	ReasonUnknownKey             = "unknown-key"             // the access key id is not known
	ReasonMalformedQuery         = "malformed-query"         // the query string does not parse
	ReasonMissingContentSHA256   = "missing-content-sha256"  // a body without X-Amz-Content-Sha256
	ReasonBadContentSHA256       = "bad-content-sha256"      // X-Amz-Content-Sha256 is neither a hex SHA-256 nor UNSIGNED-PAYLOAD
	ReasonPayloadMismatch        = "payload-mismatch"        // the body does not hash to X-Amz-Content-Sha256
	ReasonSignatureMismatch      = "signature-mismatch"      // the signature is not the one the key gives
)

// DefaultMaxSkew is the clock skew Verify allows when given none, as AWS does.
const DefaultMaxSkew = 15 * time.Minute

// Error is why Verify refused a request. Reason is one of the Reason
// constants and is safe to show to the client; Message says more, for logs.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return "sigv4: " + e.Reason + ": " + e.Message }

func refuse(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Verify checks that r carries a valid SigV4 Authorization header for the
// given region and service, made with a key that secretFor knows, at a time
// within maxSkew of now (DefaultMaxSkew when maxSkew <= 0). A refusal is an
// *Error with a Reason.
//
// The signed headers must include host and every x-amz-* header present, and
// every signed header must be present (an empty value is not an absent header).
// Verify uses the Host the request arrived with, and for other signed headers
// the values in r.Header (content-length falls back to r.ContentLength).
//
// Verify does not read the body. When X-Amz-Content-Sha256 is a hex hash,
// Verify replaces r.Body with a reader that hashes what is read and, at the
// end of the body (at EOF, or once Content-Length bytes were read), returns
// an *Error with ReasonPayloadMismatch instead of the last chunk if the hash
// differs; any read after that, and any byte beyond the declared length,
// fails the same way. A handler that reads the body must therefore treat a
// read error as a refusal, and should not act on the body before it has read
// it to the end. A request with no body whose declared hash is not that of
// an empty body is refused at once. UNSIGNED-PAYLOAD leaves the body as it is.
// Without X-Amz-Content-Sha256, only a request without a body is accepted (it
// is verified with EmptyPayloadHash).
func Verify(r *http.Request, secretFor func(accessKeyID string) (secret string, ok bool),
	region, service string, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	authValues := r.Header.Values(headerAuthorization)
	if len(authValues) == 0 {
		return refuse(ReasonMissingAuthorization, "no Authorization header")
	}
	if len(authValues) > 1 {
		return refuse(ReasonMalformedAuthorization, "%d Authorization headers", len(authValues))
	}
	a, err := parseAuthorization(authValues[0])
	if err != nil {
		return err
	}
	hostSigned := false
	for _, h := range a.headers {
		if h == "host" {
			hostSigned = true
			break
		}
	}
	if !hostSigned {
		return refuse(ReasonUnsignedHost, "host is not among the signed headers %q", a.signedHeaders)
	}

	dates := r.Header.Values(headerDate)
	if len(dates) == 0 {
		return refuse(ReasonMissingDate, "no X-Amz-Date header")
	}
	if len(dates) > 1 {
		return refuse(ReasonMalformedDate, "%d X-Amz-Date headers", len(dates))
	}
	amzDate := dates[0]
	t, ok := parseAmzDate(amzDate)
	if !ok {
		return refuse(ReasonMalformedDate, "X-Amz-Date %q is not YYYYMMDDTHHMMSSZ", amzDate)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return refuse(ReasonExpired, "X-Amz-Date %s is %s away from now (%s), more than %s",
			amzDate, d.Round(time.Second), now.UTC().Format(timeFormat), maxSkew)
	}
	switch {
	case a.date != amzDate[:8]:
		return refuse(ReasonWrongScope, "scope date %s is not the date of X-Amz-Date %s", a.date, amzDate)
	case a.region != region:
		return refuse(ReasonWrongScope, "scope region %q, want %q", a.region, region)
	case a.service != service:
		return refuse(ReasonWrongScope, "scope service %q, want %q", a.service, service)
	case a.terminator != terminator:
		return refuse(ReasonWrongScope, "scope terminator %q, want %q", a.terminator, terminator)
	}
	secret, ok := secretFor(a.accessKey)
	if !ok {
		return refuse(ReasonUnknownKey, "access key id %q is not known", a.accessKey)
	}

	// Every x-amz-* header present must be signed, as S3 demands; otherwise
	// anyone could add one on the way.
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		if !a.signs(strings.ToLower(k)) {
			return refuse(ReasonUnsignedHeader, "header %s is present but not signed", k)
		}
	}

	query, qerr := url.ParseQuery(r.URL.RawQuery)
	if qerr != nil {
		return refuse(ReasonMalformedQuery, "query: %v", qerr)
	}

	payloadHash, perr := declaredPayloadHash(r)
	if perr != nil {
		return perr
	}

	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	headers := make([]header, 0, len(a.headers))
	for _, name := range a.headers {
		if name == "host" {
			continue
		}
		vs := r.Header.Values(name)
		if len(vs) == 0 && name == "content-length" && r.ContentLength > 0 {
			vs = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		if len(vs) == 0 {
			// An absent header would sign like an empty one; it is not
			// the request that was signed.
			return refuse(ReasonSignatureMismatch, "signed header %s is absent", name)
		}
		headers = append(headers, header{name: name, values: vs})
	}
	scope := a.date + "/" + a.region + "/" + a.service + "/" + a.terminator
	want, _ := signature(secret, amzDate, region, service, scope,
		r.Method, r.URL.Path, query, host, headers, payloadHash)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return refuse(ReasonSignatureMismatch, "the signature does not match the request")
	}

	if isHexSHA256(payloadHash) {
		if r.Body == nil || r.Body == http.NoBody {
			if payloadHash != EmptyPayloadHash {
				return refuse(ReasonPayloadMismatch, "the body is empty but X-Amz-Content-Sha256 is %s", payloadHash)
			}
		} else {
			b := &verifiedBody{rc: r.Body, h: sha256.New(), length: r.ContentLength}
			hex.Decode(b.want[:], []byte(payloadHash))
			r.Body = b
		}
	}
	return nil
}

// declaredPayloadHash returns the X-Amz-Content-Sha256 value to verify with.
func declaredPayloadHash(r *http.Request) (string, error) {
	vs := r.Header.Values(headerContentSHA256)
	switch {
	case len(vs) == 0:
		if r.Body == nil || r.Body == http.NoBody {
			return EmptyPayloadHash, nil
		}
		return "", refuse(ReasonMissingContentSHA256, "the request has a body but no X-Amz-Content-Sha256 header")
	case len(vs) > 1:
		return "", refuse(ReasonBadContentSHA256, "%d X-Amz-Content-Sha256 headers", len(vs))
	case vs[0] != UnsignedPayload && !isHexSHA256(vs[0]):
		return "", refuse(ReasonBadContentSHA256, "X-Amz-Content-Sha256 %q is neither a lower-case hex SHA-256 nor %s", vs[0], UnsignedPayload)
	}
	return vs[0], nil
}

// authorization is a parsed Authorization header.
type authorization struct {
	accessKey, date, region, service, terminator string
	signedHeaders                                string
	headers                                      []string // lower case, strictly ascending
	signature                                    string   // 64 lower-case hex digits
}

func (a *authorization) signs(name string) bool {
	for _, h := range a.headers {
		if h == name {
			return true
		}
	}
	return false
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX
//
// strictly: one space after the algorithm; the three parts once each, in any
// order, separated by commas with optional spaces after them; nothing else.
func parseAuthorization(s string) (authorization, error) {
	var a authorization
	bad := func(format string, args ...any) (authorization, error) {
		return authorization{}, refuse(ReasonMalformedAuthorization, format, args...)
	}
	rest, ok := strings.CutPrefix(s, Algorithm+" ")
	if !ok {
		alg, _, _ := strings.Cut(s, " ")
		if len(alg) > 32 {
			alg = alg[:32] + "…"
		}
		return bad("algorithm %q, want %s followed by one space", alg, Algorithm)
	}
	var haveCred, haveSigned, haveSig bool
	for i := 0; ; i++ {
		if i > 2 {
			return bad("more than three parts")
		}
		part, next, more := strings.Cut(rest, ",")
		if i > 0 {
			part = strings.TrimLeft(part, " ")
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return bad("part %d has no '='", i+1)
		}
		switch name {
		case "Credential":
			if haveCred {
				return bad("Credential given twice")
			}
			haveCred = true
			fields := strings.Split(value, "/")
			if len(fields) != 5 {
				return bad("Credential has %d '/'-separated fields, want 5", len(fields))
			}
			for j, f := range fields {
				if f == "" {
					return bad("Credential field %d is empty", j+1)
				}
				if strings.ContainsAny(f, " \t") {
					return bad("Credential field %d contains white space", j+1)
				}
			}
			if !isDate(fields[1]) {
				return bad("Credential date %q is not YYYYMMDD", fields[1])
			}
			a.accessKey, a.date, a.region, a.service, a.terminator = fields[0], fields[1], fields[2], fields[3], fields[4]
		case "SignedHeaders":
			if haveSigned {
				return bad("SignedHeaders given twice")
			}
			haveSigned = true
			if value == "" {
				return bad("SignedHeaders is empty")
			}
			a.signedHeaders = value
			a.headers = strings.Split(value, ";")
			for j, h := range a.headers {
				if !isLowerToken(h) {
					return bad("signed header %q is not a lower-case header name", h)
				}
				if j > 0 && a.headers[j-1] >= h {
					return bad("SignedHeaders are not sorted and unique at %q", h)
				}
			}
		case "Signature":
			if haveSig {
				return bad("Signature given twice")
			}
			haveSig = true
			if !isHexSHA256(value) {
				return bad("Signature is not 64 lower-case hex digits")
			}
			a.signature = value
		default:
			if len(name) > 32 {
				name = name[:32] + "…"
			}
			return bad("unknown part %q", name)
		}
		if !more {
			break
		}
		rest = next
	}
	if !haveCred || !haveSigned || !haveSig {
		return bad("Credential, SignedHeaders and Signature are all required")
	}
	return a, nil
}

func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := time.Parse(dateFormat, s)
	return err == nil
}

// parseAmzDate parses exactly YYYYMMDDTHHMMSSZ.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(timeFormat) || s[8] != 'T' || s[15] != 'Z' || !isDate(s[:8]) {
		return time.Time{}, false
	}
	for i := 9; i < 15; i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// verifiedBody passes a request body through, hashing it, and fails the
// final read if the body does not hash to want.
type verifiedBody struct {
	rc     io.ReadCloser
	h      hash.Hash
	want   [sha256.Size]byte
	length int64 // declared length; <= 0 means unknown
	n      int64
	done   bool // the whole declared body was read and matched
	err    error
}

func (b *verifiedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if b.done {
		if n > 0 {
			b.err = refuse(ReasonPayloadMismatch, "the body is longer than its declared length %d", b.length)
			return 0, b.err
		}
		return n, err
	}
	b.h.Write(p[:n])
	b.n += int64(n)
	if err == io.EOF || (b.length > 0 && b.n >= b.length) {
		var sum [sha256.Size]byte
		if b.h.Sum(sum[:0]); sum != b.want {
			b.err = refuse(ReasonPayloadMismatch, "the body does not hash to X-Amz-Content-Sha256 %x", b.want)
			return 0, b.err
		}
		b.done = true
	}
	return n, err
}

func (b *verifiedBody) Close() error { return b.rc.Close() }
