package cli

// The kinds of resource beside distributions: cache policies, origin
// request policies, response headers policies, public keys and key groups
// ("strata cache-policy list", ...). Each says only how a resource looks in
// a table; resource.go has the commands.

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

var cachePolicyKind = kindOf(resourceKind{
	cmd: "cache-policy", aliases: []string{"cache-policies"}, what: "cache policy", path: "/cache-policies",
	section: "cachePolicies",
	columns: []string{"MIN TTL", "DEFAULT TTL", "MAX TTL", "HEADERS", "COOKIES", "QUERY STRINGS", "ACCEPT-ENCODING"},
}, func(c *config.Config) []config.CachePolicy { return c.CachePolicies },
	func(p *config.CachePolicy) string { return p.ID },
	func(p *config.CachePolicy) ([]string, string) {
		var enc []string
		if p.CacheKey.EnableAcceptEncodingGzip {
			enc = append(enc, "gzip")
		}
		if p.CacheKey.EnableAcceptEncodingBrotli {
			enc = append(enc, "br")
		}
		return []string{seconds(&p.MinTTL), seconds(p.DefaultTTL), seconds(p.MaxTTL),
			keyList(p.CacheKey.Headers), keyList(p.CacheKey.Cookies), keyList(p.CacheKey.QueryStrings), strings.Join(enc, ",")}, p.Comment
	})

var originRequestPolicyKind = kindOf(resourceKind{
	cmd: "origin-request-policy", aliases: []string{"origin-request-policies"}, what: "origin request policy", path: "/origin-request-policies",
	section: "originRequestPolicies",
	columns: []string{"HEADERS", "COOKIES", "QUERY STRINGS"},
}, func(c *config.Config) []config.OriginRequestPolicy { return c.OriginRequestPolicies },
	func(p *config.OriginRequestPolicy) string { return p.ID },
	func(p *config.OriginRequestPolicy) ([]string, string) {
		return []string{keyList(p.Headers), keyList(p.Cookies), keyList(p.QueryStrings)}, p.Comment
	})

var responseHeadersPolicyKind = kindOf(resourceKind{
	cmd: "response-headers-policy", aliases: []string{"response-headers-policies"}, what: "response headers policy", path: "/response-headers-policies",
	section: "responseHeadersPolicies",
	columns: []string{"CORS ORIGINS", "SECURITY HEADERS", "CUSTOM HEADERS", "REMOVED HEADERS", "SERVER TIMING"},
}, func(c *config.Config) []config.ResponseHeadersPolicy { return c.ResponseHeadersPolicies },
	func(p *config.ResponseHeadersPolicy) string { return p.ID },
	func(p *config.ResponseHeadersPolicy) ([]string, string) {
		var cors string
		if p.CORS != nil {
			cors = strings.Join(p.CORS.AccessControlAllowOrigins, ",")
		}
		var sec []string
		if s := p.SecurityHeaders; s != nil {
			for _, h := range []struct {
				set  bool
				name string
			}{
				{s.StrictTransportSecurity != nil, "Strict-Transport-Security"},
				{s.ContentTypeOptions != nil, "X-Content-Type-Options"},
				{s.FrameOptions != nil, "X-Frame-Options"},
				{s.ReferrerPolicy != nil, "Referrer-Policy"},
				{s.ContentSecurityPolicy != nil, "Content-Security-Policy"},
				{s.XSSProtection != nil, "X-XSS-Protection"},
			} {
				if h.set {
					sec = append(sec, h.name)
				}
			}
		}
		var custom []string
		for _, h := range p.CustomHeaders {
			custom = append(custom, h.Header)
		}
		var timing string
		if p.ServerTiming != nil && p.ServerTiming.Enabled {
			timing = strconv.FormatFloat(p.ServerTiming.SamplingRate, 'f', -1, 64) + "%"
		}
		return []string{cors, strings.Join(sec, ","), strings.Join(custom, ","), strings.Join(p.RemoveHeaders, ","), timing}, p.Comment
	})

var publicKeyKind = kindOf(resourceKind{
	cmd: "public-key", aliases: []string{"public-keys"}, what: "public key", path: "/public-keys",
	section: "publicKeys",
	columns: []string{"NAME", "KEY"},
}, func(c *config.Config) []config.PublicKey { return c.PublicKeys },
	func(k *config.PublicKey) string { return k.ID },
	func(k *config.PublicKey) ([]string, string) { return []string{k.Name, keyType(k)}, k.Comment })

var keyGroupKind = kindOf(resourceKind{
	cmd: "key-group", aliases: []string{"key-groups"}, what: "key group", path: "/key-groups",
	section: "keyGroups", refs: []string{"publicKeys"},
	columns: []string{"NAME", "PUBLIC KEYS"},
}, func(c *config.Config) []config.KeyGroup { return c.KeyGroups },
	func(g *config.KeyGroup) string { return g.ID },
	func(g *config.KeyGroup) ([]string, string) {
		return []string{g.Name, strings.Join(g.Items, ",")}, g.Comment
	})

// seconds renders a TTL: "86400s", or "" when unset.
func seconds(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10) + "s"
}

// keyList renders a KeyList in a few characters: "none", "all",
// "whitelist(a,b)", "allExcept(x)".
func keyList(l config.KeyList) string {
	b := orDefault(l.Behavior, config.KeyNone)
	if len(l.Items) == 0 {
		return b
	}
	return b + "(" + strings.Join(l.Items, ",") + ")"
}

// keyType describes a public key: "RSA-2048", "ECDSA-P256".
func keyType(k *config.PublicKey) string {
	pub, err := k.ParseKey()
	if err != nil {
		return "invalid: " + err.Error()
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", p.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(p.Curve.Params().Name, "-", "")
	}
	return fmt.Sprintf("%T", pub)
}
