// Package signedurl verifies CloudFront-compatible signed URLs and signed
// cookies, so that applications signing with AWS's SDKs (or with
// pkg/cfsign, or "strata sign-url") work unchanged against Strata.
//
// A request is checked by [Verifier.Check]: the signing parameters of the
// query string (Expires or Policy, Signature, Key-Pair-Id and optionally
// Hash-Algorithm) win; without them the cookies CloudFront-Expires or
// CloudFront-Policy, CloudFront-Signature, CloudFront-Key-Pair-Id (and
// CloudFront-Hash-Algorithm) are used.
//
// The order of the checks: the credentials are present and well formed
// (missing-signature, malformed-policy), the key is trusted (unknown-key),
// the signature verifies (bad-signature), and only then is the policy
// document parsed (malformed-policy) and its conditions checked: expiry
// (expired), start (not-yet-valid), source address (ip-not-allowed) and
// resource (resource-mismatch). A canned policy is rebuilt from the request
// URL, so a canned signature used for another URL is a bad-signature.
//
// Signatures are RSA PKCS#1 v1.5 or ECDSA P-256 (ASN.1 DER) over the SHA-1
// digest of the policy, or over its SHA-256 digest with Hash-Algorithm=SHA256,
// as CloudFront verifies them. For ECDSA keys without Hash-Algorithm, a
// SHA-256 signature is accepted as well as a SHA-1 one.
package signedurl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// Bounds on what is decoded from a request, far above what a real signer
// produces (a custom policy is a few hundred bytes; an RSA-4096 signature is
// 684 characters).
const (
	maxPolicyChars    = 8192 // base64 Policy value
	maxSignatureChars = 1024 // base64 Signature value
	maxKeyIDChars     = 128
	maxParamChars     = 16384 // any signing value before unescaping
)

// Key is a public key that verifies signatures: *rsa.PublicKey or
// *ecdsa.PublicKey (P-256). ID is the Key-Pair-Id that names it.
type Key struct {
	ID     string
	Public crypto.PublicKey
}

// Verifier checks signed URLs and cookies against a set of trusted keys. It
// is safe for concurrent use.
//
// It remembers the signatures that verified (key id, hash,
// policy and signature; at most maxVerified of them), so the many requests
// that carry the same signed cookies or the same signed URL (the segments
// of a video, the assets of a page) cost a hash, not a public-key
// operation. The conditions (time, address, resource) are checked on every
// request.
type Verifier struct {
	keys map[string]crypto.PublicKey

	mu       sync.Mutex
	verified map[string]struct{}
	// accepted maps the raw signing values of a request that passed (and,
	// for a canned policy, its resource URL) to the policy they carry: a
	// repeated URL skips decoding, verification and parsing; its conditions
	// (time, address, resource) are still checked every time.
	accepted map[string]*policy
}

const maxVerified = 8192

// NewVerifier returns a verifier that trusts keys. Keys of another type than
// RSA or ECDSA never verify anything.
func NewVerifier(keys []Key) *Verifier {
	v := &Verifier{keys: make(map[string]crypto.PublicKey, len(keys)), verified: map[string]struct{}{}, accepted: map[string]*policy{}}
	for _, k := range keys {
		v.keys[k.ID] = k.Public
	}
	return v
}

// verifyCached verifies a signature, or finds that it already did.
func (v *Verifier) verifyCached(c *credentials, pub crypto.PublicKey, doc []byte) bool {
	// The memo key is the signed material itself, length-prefixed: a map
	// lookup hashes it far faster than a cryptographic digest would.
	var n [8]byte
	key := make([]byte, 0, 4*8+len(c.keyID)+1+len(doc)+len(c.signature))
	for _, part := range [][]byte{[]byte(c.keyID), {byte(c.hash)}, doc, c.signature} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		key = append(append(key, n[:]...), part...)
	}
	v.mu.Lock()
	_, ok := v.verified[string(key)]
	v.mu.Unlock()
	if ok {
		return true
	}
	if !verifySignature(pub, doc, c.signature, c.hash) {
		return false
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		clear(v.verified)
	}
	v.verified[string(key)] = struct{}{}
	v.mu.Unlock()
	return true
}

// Reason is a short machine-readable refusal reason.
type Reason string

// The reasons a request is refused.
const (
	ReasonMissing          Reason = "missing-signature"
	ReasonMalformed        Reason = "malformed-policy"
	ReasonBadSignature     Reason = "bad-signature"
	ReasonUnknownKey       Reason = "unknown-key"
	ReasonExpired          Reason = "expired"
	ReasonNotYetValid      Reason = "not-yet-valid"
	ReasonIPNotAllowed     Reason = "ip-not-allowed"
	ReasonResourceMismatch Reason = "resource-mismatch"
)

