package config

// Config is a whole configuration: the settings of this PoP process, the
// distributions it serves and the policies, public keys and key groups the
// distributions refer to. The zero Config is valid (it serves nothing).
type Config struct {
	PoP                     PoP                     `json:"pop"`
	Distributions           []Distribution          `json:"distributions"`
	CachePolicies           []CachePolicy           `json:"cachePolicies"`
	OriginRequestPolicies   []OriginRequestPolicy   `json:"originRequestPolicies"`
	ResponseHeadersPolicies []ResponseHeadersPolicy `json:"responseHeadersPolicies"`
	PublicKeys              []PublicKey             `json:"publicKeys"`
	KeyGroups               []KeyGroup              `json:"keyGroups"`
	IPSets                  []IPSet                 `json:"ipSets"`
	RegexPatternSets        []RegexPatternSet       `json:"regexPatternSets"`
	WebACLs                 []WebACL                `json:"webACLs"`
	Topology                Topology                `json:"topology"`
	DNS                     DNS                     `json:"dns"`
}

// DNS configures the DNS router (internal/dns): an authoritative server
// for the CDN's zone that answers each distribution's domain name in it
// with the nearest healthy PoP inside the distribution's price class. With
// no zone there is no router.
type DNS struct {
	Zone          string   `json:"zone"`          // e.g. cdn.example.net; "" = no DNS router
	Listen        string   `json:"listen"`        // host:port, UDP and TCP; default 127.0.0.1:5353
	TTL           Duration `json:"ttl"`           // of the answers; default 60s
	DefaultRegion string   `json:"defaultRegion"` // pricing region of viewers the geo database cannot place; default na
	GeoDatabase   string   `json:"geoDatabase"`   // default pop.geoDatabase (or <data dir>/country.mmdb)
}

// Topology is the network of PoPs: which catalog locations run a PoP, in
// which tier, and where each one listens. With no PoPs, a process runs the
// single PoP of the pop section.
type Topology struct {
	Secret   string        `json:"secret"`   // shared by the PoPs: marks requests between tiers
	CABundle string        `json:"caBundle"` // PEM file of the CAs that sign the PoPs' certificates, for https:// PoP URLs
	PoPs     []TopologyPoP `json:"pops"`
}

// TopologyPoP is one PoP of the network.
type TopologyPoP struct {
	ID          string `json:"id"`          // instance id, e.g. FRA1 or FRA-R1
	Location    string `json:"location"`    // catalog id (FRA) or regional cache id (FRA-R); default: the id without its trailing digits
	Tier        string `json:"tier"`        // edge (default) | regional
	Listen      string `json:"listen"`      // host:port
	HTTPSListen string `json:"httpsListen"` // host:port of its HTTPS listener; "" = none
	Egress      string `json:"egress"`      // source IP of its upstream connections
	URL         string `json:"url"`         // how other PoPs reach it; default http://<listen>
	Parent      string `json:"parent"`      // an edge's regional PoP id; default: a regional PoP of the location's regional cache
	// AcceptViewers lets a regional PoP serve viewers; by default it serves
	// only its child PoPs (requests with the topology secret).
	AcceptViewers bool `json:"acceptViewers"`
	// Addresses are the IP addresses viewers reach it at: the DNS router's
	// A and AAAA answers. Default: the IP of listen, else of url.
	Addresses []string `json:"addresses"`
}

// PoPByID returns the topology PoP with the given id.
func (t *Topology) PoPByID(id string) *TopologyPoP {
	for i := range t.PoPs {
		if t.PoPs[i].ID == id {
			return &t.PoPs[i]
		}
	}
	return nil
}

