package config

import "strings"

// ManagedPrefix starts the id of every managed policy. User-defined policies
// may not use it.
const ManagedPrefix = "Managed-"

// Ids of the managed policies, which exist without being declared.
const (
	ManagedCachingOptimized                          = "Managed-CachingOptimized"
	ManagedCachingDisabled                           = "Managed-CachingDisabled"
	ManagedCachingOptimizedForUncompressedObjects    = "Managed-CachingOptimizedForUncompressedObjects"
	ManagedUseOriginCacheControlHeaders              = "Managed-UseOriginCacheControlHeaders"
	ManagedUseOriginCacheControlHeadersQueryStrings  = "Managed-UseOriginCacheControlHeaders-QueryStrings"
	ManagedAllViewer                                 = "Managed-AllViewer"
	ManagedAllViewerExceptHostHeader                 = "Managed-AllViewerExceptHostHeader"
	ManagedCORSS3Origin                              = "Managed-CORS-S3Origin"
	ManagedCORSCustomOrigin                          = "Managed-CORS-CustomOrigin"
	ManagedUserAgentRefererHeaders                   = "Managed-UserAgentRefererHeaders"
	ManagedSimpleCORS                                = "Managed-SimpleCORS"
	ManagedCORSWithPreflight                         = "Managed-CORS-With-Preflight"
	ManagedSecurityHeadersPolicy                     = "Managed-SecurityHeadersPolicy"
	ManagedCORSAndSecurityHeadersPolicy              = "Managed-CORS-and-SecurityHeadersPolicy"
	ManagedCORSWithPreflightAndSecurityHeadersPolicy = "Managed-CORS-with-preflight-and-SecurityHeadersPolicy"
)

// The managed policies, in the order error messages list them.
var (
	managedCachePolicyIDs = []string{ManagedCachingOptimized, ManagedCachingDisabled, ManagedCachingOptimizedForUncompressedObjects,
		ManagedUseOriginCacheControlHeaders, ManagedUseOriginCacheControlHeadersQueryStrings}
	managedOriginRequestPolicyIDs = []string{ManagedAllViewer, ManagedAllViewerExceptHostHeader, ManagedCORSS3Origin,
		ManagedCORSCustomOrigin, ManagedUserAgentRefererHeaders}
	managedResponseHeadersPolicyIDs = []string{ManagedSimpleCORS, ManagedCORSWithPreflight, ManagedSecurityHeadersPolicy,
		ManagedCORSAndSecurityHeadersPolicy, ManagedCORSWithPreflightAndSecurityHeadersPolicy}
)

// CachePolicy returns the cache policy with the given id, user-defined or
// managed, or nil. Managed policies are returned as fresh copies: resolve
// them once per snapshot, not per request.
func (c *Config) CachePolicy(id string) *CachePolicy {
	for i := range c.CachePolicies {
		if c.CachePolicies[i].ID == id {
			return &c.CachePolicies[i]
		}
	}
	return managedCachePolicy(id)
}

// OriginRequestPolicy returns the origin request policy with the given id,
// user-defined or managed, or nil.
func (c *Config) OriginRequestPolicy(id string) *OriginRequestPolicy {
	for i := range c.OriginRequestPolicies {
		if c.OriginRequestPolicies[i].ID == id {
			return &c.OriginRequestPolicies[i]
		}
	}
	return managedOriginRequestPolicy(id)
}

// ResponseHeadersPolicy returns the response headers policy with the given
// id, user-defined or managed, or nil.
func (c *Config) ResponseHeadersPolicy(id string) *ResponseHeadersPolicy {
	for i := range c.ResponseHeadersPolicies {
		if c.ResponseHeadersPolicies[i].ID == id {
			return &c.ResponseHeadersPolicies[i]
		}
	}
	return managedResponseHeadersPolicy(id)
}

func keyList(behavior string, items ...string) KeyList {
	return KeyList{Behavior: behavior, Items: items}
}

// managedCachePolicy builds a managed cache policy (settings as CloudFront's).
func managedCachePolicy(id string) *CachePolicy {
	none := keyList(KeyNone)
	switch id {
	case ManagedCachingOptimized:
		return &CachePolicy{ID: id, Comment: "Default policy: long TTLs, minimal cache key, gzip and brotli", MinTTL: 1, DefaultTTL: ptr(DefaultCachePolicyTTL), MaxTTL: ptr(DefaultCachePolicyMaxTTL),
			CacheKey: CacheKeyConfig{Headers: none, Cookies: none, QueryStrings: none, EnableAcceptEncodingGzip: true, EnableAcceptEncodingBrotli: true}}
	case ManagedCachingDisabled:
		return &CachePolicy{ID: id, Comment: "Caching disabled", MinTTL: 0, DefaultTTL: ptr[int64](0), MaxTTL: ptr[int64](0),
			CacheKey: CacheKeyConfig{Headers: none, Cookies: none, QueryStrings: none}}
	case ManagedCachingOptimizedForUncompressedObjects:
		return &CachePolicy{ID: id, Comment: "As CachingOptimized, without compressed variants", MinTTL: 1, DefaultTTL: ptr(DefaultCachePolicyTTL), MaxTTL: ptr(DefaultCachePolicyMaxTTL),
			CacheKey: CacheKeyConfig{Headers: none, Cookies: none, QueryStrings: none}}
	case ManagedUseOriginCacheControlHeaders, ManagedUseOriginCacheControlHeadersQueryStrings:
		qs := none
		if id == ManagedUseOriginCacheControlHeadersQueryStrings {
			qs = keyList(KeyAll)
		}
		return &CachePolicy{ID: id, Comment: "Honours the origin's Cache-Control; no TTL of its own", MinTTL: 0, DefaultTTL: ptr[int64](0), MaxTTL: ptr(DefaultCachePolicyMaxTTL),
			CacheKey: CacheKeyConfig{
				Headers:                    keyList(KeyWhitelist, "Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"),
				Cookies:                    keyList(KeyAll),
				QueryStrings:               qs,
				EnableAcceptEncodingGzip:   true,
				EnableAcceptEncodingBrotli: true,
			}}
	}
	return nil
}