// Error is a refusal.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "signed url: " + string(e.Reason)
	}
	return "signed url: " + string(e.Reason) + ": " + e.Detail
}

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a refusal returned by Check, or "" for nil
// or another error.
func ReasonOf(err error) Reason {
	if e, ok := err.(*Error); ok && e != nil {
		return e.Reason
	}
	return ""
}

// Check verifies a request. The signing parameters of the query string are
// used when any of them is present, else the signed cookies. resourceURL is
// the URL the policy must cover: scheme://host/path?query without the
// signing parameters (see [StripSigningParams] and [ResourceURL]). clientIP
// is the viewer's address. Check returns nil when the request is allowed,
// else an *Error.
func (v *Verifier) Check(r *http.Request, resourceURL string, clientIP netip.Addr, now time.Time) error {
	sv, err := rawValuesOf(r)
	if err != nil {
		return err
	}
	memo := sv.memoKey(resourceURL)
	v.mu.Lock()
	p := v.accepted[memo]
	v.mu.Unlock()
	if p != nil {
		return p.allows(resourceURL, clientIP, now)
	}
	c, err := sv.decode()
	if err != nil {
		return err
	}
	p, err = v.verifyPolicy(c, resourceURL)
	if err != nil {
		return err
	}
	v.mu.Lock()
	if len(v.accepted) >= maxVerified {
		clear(v.accepted)
	}
	v.accepted[memo] = p
	v.mu.Unlock()
	return p.allows(resourceURL, clientIP, now)
}

// verifyPolicy checks the signature and returns the policy it signs.
func (v *Verifier) verifyPolicy(c *credentials, resourceURL string) (*policy, error) {
	pub, ok := v.keys[c.keyID]
	if !ok || pub == nil {
		return nil, refuse(ReasonUnknownKey, "key pair id %q is not trusted", c.keyID)
	}
	var doc []byte
	if c.canned {
		doc = cfsign.CannedPolicy(resourceURL, c.expires)
	} else {
		doc = c.policy
	}
	if !v.verifyCached(c, pub, doc) {
		if c.canned {
			return nil, refuse(ReasonBadSignature, "the signature does not match the canned policy for this URL and expiry")
		}
		return nil, refuse(ReasonBadSignature, "the signature does not match the policy")
	}
	if c.canned {
		return &policy{hasResource: true, resource: resourceURL, exact: true, lessThan: c.expires}, nil
	}
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	return p, nil
}

// allows checks a verified policy's conditions for one request.
func (p *policy) allows(resourceURL string, clientIP netip.Addr, now time.Time) error {
	t := now.Unix()
	if t >= p.lessThan {
		return refuse(ReasonExpired, "expired at %s", time.Unix(p.lessThan, 0).UTC().Format(time.RFC3339))
	}
	if p.hasGreaterThan && t < p.greaterThan {
		return refuse(ReasonNotYetValid, "valid from %s", time.Unix(p.greaterThan, 0).UTC().Format(time.RFC3339))
	}
	if p.hasSourceIP {
		ip := clientIP.Unmap()
		if !ip.IsValid() || !p.sourceIP.Contains(ip) {
			return refuse(ReasonIPNotAllowed, "%s is not in %s", clientIP, p.sourceIP)
		}
	}
	if p.hasResource && !p.exact && !matchResource(p.resource, resourceURL) {
		return refuse(ReasonResourceMismatch, "%s is not covered by %s", resourceURL, p.resource)
	}
	if p.hasResource && p.exact && p.resource != resourceURL {
		return refuse(ReasonBadSignature, "the signature does not match the canned policy for this URL and expiry")
	}
	return nil
}

// verifySignature checks sig over doc with pub. hash is the digest the
// request names (SHA-1 unless Hash-Algorithm=SHA256); for ECDSA keys and no
// explicit algorithm, SHA-256 is also tried.
func verifySignature(pub crypto.PublicKey, doc, sig []byte, hash hashChoice) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch hash {
		case hashDefault, hashSHA1:
			d := sha1.Sum(doc)
			return rsa.VerifyPKCS1v15(k, crypto.SHA1, d[:], sig) == nil
		case hashSHA256:
			d := sha256.Sum256(doc)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		if hash == hashDefault || hash == hashSHA1 {
			d := sha1.Sum(doc)
			if ecdsa.VerifyASN1(k, d[:], sig) {
				return true
			}
		}
		if hash == hashDefault || hash == hashSHA256 {
			d := sha256.Sum256(doc)
			return ecdsa.VerifyASN1(k, d[:], sig)
		}
	}
	return false
}

// policy is a parsed policy statement.
type policy struct {
	hasResource    bool
	resource       string
	exact          bool // canned: the resource is the request URL itself
	lessThan       int64
	hasGreaterThan bool
	greaterThan    int64
	hasSourceIP    bool
	sourceIP       netip.Prefix
}