// PoP holds the server settings of this process. A zero field means its
// default.
type PoP struct {
	ID                 string   `json:"id"`                 // default "LOCAL1"
	Listen             string   `json:"listen"`             // host:port, default "127.0.0.1:8080"
	HTTPSListen        string   `json:"httpsListen"`        // host:port of the HTTPS listener; "" = none
	TLSCertificateFile string   `json:"tlsCertificateFile"` // the default certificate (PEM chain); unset: the development CA issues one
	TLSKeyFile         string   `json:"tlsKeyFile"`         // its PEM private key
	MemoryCacheSize    ByteSize `json:"memoryCacheSize"`    // default 256MiB
	MaxObjectSize      ByteSize `json:"maxObjectSize"`      // largest object kept in memory; default 64MiB
	MaxHeaderBytes     ByteSize `json:"maxHeaderBytes"`     // request line and headers; default 32KiB
	ReadHeaderTimeout  Duration `json:"readHeaderTimeout"`  // default 10s
	IdleTimeout        Duration `json:"idleTimeout"`        // default 60s
	DiskCacheSize      ByteSize `json:"diskCacheSize"`      // disk tier under the data directory; default 1GiB
	GeoDatabase        string   `json:"geoDatabase"`        // MaxMind-format .mmdb for geo restriction and viewer-location headers

	// WebSocketIdleTimeout closes a WebSocket on which nothing moved either
	// way; default 10m (CloudFront's).
	WebSocketIdleTimeout Duration `json:"webSocketIdleTimeout"`

	// RequestBodyTimeout is how long a read of a request body may wait for
	// the viewer's next bytes (nginx's client_body_timeout): a stalled
	// upload gets 408, a steady one may last any time. Default 60s.
	RequestBodyTimeout Duration `json:"requestBodyTimeout"`

	// DDoS defence at the connection level (internal/listener).
	// ViewerWriteTimeout is the progress deadline of a response write: each
	// step of 16 KiB must be taken by the viewer's connection within it, else
	// the connection is closed (a client that reads too slowly). Default 20s.
	ViewerWriteTimeout Duration `json:"viewerWriteTimeout"`
	// MaxConnectionsPerAddress bounds the open connections from one viewer
	// address (the PoPs of the topology are exempt); default 256.
	MaxConnectionsPerAddress int `json:"maxConnectionsPerAddress"`
	// MaxConnections bounds the open viewer connections of the PoP; default
	// 50000.
	MaxConnections int `json:"maxConnections"`
	// NewConnectionsPerAddress is the rate of new connections one viewer
	// address may open, per second (bursts of twice as many); default 200.
	NewConnectionsPerAddress int `json:"newConnectionsPerAddress"`
	// MaxRequestsPerConnection is the request budget of an HTTP/2
	// connection, after which it is closed gracefully; default 10000.
	MaxRequestsPerConnection int `json:"maxRequestsPerConnection"`

	// Origin protection (internal/origin/limit.go). MaxOriginFetches bounds
	// the requests the PoP has in flight to origins at once (default 1024),
	// MaxOriginFetchesPerOrigin those to one origin host (default 256); a
	// fetch over either waits at most OriginQueueTimeout (default 2s) for a
	// slot, then its viewer gets 503 with Retry-After.
	MaxOriginFetches          int      `json:"maxOriginFetches"`
	MaxOriginFetchesPerOrigin int      `json:"maxOriginFetchesPerOrigin"`
	OriginQueueTimeout        Duration `json:"originQueueTimeout"`

	// Slow request bodies (internal/pop, shield.go). MinRequestBodyRate is
	// the rate, per second, below which a request body is cut with 408 once
	// its first 5 s have passed (default 500B); BufferedBodySize is the
	// largest request body read whole before the origin request starts, so
	// that a slow viewer holds no origin connection (default 64KiB).
	MinRequestBodyRate ByteSize `json:"minRequestBodyRate"`
	BufferedBodySize   ByteSize `json:"bufferedBodySize"`
}