// managedOriginRequestPolicy builds a managed origin request policy.
func managedOriginRequestPolicy(id string) *OriginRequestPolicy {
	none := keyList(KeyNone)
	switch id {
	case ManagedAllViewer:
		return &OriginRequestPolicy{ID: id, Comment: "All viewer headers, cookies and query strings",
			Headers: keyList(KeyAllViewer), Cookies: keyList(KeyAll), QueryStrings: keyList(KeyAll)}
	case ManagedAllViewerExceptHostHeader:
		return &OriginRequestPolicy{ID: id, Comment: "All viewer headers except Host, all cookies and query strings",
			Headers: keyList(KeyAllExcept, "Host"), Cookies: keyList(KeyAll), QueryStrings: keyList(KeyAll)}
	case ManagedCORSS3Origin:
		return &OriginRequestPolicy{ID: id, Comment: "CORS request headers, for S3 origins",
			Headers: keyList(KeyWhitelist, "Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method"), Cookies: none, QueryStrings: none}
	case ManagedCORSCustomOrigin:
		return &OriginRequestPolicy{ID: id, Comment: "The Origin header, for custom origins",
			Headers: keyList(KeyWhitelist, "Origin"), Cookies: none, QueryStrings: none}
	case ManagedUserAgentRefererHeaders:
		return &OriginRequestPolicy{ID: id, Comment: "User-Agent and Referer",
			Headers: keyList(KeyWhitelist, "User-Agent", "Referer"), Cookies: none, QueryStrings: none}
	}
	return nil
}

// managedResponseHeadersPolicy builds a managed response headers policy,
// with the settings CloudFront documents for it (none overriding the origin,
// except X-Content-Type-Options). SimpleCORS has no allowed methods: it
// answers simple requests and leaves preflights to the origin.
func managedResponseHeadersPolicy(id string) *ResponseHeadersPolicy {
	simpleCORS := func() *CORSConfig {
		return &CORSConfig{AccessControlAllowOrigins: []string{"*"}}
	}
	preflightCORS := func() *CORSConfig {
		return &CORSConfig{AccessControlAllowOrigins: []string{"*"},
			AccessControlAllowMethods:  []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"},
			AccessControlExposeHeaders: []string{"*"}}
	}
	security := func() *SecurityHeadersConfig {
		return &SecurityHeadersConfig{
			StrictTransportSecurity: &StrictTransportSecurity{AccessControlMaxAgeSec: 31536000},
			ContentTypeOptions:      &ContentTypeOptions{Override: true},
			FrameOptions:            &FrameOptions{FrameOption: "SAMEORIGIN"},
			ReferrerPolicy:          &ReferrerPolicyHeader{ReferrerPolicy: "strict-origin-when-cross-origin"},
			XSSProtection:           &XSSProtection{Protection: true, ModeBlock: true},
		}
	}
	switch id {
	case ManagedSimpleCORS:
		return &ResponseHeadersPolicy{ID: id, Comment: "Access-Control-Allow-Origin: * on simple CORS requests", CORS: simpleCORS()}
	case ManagedCORSWithPreflight:
		return &ResponseHeadersPolicy{ID: id, Comment: "CORS for any origin, preflights answered", CORS: preflightCORS()}
	case ManagedSecurityHeadersPolicy:
		return &ResponseHeadersPolicy{ID: id, Comment: "Common security headers", SecurityHeaders: security()}
	case ManagedCORSAndSecurityHeadersPolicy:
		return &ResponseHeadersPolicy{ID: id, Comment: "SimpleCORS and SecurityHeadersPolicy", CORS: simpleCORS(), SecurityHeaders: security()}
	case ManagedCORSWithPreflightAndSecurityHeadersPolicy:
		return &ResponseHeadersPolicy{ID: id, Comment: "CORS-With-Preflight and SecurityHeadersPolicy", CORS: preflightCORS(), SecurityHeaders: security()}
	}
	return nil
}

func isManaged(id string) bool { return strings.HasPrefix(id, ManagedPrefix) }
