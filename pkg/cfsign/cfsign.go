// Package cfsign signs URLs and cookies in Amazon CloudFront's format, so that
// the same signed URLs and signed cookies work with CloudFront and with
// Strata (whose verifier is internal/signedurl).
//
// The formats are CloudFront's:
//
//   - A canned policy is never sent: the signature covers
//     {"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<expires>}}}]}
//     and the URL carries Expires, Signature and Key-Pair-Id.
//   - A custom policy is sent, base64-encoded, as Policy (or the cookie
//     CloudFront-Policy); it may use wildcards in Resource, a start time and a
//     source IP range.
//   - Signatures are RSA PKCS#1 v1.5 or ECDSA (ASN.1 DER) over the SHA-1
//     digest of the policy, or over its SHA-256 digest when the URL carries
//     Hash-Algorithm=SHA256 (the cookie CloudFront-Hash-Algorithm=SHA256).
//   - Policies and signatures use CloudFront's base64 variant: '+' becomes
//     '-', '=' becomes '_' and '/' becomes '~' ([Encoding]).
//
// With the default hash (SHA-1) and an RSA key, the URLs and cookies are byte
// for byte those of the AWS SDKs (aws-sdk-go-v2/feature/cloudfront/sign).
package cfsign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Names of the query parameters of a signed URL.
const (
	ParamExpires       = "Expires"
	ParamPolicy        = "Policy"
	ParamSignature     = "Signature"
	ParamKeyPairID     = "Key-Pair-Id"
	ParamHashAlgorithm = "Hash-Algorithm"
)

// Names of the signed cookies.
const (
	CookieExpires       = "CloudFront-Expires"
	CookiePolicy        = "CloudFront-Policy"
	CookieSignature     = "CloudFront-Signature"
	CookieKeyPairID     = "CloudFront-Key-Pair-Id"
	CookieHashAlgorithm = "CloudFront-Hash-Algorithm"
)

// HashSHA256 is the value of Hash-Algorithm (and CloudFront-Hash-Algorithm)
// that selects SHA-256. Without the parameter, SHA-1 is used.
const HashSHA256 = "SHA256"

// MaxEpoch is the largest expiry CloudFront accepts: Expires is a 32-bit
// epoch (2038-01-19T03:14:07Z).
const MaxEpoch = 2147483647

// Encoding is CloudFront's URL-safe base64: the standard alphabet with '+',
// '/' and '=' replaced by '-', '~' and '_'. It is strict: the unused bits of
// the last character must be zero, so every signature has one spelling.
var Encoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~").WithPadding('_').Strict()

// Policy is what a signature grants.
type Policy struct {
	// Resource is the URL the policy covers, with the query string if any.
	// In a custom policy it may hold wildcards: '*' matches any characters
	// (none included) and '?' exactly one; "\?" is a literal '?'. Empty
	// means every resource (custom policies only).
	Resource string
	// Expires is the end of validity (DateLessThan, exclusive). Required.
	Expires time.Time
	// Start is the start of validity (DateGreaterThan); zero for none.
	Start time.Time
	// SourceIP restricts the viewer's address: a CIDR ("192.0.2.0/24") or a
	// single address. Empty for any address.
	SourceIP string
}

// IsCanned reports whether p can be expressed as a canned policy: a resource
// without wildcards, an expiry, and nothing else.
func (p Policy) IsCanned() bool {
	return p.Resource != "" && !strings.Contains(p.Resource, "*") && p.Start.IsZero() && p.SourceIP == ""
}

// Validate reports what would make p unusable.
func (p Policy) Validate() error {
	if p.Expires.IsZero() {
		return errors.New("cfsign: the policy needs an expiry time")
	}
	exp := p.Expires.Unix()
	if exp <= 0 || exp > MaxEpoch {
		return fmt.Errorf("cfsign: expiry %s is outside 1970-01-01..2038-01-19 (CloudFront's 32-bit epoch)", p.Expires.UTC().Format(time.RFC3339))
	}
	if !p.Start.IsZero() {
		start := p.Start.Unix()
		if start < 0 || start > MaxEpoch {
			return fmt.Errorf("cfsign: start %s is outside CloudFront's 32-bit epoch", p.Start.UTC().Format(time.RFC3339))
		}
		if start >= exp {
			return errors.New("cfsign: the start time is not before the expiry time")
		}
	}
	if p.SourceIP != "" {
		if _, err := ParseSourceIP(p.SourceIP); err != nil {
			return err
		}
	}
	for i := 0; i < len(p.Resource); i++ {
		if c := p.Resource[i]; c < 0x20 || c >= 0x7f {
			return fmt.Errorf("cfsign: the resource %q has a non-ASCII or control character; percent-encode it (and use punycode for host names)", p.Resource)
		}
	}
	return nil
}