// Distribution is one CloudFront-style distribution: the hostnames it answers
// for, where its content comes from and how it is cached.
type Distribution struct {
	ID                   string                `json:"id"`         // required, [A-Za-z0-9][A-Za-z0-9_-]*, unique
	DomainName           string                `json:"domainName"` // default "<lower-cased id>.strata.localhost"
	Aliases              []string              `json:"aliases"`    // alternate hostnames (CNAMEs), lower-cased; "*.example.com" allowed
	Enabled              *bool                 `json:"enabled"`    // default true; see IsEnabled
	Comment              string                `json:"comment"`
	Origins              []Origin              `json:"origins"` // at least one
	OriginGroups         []OriginGroup         `json:"originGroups"`
	DefaultCacheBehavior CacheBehavior         `json:"defaultCacheBehavior"` // required; no pathPattern
	CacheBehaviors       []CacheBehavior       `json:"cacheBehaviors"`       // ordered; the first match wins
	CustomErrorResponses []CustomErrorResponse `json:"customErrorResponses"`
	Restrictions         Restrictions          `json:"restrictions"`
	PriceClass           string                `json:"priceClass"` // PriceClass_All (default) | PriceClass_200 | PriceClass_100
	ViewerCertificate    ViewerCertificate     `json:"viewerCertificate"`
	WebACLID             string                `json:"webACLId"`          // web ACL id or ARN (webACLs); evaluated at the edge (stage 5)
	DefaultRootObject    string                `json:"defaultRootObject"` // e.g. "index.html", no leading "/"
	Logging              Logging               `json:"logging"`
	HTTPVersion          string                `json:"httpVersion"`   // http1.1 | http2 (default) | http2and3 | http3
	IsIPv6Enabled        *bool                 `json:"isIPv6Enabled"` // default true; see IPv6Enabled
	// UnderscoresInHeaders keeps request header names that contain "_"
	// (nginx's underscores_in_headers). Default false: they are dropped
	// before any stage sees them, because CGI, WSGI, PHP and Rack origins
	// read X_Forwarded_Host as X-Forwarded-Host.
	UnderscoresInHeaders bool `json:"underscoresInHeaders"`
}

// Price classes.
const (
	PriceClassAll = "PriceClass_All"
	PriceClass200 = "PriceClass_200"
	PriceClass100 = "PriceClass_100"
)

// HTTP versions a distribution offers to viewers.
const (
	HTTPVersion11    = "http1.1"
	HTTPVersion2     = "http2"
	HTTPVersion2And3 = "http2and3"
	HTTPVersion3     = "http3"
)

// DefaultDomainSuffix follows the lower-cased id in a distribution's default
// domain name.
const DefaultDomainSuffix = ".strata.localhost"

// IsEnabled reports whether the distribution serves requests (Enabled unset
// means true).
func (d *Distribution) IsEnabled() bool { return d.Enabled == nil || *d.Enabled }

// IPv6Enabled reports whether the distribution is reachable over IPv6
// (IsIPv6Enabled unset means true).
func (d *Distribution) IPv6Enabled() bool { return d.IsIPv6Enabled == nil || *d.IsIPv6Enabled }

// Origin returns the origin with the given id, or nil.
func (d *Distribution) Origin(id string) *Origin {
	for i := range d.Origins {
		if d.Origins[i].ID == id {
			return &d.Origins[i]
		}
	}
	return nil
}

// OriginGroup returns the origin group with the given id, or nil.
func (d *Distribution) OriginGroup(id string) *OriginGroup {
	for i := range d.OriginGroups {
		if d.OriginGroups[i].ID == id {
			return &d.OriginGroups[i]
		}
	}
	return nil
}

// Origin is where a distribution's content comes from: a custom HTTP(S)
// server or an S3 bucket. When neither CustomOriginConfig nor S3OriginConfig
// is given, Validate fills in a CustomOriginConfig with defaults.
type Origin struct {
	ID                 string              `json:"id"`                 // required, unique in the distribution (with origin group ids)
	URL                string              `json:"url"`                // shorthand: "http://127.0.0.1:9000/prefix" sets domainName, protocol policy, port, originPath
	DomainName         string              `json:"domainName"`         // host name or IP address; required unless url or s3OriginConfig given
	OriginPath         string              `json:"originPath"`         // "" or "/prefix" (no trailing "/")
	CustomHeaders      []Header            `json:"customHeaders"`      // added to every origin request
	ConnectionTimeout  Duration            `json:"connectionTimeout"`  // default 10s, 1s..10s
	ConnectionAttempts int                 `json:"connectionAttempts"` // default 3, 1..3
	CustomOriginConfig *CustomOriginConfig `json:"customOriginConfig"`
	S3OriginConfig     *S3OriginConfig     `json:"s3OriginConfig"`
	OriginShield       OriginShield        `json:"originShield"`
}

