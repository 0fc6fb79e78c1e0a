package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustLoad(t testing.TB, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

// TestFullExample checks that the full example, in YAML and in JSON, parses
// to the same configuration and that the values arrive where they belong.
func TestFullExample(t *testing.T) {
	c := mustLoad(t, "testdata/full.yaml")
	fromJSON := mustLoad(t, "testdata/full.json")
	if !reflect.DeepEqual(c, fromJSON) {
		a, _ := json.MarshalIndent(c, "", " ")
		b, _ := json.MarshalIndent(fromJSON, "", " ")
		t.Fatalf("full.yaml and full.json differ:\n%s\n---\n%s", a, b)
	}

	shop := &c.Distributions[0]
	docs := &c.Distributions[1]
	app, backup, assets, media := shop.Origin("app"), shop.Origin("backup"), shop.Origin("assets"), shop.Origin("media")
	if app == nil || backup == nil || assets == nil || media == nil || shop.Origin("nope") != nil {
		t.Fatalf("Origin look-up: app=%v backup=%v assets=%v media=%v", app, backup, assets, media)
	}
	group := shop.OriginGroup("app-with-failover")
	if group == nil || shop.OriginGroup("app") != nil {
		t.Fatalf("OriginGroup look-up failed")
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"pop.id", c.PoP.ID, "FRA1"},
		{"pop.listen", c.PoP.Listen, "127.0.0.1:8443"},
		{"pop.httpsListen", c.PoP.HTTPSListen, "127.0.0.1:9443"},
		{"pop.tlsCertificateFile", c.PoP.TLSCertificateFile, "testdata/pop.crt"},
		{"topology.caBundle", c.Topology.CABundle, "testdata/network-ca.pem"},
		{"topology.pops[0].httpsListen", c.Topology.PoPs[0].HTTPSListen, "127.0.1.1:8443"},
		{"pop.memoryCacheSize", c.PoP.MemoryCacheSize, 512 * MiB},
		{"pop.maxObjectSize", c.PoP.MaxObjectSize, 8 * MiB},
		{"pop.maxHeaderBytes", c.PoP.MaxHeaderBytes, 64 * KiB},
		{"pop.readHeaderTimeout", c.PoP.ReadHeaderTimeout.D(), 5 * time.Second},
		{"pop.idleTimeout (integer seconds)", c.PoP.IdleTimeout.D(), 120 * time.Second},
		{"pop.webSocketIdleTimeout", c.PoP.WebSocketIdleTimeout.D(), 15 * time.Minute},
		{"pop.requestBodyTimeout", c.PoP.RequestBodyTimeout.D(), 2 * time.Minute},
		{"aliases lower-cased", shop.Aliases, []string{"www.example.com", "*.static.example.com"}},
		{"domainName", shop.DomainName, "shop.cdn.example.net"},
		{"default domainName", docs.DomainName, "docs_site.cdn.example.net"},
		{"enabled", shop.IsEnabled(), true},
		{"disabled", docs.IsEnabled(), false},
		{"isIPv6Enabled false", shop.IPv6Enabled(), false},
		{"isIPv6Enabled default", docs.IPv6Enabled(), true},
		{"comment", shop.Comment, "The shop front"},
		{"priceClass", shop.PriceClass, PriceClass100},
		{"priceClass default", docs.PriceClass, PriceClassAll},
		{"webACLId", shop.WebACLID, "shop-acl"},
		{"defaultRootObject", shop.DefaultRootObject, "index.html"},
		{"httpVersion", shop.HTTPVersion, HTTPVersion2And3},
		{"httpVersion default", docs.HTTPVersion, HTTPVersion2},
		{"url sets domainName", app.DomainName, "127.0.0.1"},
		{"url sets originPath", app.OriginPath, "/v1"},
		{"url sets httpPort", app.CustomOriginConfig.HTTPPort, 9000},
		{"url sets protocol policy", app.CustomOriginConfig.OriginProtocolPolicy, OriginProtocolHTTPOnly},
		{"httpsPort", app.CustomOriginConfig.HTTPSPort, 8443},
		{"customHeaders", app.CustomHeaders, []Header{{Name: "X-Origin-Secret", Value: "s3cr3t"}}},
		{"connectionTimeout", app.ConnectionTimeout.D(), 2 * time.Second},
		{"connectionAttempts", app.ConnectionAttempts, 2},
		{"originReadTimeout", app.CustomOriginConfig.OriginReadTimeout.D(), time.Minute},
		{"originKeepaliveTimeout", app.CustomOriginConfig.OriginKeepaliveTimeout.D(), 10 * time.Second},
		{"originSslProtocols", app.CustomOriginConfig.OriginSSLProtocols, []string{"TLSv1.2", "TLSv1.3"}},
		{"caBundle", app.CustomOriginConfig.CABundle, "testdata/network-ca.pem"},
		{"insecureSkipVerify", app.CustomOriginConfig.InsecureSkipVerify, true},
		{"originShield", app.OriginShield, OriginShield{Enabled: true, Region: "eu-central-1"}},
		{"connection defaults", []any{backup.ConnectionTimeout.D(), backup.ConnectionAttempts}, []any{10 * time.Second, 3}},
		{"custom origin defaults", *backup.CustomOriginConfig, CustomOriginConfig{HTTPPort: 8080, HTTPSPort: 443,
			OriginProtocolPolicy: OriginProtocolMatchViewer, OriginReadTimeout: Duration(30 * time.Second),
			OriginKeepaliveTimeout: Duration(5 * time.Second), OriginSSLProtocols: []string{"TLSv1.2"},
			OriginAccessControl: &OriginAccessControl{SigningBehavior: SigningAlways, SigningProtocol: "sigv4",
				AccessKeyIDEnv: "BACKUP_KEY_ID", SecretAccessKeyEnv: "BACKUP_SECRET", Region: "eu-west-3", Service: "backup-origin"}}},
		{"s3 is not custom", assets.CustomOriginConfig == nil && assets.IsS3() && !app.IsS3(), true},
		{"s3 fields", []any{assets.S3OriginConfig.Bucket, assets.S3OriginConfig.Region, assets.S3OriginConfig.Endpoint, assets.S3OriginConfig.PathStyle},
			[]any{"shop-assets", "eu-west-1", "http://127.0.0.1:7070", true}},
		{"s3 domainName from endpoint (path style)", assets.DomainName, "127.0.0.1"},
		{"s3 domainName default (virtual-hosted)", media.DomainName, "shop-media.s3.us-east-1.amazonaws.com"},
		{"s3 defaults", []any{media.S3OriginConfig.Region, media.S3OriginConfig.Endpoint, media.S3OriginConfig.OriginAccessControl.SigningProtocol},
			[]any{"us-east-1", "https://s3.us-east-1.amazonaws.com", "sigv4"}},
		{"oac", assets.S3OriginConfig.OriginAccessControl, OriginAccessControl{SigningBehavior: SigningAlways, SigningProtocol: "sigv4",
			AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG"}},
		{"oac env", []any{media.S3OriginConfig.OriginAccessControl.AccessKeyIDEnv, media.S3OriginConfig.OriginAccessControl.SecretAccessKeyEnv},
			[]any{"MEDIA_ACCESS_KEY_ID", "MEDIA_SECRET_ACCESS_KEY"}},
		{"origin group", *group, OriginGroup{ID: "app-with-failover", PrimaryOriginID: "app", SecondaryOriginID: "backup",
			FailoverCriteria: FailoverCriteria{StatusCodes: []int{500, 502, 503, 504}}}},
		{"default behavior", shop.DefaultCacheBehavior, CacheBehavior{TargetOriginID: "app-with-failover",
			ViewerProtocolPolicy: ViewerProtocolRedirectToHTTPS, AllowedMethods: []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"},
			CachedMethods: []string{"GET", "HEAD", "OPTIONS"}, CachePolicyID: "shop-pages", OriginRequestPolicyID: ManagedAllViewerExceptHostHeader,
			ResponseHeadersPolicyID: "shop-security", Compress: true,
			FunctionAssociations: []FunctionAssociation{{EventType: "viewer-request", FunctionARN: "arn:aws:cloudfront::123456789012:function/rewrite"}}}},
		{"behavior defaults", []any{shop.CacheBehaviors[0].ViewerProtocolPolicy, shop.CacheBehaviors[0].AllowedMethods, docs.DefaultCacheBehavior.CachedMethods},
			[]any{ViewerProtocolAllowAll, []string{"GET", "HEAD"}, []string{"GET", "HEAD"}}},
		{"cache policy default id", shop.CacheBehaviors[1].CachePolicyID, ManagedCachingOptimized},
		{"trustedKeyGroups", shop.CacheBehaviors[1].TrustedKeyGroups, []string{"editors"}},
		{"custom error responses", shop.CustomErrorResponses, []CustomErrorResponse{
			{ErrorCode: 404, ResponsePagePath: "/errors/404.html", ResponseCode: 404, ErrorCachingMinTTL: ptr[int64](60)},
			{ErrorCode: 503, ErrorCachingMinTTL: ptr[int64](10)}}},
		{"geo block normalised", shop.Restrictions.GeoRestriction, GeoRestriction{RestrictionType: GeoBlacklist, Locations: []string{"KP", "IR"}}},
		{"geo whitelist", docs.Restrictions.GeoRestriction.RestrictionType, GeoWhitelist},
		{"viewer certificate", shop.ViewerCertificate, ViewerCertificate{CertificateFile: "testdata/shop.crt", KeyFile: "testdata/shop.key",
			MinimumProtocolVersion: "TLSv1.2_2019", SSLSupportMethod: "vip"}},
		{"viewer certificate defaults", docs.ViewerCertificate, ViewerCertificate{CloudFrontDefaultCertificate: true,
			MinimumProtocolVersion: "TLSv1.2_2021", SSLSupportMethod: "sni-only"}},
		{"logging", shop.Logging, Logging{Enabled: true, IncludeCookies: true, Path: "/var/log/strata/shop.log", Format: "w3c"}},
		{"logging defaults", docs.Logging, Logging{Format: "json"}},
		{"cache policy", *c.CachePolicy("shop-pages"), CachePolicy{ID: "shop-pages", Comment: "Pages vary by language and session",
			MinTTL: 60, DefaultTTL: ptr[int64](300), MaxTTL: ptr[int64](3600), CacheKey: CacheKeyConfig{
				Headers: KeyList{Behavior: KeyWhitelist, Items: []string{"Accept-Language"}}, Cookies: KeyList{Behavior: KeyAllExcept, Items: []string{"tracking"}},
				QueryStrings: KeyList{Behavior: KeyWhitelist, Items: []string{"page", "sort"}}, EnableAcceptEncodingGzip: true, EnableAcceptEncodingBrotli: true}, DefaultStaleIfError: ptr[int64](86400)}},
		{"origin request policy", *c.OriginRequestPolicy("forward-some"), OriginRequestPolicy{ID: "forward-some", Comment: "What the app needs beyond the cache key",
			Headers: KeyList{Behavior: KeyAllViewerAndWhitelistCloudFront, Items: []string{"CloudFront-Viewer-Country"}},
			Cookies: KeyList{Behavior: KeyWhitelist, Items: []string{"session"}}, QueryStrings: KeyList{Behavior: KeyAllExcept, Items: []string{"utm_source"}}}},
		{"security headers", *c.ResponseHeadersPolicy("shop-security").SecurityHeaders, SecurityHeadersConfig{
			StrictTransportSecurity: &StrictTransportSecurity{AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Preload: true, Override: true},
			ContentTypeOptions:      &ContentTypeOptions{Override: true},
			FrameOptions:            &FrameOptions{FrameOption: "DENY", Override: true},
			ReferrerPolicy:          &ReferrerPolicyHeader{ReferrerPolicy: "same-origin", Override: true},
			ContentSecurityPolicy:   &ContentSecurityPolicyHeader{ContentSecurityPolicy: "default-src 'self'", Override: true},
			XSSProtection:           &XSSProtection{Protection: true, ReportURI: "https://example.com/xss", Override: true}}},
		{"response custom headers", c.ResponseHeadersPolicy("shop-security").CustomHeaders, []CustomResponseHeader{{Header: "X-Served-By", Value: "strata", Override: true}}},
		{"removeHeaders", c.ResponseHeadersPolicy("shop-security").RemoveHeaders, []string{"Server", "X-Powered-By"}},
		{"serverTiming", *c.ResponseHeadersPolicy("shop-security").ServerTiming, ServerTimingConfig{Enabled: true, SamplingRate: 12.5}},
		{"cors", *c.ResponseHeadersPolicy("shop-cors").CORS, CORSConfig{AccessControlAllowOrigins: []string{"https://example.com", "https://*.example.com"},
			AccessControlAllowHeaders: []string{"Authorization", "Content-Type"}, AccessControlAllowMethods: []string{"GET", "HEAD", "OPTIONS"},
			AccessControlAllowCredentials: true, AccessControlExposeHeaders: []string{"ETag"}, AccessControlMaxAgeSec: 600, OriginOverride: true}},
		{"key group", c.KeyGroups[0], KeyGroup{ID: "editors", Name: "Editors", Items: []string{"editor-2025", "editor-ec"}, Comment: "People who may sign URLs for videos"}},
		{"public key", []string{c.PublicKeys[0].ID, c.PublicKeys[0].Name, c.PublicKeys[0].Comment}, []string{"editor-2025", "Editors' RSA key", "rotated yearly"}},
		{"behavior /images/*", shop.Behavior("/images/a/b.png").TargetOriginID, "assets"},
		{"behavior *.mp4", shop.Behavior("/videos/x.mp4").TargetOriginID, "media"},
		{"behavior default", shop.Behavior("/cart").TargetOriginID, "app-with-failover"},
		{"BaseURL http", app.BaseURL("https"), "http://127.0.0.1:9000/v1"},
		{"BaseURL match-viewer http", backup.BaseURL("http"), "http://backup.example.com:8080/mirror"},
		{"BaseURL match-viewer https", backup.BaseURL("https"), "https://backup.example.com/mirror"},
		{"BaseURL s3 path style", assets.BaseURL("https"), "http://127.0.0.1:7070/shop-assets"},
		{"BaseURL s3 virtual-hosted", media.BaseURL("http"), "https://shop-media.s3.us-east-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", tt.got, tt.want)
			}
		})
	}
	for _, k := range c.PublicKeys {
		if _, err := k.ParseKey(); err != nil {
			t.Errorf("public key %s: %v", k.ID, err)
		}
	}
}