// ParseSourceIP parses the value of AWS:SourceIp: an IPv4 or IPv6 prefix, or
// a single address (a /32 or /128).
func ParseSourceIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("cfsign: source IP %q is not a CIDR: %v", s, err)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("cfsign: source IP %q is neither an address nor a CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// JSON returns p as a custom policy document, without whitespace, in the
// shape (and key order) the AWS SDKs produce.
func (p Policy) JSON() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"Statement":[{`)
	if p.Resource != "" {
		b.WriteString(`"Resource":`)
		b.Write(jsonString(p.Resource))
		b.WriteByte(',')
	}
	b.WriteString(`"Condition":{`)
	if p.SourceIP != "" {
		b.WriteString(`"IpAddress":{"AWS:SourceIp":`)
		b.Write(jsonString(p.SourceIP))
		b.WriteString(`},`)
	}
	if !p.Start.IsZero() {
		fmt.Fprintf(&b, `"DateGreaterThan":{"AWS:EpochTime":%d},`, p.Start.Unix())
	}
	fmt.Fprintf(&b, `"DateLessThan":{"AWS:EpochTime":%d}}}]}`, p.Expires.Unix())
	return b.Bytes(), nil
}

// CannedPolicy returns the canned policy document for resource and expires
// (epoch seconds): the bytes a canned signature covers. A verifier rebuilds
// it from the request URL and the Expires parameter.
func CannedPolicy(resource string, expires int64) []byte {
	r := jsonString(resource)
	b := make([]byte, 0, len(r)+90)
	b = append(b, `{"Statement":[{"Resource":`...)
	b = append(b, r...)
	b = append(b, `,"Condition":{"DateLessThan":{"AWS:EpochTime":`...)
	b = strconv.AppendInt(b, expires, 10)
	b = append(b, `}}}]}`...)
	return b
}

// jsonString encodes s as a JSON string the way the AWS SDK for Go does
// (encoding/json without HTML escaping).
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(b.Bytes(), "\n")
}

// Signature is a signed policy: the values a signed URL carries in its query
// string, or signed cookies in their values.
type Signature struct {
	// Expires is the Expires value of a canned policy; 0 for a custom one.
	Expires int64
	// Policy is the custom policy in CloudFront's base64; "" for a canned one.
	Policy string
	// Signature is the signature in CloudFront's base64.
	Signature string
	// KeyPairID is the id of the public key that verifies the signature.
	KeyPairID string
	// HashAlgorithm is "SHA256" when the digest is SHA-256, "" for SHA-1.
	HashAlgorithm string
}

// Canned reports whether s is a canned-policy signature.
func (s *Signature) Canned() bool { return s.Policy == "" }

// Query returns the signing parameters as a query string, in CloudFront's
// order: Expires or Policy, Signature, Key-Pair-Id, then Hash-Algorithm.
// The values need no escaping.
func (s *Signature) Query() string {
	var b strings.Builder
	if s.Canned() {
		b.WriteString(ParamExpires + "=")
		b.WriteString(strconv.FormatInt(s.Expires, 10))
	} else {
		b.WriteString(ParamPolicy + "=")
		b.WriteString(s.Policy)
	}
	b.WriteString("&" + ParamSignature + "=")
	b.WriteString(s.Signature)
	b.WriteString("&" + ParamKeyPairID + "=")
	b.WriteString(s.KeyPairID)
	if s.HashAlgorithm != "" {
		b.WriteString("&" + ParamHashAlgorithm + "=")
		b.WriteString(s.HashAlgorithm)
	}
	return b.String()
}

// AppendToURL adds the signing parameters to rawURL, after its own query
// parameters and before any fragment.
func (s *Signature) AppendToURL(rawURL string) string {
	frag := ""
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL, frag = rawURL[:i], rawURL[i:]
	}
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + s.Query() + frag
}

// CookieOptions are the attributes of signed cookies.
type CookieOptions struct {
	Domain string // the Domain attribute; "" for a host-only cookie
	Path   string // the Path attribute; "" for the default path
	// Insecure leaves out the Secure attribute (for plain-HTTP testing).
	Insecure bool
	// Expires makes persistent cookies; CloudFront recommends session
	// cookies (the zero value) since the policy carries the expiry.
	Expires  time.Time
	SameSite http.SameSite
}

// Cookies returns the signed cookies: CloudFront-Expires (canned) or
// CloudFront-Policy (custom), CloudFront-Signature, CloudFront-Key-Pair-Id,
// and CloudFront-Hash-Algorithm for SHA-256. They are HttpOnly and, unless
// opts.Insecure, Secure.
func (s *Signature) Cookies(opts CookieOptions) []*http.Cookie {
	var cs []*http.Cookie
	if s.Canned() {
		cs = append(cs, &http.Cookie{Name: CookieExpires, Value: strconv.FormatInt(s.Expires, 10)})
	} else {
		cs = append(cs, &http.Cookie{Name: CookiePolicy, Value: s.Policy})
	}
	cs = append(cs,
		&http.Cookie{Name: CookieSignature, Value: s.Signature},
		&http.Cookie{Name: CookieKeyPairID, Value: s.KeyPairID})
	if s.HashAlgorithm != "" {
		cs = append(cs, &http.Cookie{Name: CookieHashAlgorithm, Value: s.HashAlgorithm})
	}
	for _, c := range cs {
		c.Domain = opts.Domain
		c.Path = opts.Path
		c.Secure = !opts.Insecure
		c.HttpOnly = true
		c.Expires = opts.Expires
		c.SameSite = opts.SameSite
	}
	return cs
}

// Signer signs policies with one private key.
type Signer struct {
	keyID string
	key   crypto.Signer
	hash  crypto.Hash
}

// Option configures a Signer.
type Option func(*Signer) error

// WithHash selects the digest: crypto.SHA1 (the default, understood by every
// CloudFront client and verifier) or crypto.SHA256 (adds Hash-Algorithm=SHA256).
func WithHash(h crypto.Hash) Option {
	return func(s *Signer) error {
		if h != crypto.SHA1 && h != crypto.SHA256 {
			return fmt.Errorf("cfsign: hash %v is not supported (SHA-1 or SHA-256)", h)
		}
		s.hash = h
		return nil
	}
}

// NewSigner returns a signer for the key pair keyID. key is an RSA private
// key (2048 bits or more) or an ECDSA P-256 one.
func NewSigner(keyID string, key crypto.Signer, opts ...Option) (*Signer, error) {
	if keyID == "" {
		return nil, errors.New("cfsign: the key id is empty")
	}
	if strings.ContainsAny(keyID, "&=;, \t\r\n\"%#?") {
		return nil, fmt.Errorf("cfsign: key id %q has characters that would need escaping", keyID)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s := &Signer{keyID: keyID, key: key, hash: crypto.SHA1}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func checkKey(key crypto.Signer) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < 2048 {
			return fmt.Errorf("cfsign: RSA key has %d bits, expected 2048 or more", n)
		}
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("cfsign: ECDSA key is on %s, expected P-256", k.Curve.Params().Name)
		}
	case nil:
		return errors.New("cfsign: no key")
	default:
		pub := key.Public()
		switch p := pub.(type) {
		case *rsa.PublicKey:
			if p.N.BitLen() < 2048 {
				return fmt.Errorf("cfsign: RSA key has %d bits, expected 2048 or more", p.N.BitLen())
			}
		case *ecdsa.PublicKey:
			if p.Curve != elliptic.P256() {
				return fmt.Errorf("cfsign: ECDSA key is on %s, expected P-256", p.Curve.Params().Name)
			}
		default:
			return fmt.Errorf("cfsign: %T keys are not supported (RSA or ECDSA P-256)", pub)
		}
	}
	return nil
}

// KeyID returns the key pair id the signer puts in Key-Pair-Id.
func (s *Signer) KeyID() string { return s.keyID }

// Sign signs p with a canned policy when p allows it ([Policy.IsCanned]),
// else with a custom policy.
func (s *Signer) Sign(p Policy) (*Signature, error) {
	if p.IsCanned() {
		return s.SignCanned(p.Resource, p.Expires)
	}
	return s.SignCustom(p)
}

// SignCanned signs a canned policy: resource (an exact URL, with its query
// string but without signing parameters) until expires.
func (s *Signer) SignCanned(resource string, expires time.Time) (*Signature, error) {
	p := Policy{Resource: resource, Expires: expires}
	if resource == "" {
		return nil, errors.New("cfsign: a canned policy needs a resource")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	sig, err := s.signBytes(CannedPolicy(resource, expires.Unix()))
	if err != nil {
		return nil, err
	}
	return &Signature{Expires: expires.Unix(), Signature: sig, KeyPairID: s.keyID, HashAlgorithm: s.hashParam()}, nil
}

// SignCustom signs p as a custom policy.
func (s *Signer) SignCustom(p Policy) (*Signature, error) {
	doc, err := p.JSON()
	if err != nil {
		return nil, err
	}
	return s.SignPolicyJSON(doc)
}

// SignPolicyJSON signs a custom policy document given as JSON, as is
// (CloudFront expects it without whitespace). It is not checked.
func (s *Signer) SignPolicyJSON(doc []byte) (*Signature, error) {
	sig, err := s.signBytes(doc)
	if err != nil {
		return nil, err
	}
	return &Signature{Policy: Encoding.EncodeToString(doc), Signature: sig, KeyPairID: s.keyID, HashAlgorithm: s.hashParam()}, nil
}

// SignURL returns rawURL signed with a canned policy until expires, as the
// AWS SDK's URLSigner.Sign does.
func (s *Signer) SignURL(rawURL string, expires time.Time) (string, error) {
	if err := checkURL(rawURL); err != nil {
		return "", err
	}
	sig, err := s.SignCanned(rawURL, expires)
	if err != nil {
		return "", err
	}
	return sig.AppendToURL(rawURL), nil
}

// SignURLWithPolicy returns rawURL signed with p as a custom policy, as the
// AWS SDK's URLSigner.SignWithPolicy does. An empty p.Resource means rawURL.
func (s *Signer) SignURLWithPolicy(rawURL string, p Policy) (string, error) {
	if err := checkURL(rawURL); err != nil {
		return "", err
	}
	if p.Resource == "" {
		p.Resource = rawURL
	}
	sig, err := s.SignCustom(p)
	if err != nil {
		return "", err
	}
	return sig.AppendToURL(rawURL), nil
}

// checkURL refuses URLs that already carry a signing parameter: a verifier
// would read it as one.
func checkURL(rawURL string) error {
	if !strings.Contains(rawURL, "://") {
		return fmt.Errorf("cfsign: %q is not an absolute URL (scheme://host/path)", rawURL)
	}
	q := rawURL
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	i := strings.IndexByte(q, '?')
	if i < 0 {
		return nil
	}
	for _, seg := range strings.Split(q[i+1:], "&") {
		name, _, _ := strings.Cut(seg, "=")
		if IsSigningParam(name) {
			return fmt.Errorf("cfsign: the URL already has a %s parameter, which CloudFront reserves", name)
		}
	}
	return nil
}

// IsSigningParam reports whether name (as it appears in the raw query) is one
// of the parameters CloudFront reserves for signed URLs.
func IsSigningParam(name string) bool {
	switch name {
	case ParamExpires, ParamPolicy, ParamSignature, ParamKeyPairID, ParamHashAlgorithm:
		return true
	}
	return false
}

func (s *Signer) hashParam() string {
	if s.hash == crypto.SHA256 {
		return HashSHA256
	}
	return ""
}

func (s *Signer) signBytes(doc []byte) (string, error) {
	var digest []byte
	if s.hash == crypto.SHA256 {
		d := sha256.Sum256(doc)
		digest = d[:]
	} else {
		d := sha1.Sum(doc)
		digest = d[:]
	}
	// RSA PKCS#1 v1.5 signs the DigestInfo; ECDSA signs the digest and
	// returns an ASN.1 DER signature, which is what CloudFront expects.
	sig, err := s.key.Sign(rand.Reader, digest, s.hash)
	if err != nil {
		return "", fmt.Errorf("cfsign: signing: %w", err)
	}
	return Encoding.EncodeToString(sig), nil
}