// IsS3 reports whether the origin is an S3 bucket.
func (o *Origin) IsS3() bool { return o.S3OriginConfig != nil }

// Header is a header name and value, such as an origin custom header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Origin protocol policies.
const (
	OriginProtocolHTTPOnly    = "http-only"
	OriginProtocolHTTPSOnly   = "https-only"
	OriginProtocolMatchViewer = "match-viewer"
)

// CustomOriginConfig configures an origin that is an ordinary HTTP(S) server.
type CustomOriginConfig struct {
	HTTPPort               int      `json:"httpPort"`               // default 80
	HTTPSPort              int      `json:"httpsPort"`              // default 443
	OriginProtocolPolicy   string   `json:"originProtocolPolicy"`   // http-only (default) | https-only | match-viewer
	OriginReadTimeout      Duration `json:"originReadTimeout"`      // default 30s, 1s..180s
	OriginKeepaliveTimeout Duration `json:"originKeepaliveTimeout"` // default 5s, 1s..180s
	OriginSSLProtocols     []string `json:"originSslProtocols"`     // subset of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3; default [TLSv1.2]
	CABundle               string   `json:"caBundle"`               // PEM file of CAs to trust for https (optional)
	InsecureSkipVerify     bool     `json:"insecureSkipVerify"`     // do not verify the origin's certificate
	// OriginAccessControl signs requests to the origin (SigV4, service
	// "strata" by default) so that it can refuse requests that did not
	// come through Strata (pkg/originauth verifies them).
	OriginAccessControl *OriginAccessControl `json:"originAccessControl"`
}

// S3OriginConfig configures an origin that is an S3 bucket (AWS or any
// S3-compatible server).
type S3OriginConfig struct {
	Bucket              string              `json:"bucket"`    // required
	Region              string              `json:"region"`    // default us-east-1
	Endpoint            string              `json:"endpoint"`  // default https://s3.<region>.amazonaws.com
	PathStyle           bool                `json:"pathStyle"` // endpoint/bucket/key instead of bucket.endpoint/key
	OriginAccessControl OriginAccessControl `json:"originAccessControl"`
}

// Origin access control signing behaviours.
const (
	SigningAlways     = "always"
	SigningNever      = "never"
	SigningNoOverride = "no-override"
)

// OriginAccessControl says whether and how requests to an S3 origin are
// signed. Credentials are given literally or as names of environment
// variables (see Credentials); Validate does not read the environment.
type OriginAccessControl struct {
	SigningBehavior    string `json:"signingBehavior"` // always | never (default) | no-override
	SigningProtocol    string `json:"signingProtocol"` // sigv4 (default)
	AccessKeyID        string `json:"accessKeyId"`
	SecretAccessKey    string `json:"secretAccessKey"`
	AccessKeyIDEnv     string `json:"accessKeyIdEnv"`     // name of the environment variable holding the access key id
	SecretAccessKeyEnv string `json:"secretAccessKeyEnv"` // name of the environment variable holding the secret key
	// Custom origins only (an S3 origin signs for s3OriginConfig.region
	// and service "s3"):
	Region  string `json:"region"`  // credential scope region; default us-east-1
	Service string `json:"service"` // credential scope service; default "strata"
}

// OriginShield puts an extra caching layer in front of the origin.
type OriginShield struct {
	Enabled bool   `json:"enabled"`
	Region  string `json:"region"` // required when enabled
}

// OriginGroup is a primary and a secondary origin; requests fail over to the
// secondary when the primary answers one of the listed status codes (or
// cannot be reached).
type OriginGroup struct {
	ID                string           `json:"id"`                // required, unique in the distribution (with origin ids)
	PrimaryOriginID   string           `json:"primaryOriginId"`   // an origin id
	SecondaryOriginID string           `json:"secondaryOriginId"` // another origin id
	FailoverCriteria  FailoverCriteria `json:"failoverCriteria"`
}

// FailoverCriteria lists the status codes that make an origin group fail over.
type FailoverCriteria struct {
	StatusCodes []int `json:"statusCodes"` // each one of 400, 403, 404, 416, 500, 502, 503, 504; at least one
}

