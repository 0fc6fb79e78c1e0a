// Package viewertls is TLS between viewers and PoPs: CloudFront's security
// policies (minimumProtocolVersion) as crypto/tls settings, and the
// certificates distributions serve (loading, and whether one covers a
// hostname). The listener that uses them is internal/listener; the choice
// per SNI is made from the PoP's configuration snapshot (internal/pop).
package viewertls

import (
	"crypto/tls"
	"slices"
)

// Policy is a security policy: the lowest TLS version a viewer may use and
// the TLS 1.0–1.2 cipher suites it may choose.
type Policy struct {
	Name       string
	MinVersion uint16
	MaxVersion uint16   // 0: the highest crypto/tls supports (TLS 1.3)
	Ciphers    []uint16 // TLS 1.0–1.2 suites; nil for a TLS 1.3-only policy
}

// DefaultPolicy is the policy of a distribution that names none.
const DefaultPolicy = "TLSv1.2_2021"

// Cipher suites, by CloudFront's (OpenSSL) names. Go has no
// ECDHE-*-AES256-SHA384 (CBC) nor RC4-MD5; they are left out.
var (
	ecdheGCM = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, // ECDHE-ECDSA-AES128-GCM-SHA256
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, // ECDHE-ECDSA-AES256-GCM-SHA384
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,   // ECDHE-RSA-AES128-GCM-SHA256
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,   // ECDHE-RSA-AES256-GCM-SHA384
	}
	ecdheChaCha = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, // ECDHE-ECDSA-CHACHA20-POLY1305
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,   // ECDHE-RSA-CHACHA20-POLY1305
	}
	ecdheCBCSHA256 = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, // ECDHE-ECDSA-AES128-SHA256
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,   // ECDHE-RSA-AES128-SHA256
	}
	ecdheCBCSHA = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, // ECDHE-ECDSA-AES128-SHA
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, // ECDHE-ECDSA-AES256-SHA
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,   // ECDHE-RSA-AES128-SHA
		tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,   // ECDHE-RSA-AES256-SHA
	}
	rsaGCMSHA256 = []uint16{
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, // AES128-GCM-SHA256
		tls.TLS_RSA_WITH_AES_256_GCM_SHA384, // AES256-GCM-SHA384
		tls.TLS_RSA_WITH_AES_128_CBC_SHA256, // AES128-SHA256
	}
	rsaCBCSHA = []uint16{
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, // AES128-SHA
		tls.TLS_RSA_WITH_AES_256_CBC_SHA, // AES256-SHA
	}
	rsa3DES = []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA} // DES-CBC3-SHA
)

func suites(groups ...[]uint16) []uint16 { return slices.Concat(groups...) }

// policies follows CloudFront's table "Supported protocols and ciphers
// between viewers and CloudFront" (docs/tls.md lists where crypto/tls
// differs).
var policies = []Policy{
	{Name: "TLSv1", MinVersion: tls.VersionTLS10,
		Ciphers: suites(ecdheGCM, ecdheChaCha, ecdheCBCSHA256, ecdheCBCSHA, rsaGCMSHA256, rsaCBCSHA, rsa3DES)},
	{Name: "TLSv1_2016", MinVersion: tls.VersionTLS10,
		Ciphers: suites(ecdheGCM, ecdheChaCha, ecdheCBCSHA256, ecdheCBCSHA, rsaGCMSHA256, rsaCBCSHA)},
	{Name: "TLSv1.1_2016", MinVersion: tls.VersionTLS11,
		Ciphers: suites(ecdheGCM, ecdheChaCha, ecdheCBCSHA256, ecdheCBCSHA, rsaGCMSHA256, rsaCBCSHA)},
	{Name: "TLSv1.2_2018", MinVersion: tls.VersionTLS12,
		Ciphers: suites(ecdheGCM, ecdheChaCha, ecdheCBCSHA256, rsaGCMSHA256)},
	{Name: "TLSv1.2_2019", MinVersion: tls.VersionTLS12,
		Ciphers: suites(ecdheGCM, ecdheChaCha, ecdheCBCSHA256)},
	{Name: "TLSv1.2_2021", MinVersion: tls.VersionTLS12,
		Ciphers: suites(ecdheGCM, ecdheChaCha)},
	{Name: "TLSv1.2_2025", MinVersion: tls.VersionTLS12,
		Ciphers: suites(ecdheGCM)},
	{Name: "TLSv1.3_2025", MinVersion: tls.VersionTLS13},
}

// PolicyNames lists the security policies, oldest first.
func PolicyNames() []string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = p.Name
	}
	return names
}

// PolicyByName returns the named policy ("" is DefaultPolicy).
func PolicyByName(name string) (Policy, bool) {
	if name == "" {
		name = DefaultPolicy
	}
	for _, p := range policies {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// Apply sets c's versions and cipher suites to the policy's.
func (p Policy) Apply(c *tls.Config) {
	c.MinVersion, c.MaxVersion = p.MinVersion, p.MaxVersion
	c.CipherSuites = slices.Clone(p.Ciphers)
}