// TestRoundTrip checks that a parsed configuration re-validates without a
// change, and that it survives being written as JSON and parsed again (the
// control plane stores configurations that way).
func TestRoundTrip(t *testing.T) {
	for _, f := range []string{"testdata/full.yaml", "testdata/full.json", "testdata/minimal.yaml"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := mustLoad(t, f)
			checkRoundTrip(t, c)
		})
	}
}

func checkRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	again, err := Parse(data, "round-trip.json")
	if err != nil {
		t.Fatalf("parsing the JSON of a parsed config: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("JSON round trip changed the config:\n%s", data)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("re-validating a parsed config: %v", err)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("re-validating changed the config")
	}
}

// TestFullUsesEveryField keeps testdata/full.yaml complete: every field of
// every type of the model is set (non-zero) somewhere in it.
func TestFullUsesEveryField(t *testing.T) {
	c := mustLoad(t, "testdata/full.yaml")
	set := map[string]bool{} // "Type.field"
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					set[v.Type().String()+"."+jsonName(v.Type().Field(i))] = true
				}
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem())
	for _, p := range modelPaths() {
		if !set[p.parent.String()+"."+p.field] {
			t.Errorf("testdata/full.yaml does not set %s", p.path)
		}
	}
}

type modelPath struct {
	path   string       // e.g. distributions[].origins[].id
	parent reflect.Type // struct type holding the field
	field  string       // json name
}