// Viewer protocol policies.
const (
	ViewerProtocolAllowAll        = "allow-all"
	ViewerProtocolRedirectToHTTPS = "redirect-to-https"
	ViewerProtocolHTTPSOnly       = "https-only"
)

// CacheBehavior says how requests whose path matches PathPattern are handled.
type CacheBehavior struct {
	PathPattern             string                `json:"pathPattern"`             // required except on the default behavior
	TargetOriginID          string                `json:"targetOriginId"`          // origin id or origin group id (required)
	ViewerProtocolPolicy    string                `json:"viewerProtocolPolicy"`    // allow-all (default) | redirect-to-https | https-only
	AllowedMethods          []string              `json:"allowedMethods"`          // one of CloudFront's three sets; default [GET, HEAD]
	CachedMethods           []string              `json:"cachedMethods"`           // [GET, HEAD] (default) or [GET, HEAD, OPTIONS]
	CachePolicyID           string                `json:"cachePolicyId"`           // default Managed-CachingOptimized
	OriginRequestPolicyID   string                `json:"originRequestPolicyId"`   // optional
	ResponseHeadersPolicyID string                `json:"responseHeadersPolicyId"` // optional
	TrustedKeyGroups        []string              `json:"trustedKeyGroups"`        // key group ids; when set, requests must be signed
	Compress                bool                  `json:"compress"`                // compress responses for viewers that accept it
	FunctionAssociations    []FunctionAssociation `json:"functionAssociations"`    // accepted and validated, not executed yet
}

// AllowsMethod reports whether the behavior accepts requests with method m.
func (b *CacheBehavior) AllowsMethod(m string) bool {
	if len(b.AllowedMethods) == 0 {
		return m == "GET" || m == "HEAD"
	}
	for _, a := range b.AllowedMethods {
		if a == m {
			return true
		}
	}
	return false
}

// CachesMethod reports whether responses to method m are cached.
func (b *CacheBehavior) CachesMethod(m string) bool {
	if len(b.CachedMethods) == 0 {
		return m == "GET" || m == "HEAD"
	}
	for _, a := range b.CachedMethods {
		if a == m {
			return true
		}
	}
	return false
}

// FunctionAssociation attaches an edge function to an event of a behavior.
type FunctionAssociation struct {
	EventType   string `json:"eventType"`   // viewer-request | viewer-response | origin-request | origin-response
	FunctionARN string `json:"functionARN"` // required
}

// CachePolicy decides the TTLs and what goes into the cache key.
type CachePolicy struct {
	ID         string         `json:"id"` // required, unique, must not start with "Managed-"
	Comment    string         `json:"comment"`
	MinTTL     int64          `json:"minTTL"`     // seconds, default 0
	DefaultTTL *int64         `json:"defaultTTL"` // seconds, default 86400 (or minTTL if larger)
	MaxTTL     *int64         `json:"maxTTL"`     // seconds, default 31536000 (or defaultTTL if larger)
	CacheKey   CacheKeyConfig `json:"cacheKey"`
	// DefaultStaleIfError is how long after it expired a cached object is
	// still served when the origin cannot be reached, times out or answers
	// 5xx, when the origin's response carried no stale-if-error (whose
	// value wins; must-revalidate and no-cache forbid it). Seconds, 0 (never:
	// the error goes to the viewer) to MaxSeconds; unset: without limit, as
	// CloudFront.
	DefaultStaleIfError *int64 `json:"defaultStaleIfError"`
}

// CacheKeyConfig says which parts of a request are in the cache key (and
// therefore also forwarded to the origin).
type CacheKeyConfig struct {
	Headers                    KeyList `json:"headers"`      // none (default) | whitelist
	Cookies                    KeyList `json:"cookies"`      // none (default) | whitelist | allExcept | all
	QueryStrings               KeyList `json:"queryStrings"` // none (default) | whitelist | allExcept | all
	EnableAcceptEncodingGzip   bool    `json:"enableAcceptEncodingGzip"`
	EnableAcceptEncodingBrotli bool    `json:"enableAcceptEncodingBrotli"`
}