// modelPaths lists every field of the model reachable from Config, with
// "[]" for list elements.
func modelPaths() []modelPath {
	var out []modelPath
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
				path += "[]"
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || jsonName(f) == "-" {
				continue // not decoded (json:"-": a part that decodes itself, like a web ACL's AWS fields)
			}
			p := jsonName(f)
			if path != "" {
				p = path + "." + p
			}
			out = append(out, modelPath{path: p, parent: t, field: jsonName(f)})
			walk(f.Type, p)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, "testdata/minimal.yaml")
	d := &c.Distributions[0]
	o := d.Origins[0]
	b := d.DefaultCacheBehavior
	tests := []struct {
		name      string
		got, want any
	}{
		{"pop", c.PoP, PoP{ID: "LOCAL1", Listen: "127.0.0.1:8080", MemoryCacheSize: 256 * MiB, MaxObjectSize: 64 * MiB,
			MaxHeaderBytes: 32 * KiB, ReadHeaderTimeout: Duration(10 * time.Second), IdleTimeout: Duration(60 * time.Second),
			WebSocketIdleTimeout: Duration(10 * time.Minute), DiskCacheSize: 1 * GiB, RequestBodyTimeout: Duration(time.Minute),
			ViewerWriteTimeout: Duration(20 * time.Second), MaxConnectionsPerAddress: 256, MaxConnections: 50000, NewConnectionsPerAddress: 200, MaxRequestsPerConnection: 10000,
			MaxOriginFetches: 1024, MaxOriginFetchesPerOrigin: 256, OriginQueueTimeout: Duration(2 * time.Second),
			MinRequestBodyRate: 500, BufferedBodySize: 64 * KiB}},
		{"domainName", d.DomainName, "site.strata.localhost"},
		{"enabled", *d.Enabled, true},
		{"isIPv6Enabled", *d.IsIPv6Enabled, true},
		{"priceClass", d.PriceClass, PriceClassAll},
		{"httpVersion", d.HTTPVersion, HTTPVersion2},
		{"geo", d.Restrictions.GeoRestriction.RestrictionType, GeoNone},
		{"origin", o, Origin{ID: "web", DomainName: "example.com", ConnectionTimeout: Duration(10 * time.Second), ConnectionAttempts: 3,
			CustomOriginConfig: &CustomOriginConfig{HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: OriginProtocolHTTPOnly,
				OriginReadTimeout: Duration(30 * time.Second), OriginKeepaliveTimeout: Duration(5 * time.Second), OriginSSLProtocols: []string{"TLSv1.2"}}}},
		{"behavior", b, CacheBehavior{TargetOriginID: "web", ViewerProtocolPolicy: ViewerProtocolAllowAll,
			AllowedMethods: []string{"GET", "HEAD"}, CachedMethods: []string{"GET", "HEAD"}, CachePolicyID: ManagedCachingOptimized}},
		{"BaseURL", o.BaseURL("https"), "http://example.com"},
		{"AllowsMethod", []bool{b.AllowsMethod("GET"), b.AllowsMethod("HEAD"), b.AllowsMethod("POST")}, []bool{true, true, false}},
		{"CachesMethod", []bool{b.CachesMethod("GET"), b.CachesMethod("OPTIONS")}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", tt.got, tt.want)
			}
		})
	}
}

// TestTTLDefaults checks CloudFront's rules for TTLs left out.
func TestTTLDefaults(t *testing.T) {
	tests := []struct {
		name             string
		min              int64
		def, max         *int64
		wantDef, wantMax int64
	}{
		{"all default", 0, nil, nil, 86400, 31536000},
		{"min above one day", 100000, nil, nil, 100000, 31536000},
		{"min above one year", 40000000, nil, nil, 40000000, 40000000},
		{"default above one year", 0, ptr[int64](40000000), nil, 40000000, 40000000},
		{"only max", 0, ptr[int64](0), ptr[int64](0), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{CachePolicies: []CachePolicy{{ID: "p", MinTTL: tt.min, DefaultTTL: tt.def, MaxTTL: tt.max}}}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			p := c.CachePolicies[0]
			if *p.DefaultTTL != tt.wantDef || *p.MaxTTL != tt.wantMax {
				t.Errorf("default/max = %d/%d, want %d/%d", *p.DefaultTTL, *p.MaxTTL, tt.wantDef, tt.wantMax)
			}
		})
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "---\n", "{}", "null\n", "distributions: []\n"} {
		c, err := Parse([]byte(src), "empty.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if len(c.Distributions) != 0 || c.PoP.ID != "LOCAL1" {
			t.Errorf("Parse(%q) = %+v, want the empty configuration with defaults", src, c)
		}
	}
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load(empty file): %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