// Key list behaviours.
const (
	KeyNone                            = "none"
	KeyWhitelist                       = "whitelist"
	KeyAllExcept                       = "allExcept"
	KeyAll                             = "all"
	KeyAllViewer                       = "allViewer"
	KeyAllViewerAndWhitelistCloudFront = "allViewerAndWhitelistCloudFront"
)

// KeyList selects headers, cookies or query strings by name.
type KeyList struct {
	Behavior string   `json:"behavior"` // default none
	Items    []string `json:"items"`    // required for whitelist, allExcept and allViewerAndWhitelistCloudFront
}

// OriginRequestPolicy says what is forwarded to the origin beyond the cache key.
type OriginRequestPolicy struct {
	ID           string  `json:"id"` // required, unique, must not start with "Managed-"
	Comment      string  `json:"comment"`
	Headers      KeyList `json:"headers"`      // none | whitelist | allViewer | allViewerAndWhitelistCloudFront | allExcept
	Cookies      KeyList `json:"cookies"`      // none | whitelist | all | allExcept
	QueryStrings KeyList `json:"queryStrings"` // none | whitelist | all | allExcept
}

// ResponseHeadersPolicy adds, overrides and removes response headers.
type ResponseHeadersPolicy struct {
	ID              string                 `json:"id"` // required, unique, must not start with "Managed-"
	Comment         string                 `json:"comment"`
	CORS            *CORSConfig            `json:"cors"`
	SecurityHeaders *SecurityHeadersConfig `json:"securityHeaders"`
	CustomHeaders   []CustomResponseHeader `json:"customHeaders"`
	RemoveHeaders   []string               `json:"removeHeaders"` // header names
	ServerTiming    *ServerTimingConfig    `json:"serverTiming"`
}

// CORSConfig is the CORS part of a response headers policy.
type CORSConfig struct {
	AccessControlAllowOrigins     []string `json:"accessControlAllowOrigins"` // required: "*" or origins such as https://example.com, https://*.example.com
	AccessControlAllowHeaders     []string `json:"accessControlAllowHeaders"` // "*" or header names, for preflights
	AccessControlAllowMethods     []string `json:"accessControlAllowMethods"` // GET, POST, OPTIONS, PUT, DELETE, PATCH, HEAD or ALL; when set, preflights are answered at the edge
	AccessControlAllowCredentials bool     `json:"accessControlAllowCredentials"`
	AccessControlExposeHeaders    []string `json:"accessControlExposeHeaders"` // "*" or header names
	AccessControlMaxAgeSec        int      `json:"accessControlMaxAgeSec"`     // seconds; 0 = header not sent
	OriginOverride                bool     `json:"originOverride"`             // replace CORS headers the origin sent
}

// SecurityHeadersConfig is the security-headers part of a response headers
// policy. A header is added when its part is present.
type SecurityHeadersConfig struct {
	StrictTransportSecurity *StrictTransportSecurity     `json:"strictTransportSecurity"`
	ContentTypeOptions      *ContentTypeOptions          `json:"contentTypeOptions"`
	FrameOptions            *FrameOptions                `json:"frameOptions"`
	ReferrerPolicy          *ReferrerPolicyHeader        `json:"referrerPolicy"`
	ContentSecurityPolicy   *ContentSecurityPolicyHeader `json:"contentSecurityPolicy"`
	XSSProtection           *XSSProtection               `json:"xssProtection"`
}

// StrictTransportSecurity is the Strict-Transport-Security header.
type StrictTransportSecurity struct {
	AccessControlMaxAgeSec int64 `json:"accessControlMaxAgeSec"` // max-age in seconds
	IncludeSubdomains      bool  `json:"includeSubdomains"`
	Preload                bool  `json:"preload"`
	Override               bool  `json:"override"` // replace the origin's header
}

// ContentTypeOptions is the X-Content-Type-Options: nosniff header.
type ContentTypeOptions struct {
	Override bool `json:"override"`
}

// FrameOptions is the X-Frame-Options header.
type FrameOptions struct {
	FrameOption string `json:"frameOption"` // DENY | SAMEORIGIN
	Override    bool   `json:"override"`
}