// TestYAMLFeatures checks anchors, aliases and merge keys, which save
// repetition in real configurations.
func TestYAMLFeatures(t *testing.T) {
	src := `
x-behavior: &cached
  targetOriginId: web
  compress: true
distributions:
  - id: a
    origins: [{id: web, domainName: example.com}]
    defaultCacheBehavior: *cached
    cacheBehaviors:
      - <<: *cached
        pathPattern: /api/*
        compress: false
`
	_, err := Parse([]byte(src), "anchors.yaml")
	if err == nil || !strings.Contains(err.Error(), `x-behavior (line 2): unknown field`) {
		t.Fatalf("top-level extension keys are refused like any unknown field; got %v", err)
	}
	src = `
distributions:
  - id: a
    origins: [{id: web, domainName: example.com}]
    defaultCacheBehavior: &cached
      targetOriginId: web
      compress: true
    cacheBehaviors:
      - <<: *cached
        pathPattern: /api/*
        compress: false
      - pathPattern: /static/*
        <<: [*cached]
`
	c, err := Parse([]byte(src), "anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Distributions[0]
	if !d.DefaultCacheBehavior.Compress || d.CacheBehaviors[0].Compress || d.CacheBehaviors[0].TargetOriginID != "web" ||
		!d.CacheBehaviors[1].Compress || d.CacheBehaviors[1].PathPattern != "/static/*" {
		t.Errorf("merge keys not applied: %+v", d.CacheBehaviors)
	}
}

func TestManagedPolicies(t *testing.T) {
	c := &Config{}
	for _, id := range managedCachePolicyIDs {
		p := c.CachePolicy(id)
		if p == nil || p.ID != id {
			t.Fatalf("CachePolicy(%q) = %v", id, p)
		}
		v := &validator{cfg: c}
		v.cachePolicy(p, id)
		if len(v.errs) > 0 {
			t.Errorf("managed %s is invalid: %v", id, v.errs)
		}
	}
	for _, id := range managedOriginRequestPolicyIDs {
		p := c.OriginRequestPolicy(id)
		if p == nil || p.ID != id {
			t.Fatalf("OriginRequestPolicy(%q) = %v", id, p)
		}
		v := &validator{cfg: c}
		v.originRequestPolicy(p, id)
		if len(v.errs) > 0 {
			t.Errorf("managed %s is invalid: %v", id, v.errs)
		}
	}
	for _, id := range managedResponseHeadersPolicyIDs {
		p := c.ResponseHeadersPolicy(id)
		if p == nil || p.ID != id {
			t.Fatalf("ResponseHeadersPolicy(%q) = %v", id, p)
		}
		v := &validator{cfg: c}
		v.responseHeadersPolicy(p, id)
		if len(v.errs) > 0 {
			t.Errorf("managed %s is invalid: %v", id, v.errs)
		}
	}
	opt := c.CachePolicy(ManagedCachingOptimized)
	if opt.MinTTL != 1 || *opt.DefaultTTL != 86400 || *opt.MaxTTL != 31536000 ||
		!opt.CacheKey.EnableAcceptEncodingGzip || !opt.CacheKey.EnableAcceptEncodingBrotli {
		t.Errorf("CachingOptimized = %+v", opt)
	}
	if dis := c.CachePolicy(ManagedCachingDisabled); *dis.DefaultTTL != 0 || *dis.MaxTTL != 0 {
		t.Errorf("CachingDisabled = %+v", dis)
	}
	// Managed policies are copies: changing one does not change the next.
	*opt.DefaultTTL = 1
	if *c.CachePolicy(ManagedCachingOptimized).DefaultTTL != 86400 {
		t.Error("managed policy shared between callers")
	}
	for _, unknown := range []string{"", "Managed-Nope", "nope"} {
		if c.CachePolicy(unknown) != nil || c.OriginRequestPolicy(unknown) != nil || c.ResponseHeadersPolicy(unknown) != nil {
			t.Errorf("policy %q resolves", unknown)
		}
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		name   string
		origin string // YAML of one origin
		viewer string
		want   string
	}{
		{"http default port", `{id: o, domainName: example.com}`, "https", "http://example.com"},
		{"https-only", `{id: o, domainName: example.com, customOriginConfig: {originProtocolPolicy: https-only}}`, "http", "https://example.com"},
		{"https other port", `{id: o, url: "https://example.com:8443/base/"}`, "http", "https://example.com:8443/base"},
		{"match-viewer", `{id: o, domainName: example.com, customOriginConfig: {originProtocolPolicy: match-viewer, httpsPort: 444}}`, "https", "https://example.com:444"},
		{"ipv6", `{id: o, domainName: "::1", customOriginConfig: {httpPort: 81}}`, "http", "http://[::1]:81"},
		{"ipv6 default port", `{id: o, domainName: "::1"}`, "http", "http://[::1]"},
		{"url with match-viewer", `{id: o, url: "http://h:9000", customOriginConfig: {originProtocolPolicy: match-viewer}}`, "https", "https://h"},
		{"s3 path style", `{id: o, originPath: /p, s3OriginConfig: {bucket: b1b, endpoint: "http://127.0.0.1:7070/", pathStyle: true}}`, "http", "http://127.0.0.1:7070/b1b/p"},
		{"s3 region", `{id: o, s3OriginConfig: {bucket: b1b, region: eu-west-3}}`, "http", "https://b1b.s3.eu-west-3.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "distributions:\n  - id: d\n    origins: [" + tt.origin + "]\n    defaultCacheBehavior: {targetOriginId: o}\n"
			c, err := Parse([]byte(src), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Distributions[0].Origins[0].BaseURL(tt.viewer); got != tt.want {
				t.Errorf("BaseURL(%s) = %q, want %q", tt.viewer, got, tt.want)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	t.Setenv("STRATA_TEST_KEY_ID", "id-from-env")
	t.Setenv("STRATA_TEST_SECRET", "secret-from-env")
	tests := []struct {
		name               string
		oac                OriginAccessControl
		wantID, wantSecret string
		wantErr            string
	}{
		{"literal", OriginAccessControl{AccessKeyID: "a", SecretAccessKey: "b"}, "a", "b", ""},
		{"env", OriginAccessControl{AccessKeyIDEnv: "STRATA_TEST_KEY_ID", SecretAccessKeyEnv: "STRATA_TEST_SECRET"}, "id-from-env", "secret-from-env", ""},
		{"env unset", OriginAccessControl{AccessKeyIDEnv: "STRATA_TEST_UNSET_VARIABLE", SecretAccessKey: "b"}, "", "", "STRATA_TEST_UNSET_VARIABLE (accessKeyIdEnv) is not set"},
		{"none", OriginAccessControl{}, "", "", "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, err := tt.oac.Credentials()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID || secret != tt.wantSecret {
				t.Errorf("= %q, %q, %v; want %q, %q", id, secret, err, tt.wantID, tt.wantSecret)
			}
		})
	}
}

func TestCountryCodes(t *testing.T) {
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if IsCountryCode(string([]rune{a, b})) {
				n++
			}
		}
	}
	if n != 250 { // 249 assigned codes and XK
		t.Errorf("%d country codes, want 250", n)
	}
	for _, bad := range []string{"", "U", "USA", "us", "XX", "AA", "ZZ", "EU", " US"} {
		if IsCountryCode(bad) {
			t.Errorf("IsCountryCode(%q) = true", bad)
		}
	}
}