// ReferrerPolicyHeader is the Referrer-Policy header.
type ReferrerPolicyHeader struct {
	ReferrerPolicy string `json:"referrerPolicy"` // one of the Referrer-Policy values
	Override       bool   `json:"override"`
}

// ContentSecurityPolicyHeader is the Content-Security-Policy header.
type ContentSecurityPolicyHeader struct {
	ContentSecurityPolicy string `json:"contentSecurityPolicy"` // required
	Override              bool   `json:"override"`
}

// XSSProtection is the X-XSS-Protection header.
type XSSProtection struct {
	Protection bool   `json:"protection"` // 1 or 0
	ModeBlock  bool   `json:"modeBlock"`  // "; mode=block"
	ReportURI  string `json:"reportUri"`  // "; report=<uri>"
	Override   bool   `json:"override"`
}

// CustomResponseHeader is a header a response headers policy adds.
type CustomResponseHeader struct {
	Header   string `json:"header"`
	Value    string `json:"value"`
	Override bool   `json:"override"` // replace the origin's header of that name
}

// ServerTimingConfig enables the Server-Timing header.
type ServerTimingConfig struct {
	Enabled      bool    `json:"enabled"`
	SamplingRate float64 `json:"samplingRate"` // percent of requests, 0..100
}

// CustomErrorResponse replaces an error response from the origin.
type CustomErrorResponse struct {
	ErrorCode          int    `json:"errorCode"`          // 400..599, required
	ResponsePagePath   string `json:"responsePagePath"`   // path of the page to serve instead, starts with "/"
	ResponseCode       int    `json:"responseCode"`       // status to send with it; 0 = keep ErrorCode
	ErrorCachingMinTTL *int64 `json:"errorCachingMinTTL"` // seconds the error is cached; default 10
}

// Restrictions restricts who can see a distribution's content.
type Restrictions struct {
	GeoRestriction GeoRestriction `json:"geoRestriction"`
}

// Geo restriction types.
const (
	GeoNone      = "none"
	GeoWhitelist = "whitelist"
	GeoBlacklist = "blacklist"
)

// GeoRestriction allows or blocks viewers by country.
type GeoRestriction struct {
	RestrictionType string   `json:"restrictionType"` // none (default) | whitelist | blacklist (allow / block are synonyms)
	Locations       []string `json:"locations"`       // ISO 3166-1 alpha-2 codes, upper-cased; required unless none
}

// ViewerCertificate is the TLS certificate served to viewers.
type ViewerCertificate struct {
	CloudFrontDefaultCertificate bool   `json:"cloudFrontDefaultCertificate"` // true when no certificateFile is given
	CertificateFile              string `json:"certificateFile"`              // PEM certificate chain
	KeyFile                      string `json:"keyFile"`                      // PEM private key; given with certificateFile
	MinimumProtocolVersion       string `json:"minimumProtocolVersion"`       // security policy; default TLSv1.2_2021
	SSLSupportMethod             string `json:"sslSupportMethod"`             // sni-only (default) | vip
}

// SSL support methods.
const (
	SSLSupportSNIOnly = "sni-only"
	SSLSupportVIP     = "vip"
)

// Logging configures access logs.
type Logging struct {
	Enabled        bool   `json:"enabled"`
	IncludeCookies bool   `json:"includeCookies"`
	Path           string `json:"path"`   // file path, "-" = standard output (default when enabled)
	Format         string `json:"format"` // json (default) | text | w3c
}

// PublicKey is a public key used to verify signed URLs and signed cookies.
type PublicKey struct {
	ID         string `json:"id"` // required, unique
	Name       string `json:"name"`
	EncodedKey string `json:"encodedKey"` // PEM: RSA (2048..4096 bits) or ECDSA P-256
	Comment    string `json:"comment"`
}

// KeyGroup is a set of public keys that a cache behavior trusts.
type KeyGroup struct {
	ID      string   `json:"id"` // required, unique
	Name    string   `json:"name"`
	Items   []string `json:"items"` // public key ids, at least one
	Comment string   `json:"comment"`
}
