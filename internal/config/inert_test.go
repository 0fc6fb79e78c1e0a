package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// actedOn lists every field of the model that the code acts on, each with
// where. Together with inert (inert.go) it must classify every field:
// adding a field to the model without saying which it is fails
// TestEveryFieldActedOnOrInert. Scalar lists are named without "[]".
var actedOn = map[string]string{
	// pop: cmd/strata, internal/world (listeners, TLS), internal/pop (caches), internal/h1 (limits).
	"pop.id":                        "world.Start: the PoP's id (heartbeats, X-Cache, Server-Timing)",
	"pop.listen":                    "world.Start: the HTTP listener",
	"pop.httpsListen":               "world.Start: the HTTPS listener",
	"pop.tlsCertificateFile":        "world.Start → pop.Options.DefaultCertFile",
	"pop.tlsKeyFile":                "world.Start → pop.Options.DefaultKeyFile",
	"pop.memoryCacheSize":           "pop.New: memory tier size",
	"pop.maxObjectSize":             "pop.New, fetch.go: largest object kept in memory",
	"pop.maxHeaderBytes":            "listener / h1.Server limit",
	"pop.readHeaderTimeout":         "listener / h1.Server timeout",
	"pop.idleTimeout":               "listener / h1.Server keep-alive",
	"pop.diskCacheSize":             "pop.New: disk tier size",
	"pop.geoDatabase":               "world.Start: geo.Open",
	"pop.webSocketIdleTimeout":      "pop/websocket.go",
	"pop.requestBodyTimeout":        "pop/upload.go (408 for a stalled upload)",
	"pop.viewerWriteTimeout":        "listener.Options.WriteTimeout (h1 and HTTP/2 write progress deadline)",
	"pop.maxConnectionsPerAddress":  "listener.Options.MaxConnsPerAddr (refused at accept)",
	"pop.maxConnections":            "listener.Options.MaxConns (refused at accept)",
	"pop.newConnectionsPerAddress":  "listener.Options.NewConnsPerAddr (refused at accept)",
	"pop.maxRequestsPerConnection":  "listener.Options.MaxRequestsPerConn (HTTP/2 graceful close)",
	"pop.maxOriginFetches":          "pop.Options.MaxOriginFetches (origin.Limiter)",
	"pop.maxOriginFetchesPerOrigin": "pop.Options.MaxOriginFetchesPerOrigin (origin.Limiter)",
	"pop.originQueueTimeout":        "pop.Options.OriginQueueTimeout (origin.Limiter)",
	"pop.minRequestBodyRate":        "pop/shield.go (408 for a body slower than it)",
	"pop.bufferedBodySize":          "pop/shield.go (small bodies read before the origin request)",

	// topology: internal/world, internal/control (ip-ranges), cmd/strata pop.
	"topology.secret":               "world.Start: tier hop secret",
	"topology.caBundle":             "world.Start / pop: trusted CAs for https PoP URLs",
	"topology.pops[].id":            "world.Start, strata pop --id",
	"topology.pops[].location":      "world.Start: catalog location (geo, regional cache)",
	"topology.pops[].tier":          "world.Start: edge or regional",
	"topology.pops[].listen":        "world.Start: listener",
	"topology.pops[].httpsListen":   "world.Start: HTTPS listener",
	"topology.pops[].egress":        "pop.Options.Egress (origin.Settings.LocalAddr), ip-ranges.json",
	"topology.pops[].url":           "world.Start: how children reach the PoP",
	"topology.pops[].acceptViewers": "world.Start → pop.Options.AcceptViewers: a regional PoP serves viewers",
	"topology.pops[].parent":        "world.Start: an edge's regional parent",
	"topology.pops[].addresses":     "dns.PoPsFromTopology, startDNS: the DNS router's A/AAAA answers",
	// dns: cmd/strata/dns.go starts internal/dns with them.
	"dns.zone":                      "startDNS → dns.Options.Zone; the distributions' domain names in it are answered",
	"dns.listen":                    "startDNS → dns.Server.Start (UDP and TCP)",
	"dns.ttl":                       "startDNS → dns.Options.TTL",
	"dns.defaultRegion":             "startDNS → dns.Options.DefaultRegion",
	"dns.geoDatabase":               "startDNS → dns.Options.Geo",
	"distributions[].priceClass":    "dns.DistributionsInZone: answers come from PoPs in the class's regions",
	"distributions[].isIPv6Enabled": "dns.DistributionsInZone: AAAA answers only when true",

	// distributions: internal/pop (pop.go build, pipeline.go, tls.go, geo.go, errorpages.go).
	"distributions[].id":                                             "pop snapshot, control API, invalidations",
	"distributions[].domainName":                                     "pop host table, tls.go",
	"distributions[].aliases":                                        "pop host table, tls.go",
	"distributions[].enabled":                                        "pop.go build: disabled distributions answer nothing",
	"distributions[].underscoresInHeaders":                           "pipeline.go normalize (drop), key.go forwardHeader (filters read _ as -)",
	"distributions[].comment":                                        "description only: stored and shown by strata dist",
	"distributions[].originGroups[].id":                              "pop.go behavior target",
	"distributions[].originGroups[].primaryOriginId":                 "pop.go behavior target",
	"distributions[].originGroups[].secondaryOriginId":               "pop.go failover",
	"distributions[].originGroups[].failoverCriteria.statusCodes":    "pop.go failoverCodes",
	"distributions[].customErrorResponses[].errorCode":               "errorpages.go",
	"distributions[].customErrorResponses[].responsePagePath":        "errorpages.go",
	"distributions[].customErrorResponses[].responseCode":            "errorpages.go",
	"distributions[].customErrorResponses[].errorCachingMinTTL":      "errorpages.go, fetch.go errorTTL",
	"distributions[].restrictions.geoRestriction.restrictionType":    "geo.go",
	"distributions[].restrictions.geoRestriction.locations":          "geo.go",
	"distributions[].viewerCertificate.cloudFrontDefaultCertificate": "tls.go: the default certificate when no certificateFile",
	"distributions[].viewerCertificate.certificateFile":              "files.go LoadCertificate, tls.go",
	"distributions[].viewerCertificate.keyFile":                      "files.go LoadCertificate, tls.go",
	"distributions[].viewerCertificate.minimumProtocolVersion":       "tls.go security policy",
	"distributions[].viewerCertificate.sslSupportMethod":             "tls.go: vip serves clients without SNI",
	"distributions[].defaultRootObject":                              "pipeline.go, invalidate.go",
	"distributions[].httpVersion":                                    "tls.go ALPN, deliver.go Alt-Svc",

	// origins: pop.go originSettings, config.Origin.BaseURL, internal/origin.
	"distributions[].origins[].id":                                        "behavior targets",
	"distributions[].origins[].url":                                       "Validate expands it into domainName, port, protocol, originPath",
	"distributions[].origins[].domainName":                                "BaseURL",
	"distributions[].origins[].originPath":                                "BaseURL",
	"distributions[].origins[].customHeaders[].name":                      "origin.Settings.CustomHeaders",
	"distributions[].origins[].customHeaders[].value":                     "origin.Settings.CustomHeaders",
	"distributions[].origins[].connectionTimeout":                         "origin.Settings",
	"distributions[].origins[].connectionAttempts":                        "origin.Settings",
	"distributions[].origins[].customOriginConfig.httpPort":               "BaseURL",
	"distributions[].origins[].customOriginConfig.httpsPort":              "BaseURL",
	"distributions[].origins[].customOriginConfig.originProtocolPolicy":   "BaseURL",
	"distributions[].origins[].customOriginConfig.originReadTimeout":      "origin.Settings.ReadTimeout",
	"distributions[].origins[].customOriginConfig.originKeepaliveTimeout": "origin.Settings.KeepaliveTimeout",
	"distributions[].origins[].customOriginConfig.caBundle":               "origin.Settings.CABundle",
	"distributions[].origins[].customOriginConfig.insecureSkipVerify":     "origin.Settings.InsecureSkipVerify",
	"distributions[].origins[].s3OriginConfig.bucket":                     "BaseURL",
	"distributions[].origins[].s3OriginConfig.region":                     "BaseURL endpoint, SigV4 scope",
	"distributions[].origins[].s3OriginConfig.endpoint":                   "BaseURL",
	"distributions[].origins[].s3OriginConfig.pathStyle":                  "BaseURL",
	"distributions[].origins[].originShield.enabled":                      "pop.go shield",
	"distributions[].origins[].originShield.region":                       "pop.go shield (regional cache)",

	// cache behaviors: pop.go buildBehavior, pipeline.go, key.go, compress.go.
	"distributions[].defaultCacheBehavior.pathPattern": "match (refused when set on the default behavior)",
	"distributions[].cacheBehaviors[].pathPattern":     "pop.go behaviorFor",

	// policies: pop.go, key.go (cache key, forwarding), respheaders.go.
	"cachePolicies[].id":                                  "behavior cachePolicyId",
	"cachePolicies[].comment":                             "description only",
	"cachePolicies[].minTTL":                              "pop.go TTLs",
	"cachePolicies[].defaultTTL":                          "pop.go TTLs",
	"cachePolicies[].maxTTL":                              "pop.go TTLs (0: bypass)",
	"cachePolicies[].defaultStaleIfError":                 "pop/fetch.go (stale copy on an origin error)",
	"cachePolicies[].cacheKey.enableAcceptEncodingGzip":   "key.go",
	"cachePolicies[].cacheKey.enableAcceptEncodingBrotli": "key.go, compress.go",
	"originRequestPolicies[].id":                          "behavior originRequestPolicyId",
	"originRequestPolicies[].comment":                     "description only",
	"responseHeadersPolicies[].id":                        "behavior responseHeadersPolicyId",
	"responseHeadersPolicies[].comment":                   "description only",
	"responseHeadersPolicies[].customHeaders[].header":    "respheaders.go",
	"responseHeadersPolicies[].customHeaders[].value":     "respheaders.go",
	"responseHeadersPolicies[].customHeaders[].override":  "respheaders.go",
	"responseHeadersPolicies[].removeHeaders":             "respheaders.go",
	"responseHeadersPolicies[].serverTiming.enabled":      "respheaders.go",
	"responseHeadersPolicies[].serverTiming.samplingRate": "respheaders.go",

	// signed URLs: internal/signedurl.KeysFromConfig.
	"publicKeys[].id":         "key groups' items, Key-Pair-Id",
	"publicKeys[].name":       "description only",
	"publicKeys[].encodedKey": "signedurl verifier (PublicKey.ParseKey)",
	"publicKeys[].comment":    "description only",
	"keyGroups[].id":          "behavior trustedKeyGroups",
	// web ACLs (internal/waf compiles them; internal/pop/waf.go runs them).
	"distributions[].webACLId": "pop.buildWebACLs: the distribution's web ACL, stage 5",
	"webACLs[].id":             "distributions' webACLId",
	"ipSets[].id":              "IPSetReferenceStatement ARN (Config.WebACLResolver)",
	"regexPatternSets[].id":    "RegexPatternSetReferenceStatement ARN (Config.WebACLResolver)",
	"keyGroups[].name":         "description only",
	"keyGroups[].items":        "signedurl.KeysFromConfig",
	"keyGroups[].comment":      "description only",
}

func init() {
	for _, b := range []string{"defaultCacheBehavior", "cacheBehaviors[]"} {
		for f, where := range map[string]string{
			"targetOriginId":          "pop.go behavior target",
			"viewerProtocolPolicy":    "pipeline.go viewer protocol",
			"allowedMethods":          "pipeline.go AllowsMethod",
			"cachedMethods":           "pipeline.go CachesMethod",
			"cachePolicyId":           "pop.go policy",
			"originRequestPolicyId":   "pop.go, key.go forwarding",
			"responseHeadersPolicyId": "pop.go, respheaders.go",
			"trustedKeyGroups":        "pop.go signed URL verifier",
			"compress":                "compress.go",
		} {
			actedOn["distributions[]."+b+"."+f] = where
		}
	}
	for _, oac := range []string{"customOriginConfig", "s3OriginConfig"} {
		for _, f := range []string{"signingBehavior", "signingProtocol", "accessKeyId", "secretAccessKey", "accessKeyIdEnv",
			"secretAccessKeyEnv", "region", "service"} {
			actedOn["distributions[].origins[]."+oac+".originAccessControl."+f] = "pop.go signing, OriginAccessControl.Credentials, pkg/sigv4"
		}
	}
	// An S3 origin signs for s3OriginConfig.region and service s3: Validate
	// refuses these two there, so they are never accepted and ignored.
	actedOn["distributions[].origins[].s3OriginConfig.originAccessControl.region"] = "refused by Validate (an S3 origin signs for s3OriginConfig.region)"
	actedOn["distributions[].origins[].s3OriginConfig.originAccessControl.service"] = "refused by Validate (an S3 origin signs for service s3)"
	for _, l := range []string{"cachePolicies[].cacheKey.headers", "cachePolicies[].cacheKey.cookies", "cachePolicies[].cacheKey.queryStrings",
		"originRequestPolicies[].headers", "originRequestPolicies[].cookies", "originRequestPolicies[].queryStrings"} {
		actedOn[l+".behavior"] = "key.go"
		actedOn[l+".items"] = "key.go"
	}
	for _, f := range []string{"cors.accessControlAllowOrigins", "cors.accessControlAllowHeaders", "cors.accessControlAllowMethods",
		"cors.accessControlAllowCredentials", "cors.accessControlExposeHeaders", "cors.accessControlMaxAgeSec", "cors.originOverride",
		"securityHeaders.strictTransportSecurity.accessControlMaxAgeSec", "securityHeaders.strictTransportSecurity.includeSubdomains",
		"securityHeaders.strictTransportSecurity.preload", "securityHeaders.strictTransportSecurity.override",
		"securityHeaders.contentTypeOptions.override", "securityHeaders.frameOptions.frameOption", "securityHeaders.frameOptions.override",
		"securityHeaders.referrerPolicy.referrerPolicy", "securityHeaders.referrerPolicy.override",
		"securityHeaders.contentSecurityPolicy.contentSecurityPolicy", "securityHeaders.contentSecurityPolicy.override",
		"securityHeaders.xssProtection.protection", "securityHeaders.xssProtection.modeBlock", "securityHeaders.xssProtection.reportUri",
		"securityHeaders.xssProtection.override"} {
		actedOn["responseHeadersPolicies[]."+f] = "respheaders.go"
	}
}

// leafPaths returns the path of every field of the model that is not a
// struct (nor a pointer to or list of structs): what a user sets. A list of
// scalars is named without "[]". Struct fields named in inert are leaves
// too: the whole struct is inert.
func leafPaths() []string {
	var out []string
	for _, p := range modelPaths() {
		ft := fieldType(p)
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshalerType) {
			if isInert(p.path) {
				out = append(out, p.path)
			}
			continue
		}
		out = append(out, p.path)
	}
	return out
}

func isInert(path string) bool {
	return slices.ContainsFunc(inert, func(f inertField) bool { return f.path == path })
}

// underInert reports whether path is inside a struct that is inert as a whole.
func underInert(path string) bool {
	return slices.ContainsFunc(inert, func(f inertField) bool {
		return strings.HasPrefix(path, f.path+".") || strings.HasPrefix(path, f.path+"[].")
	})
}

// TestEveryFieldActedOnOrInert proves that every field of the model is
// either acted on (actedOn) or warned about when set (inert), and that both
// lists name real fields.
func TestEveryFieldActedOnOrInert(t *testing.T) {
	all := map[string]bool{}
	for _, p := range modelPaths() {
		all[p.path] = true
	}
	for _, p := range leafPaths() {
		_, acted := actedOn[p]
		switch {
		case underInert(p):
			if acted {
				t.Errorf("%s is in actedOn, but its parent is inert", p)
			}
		case acted && isInert(p):
			t.Errorf("%s is both acted on and inert: take it out of one list", p)
		case !acted && !isInert(p):
			t.Errorf("%s is neither acted on nor inert: add it to actedOn (inert_test.go, with the code that acts on it) or to inert (inert.go, with the reason)", p)
		}
	}
	for p := range actedOn {
		if !all[p] {
			t.Errorf("actedOn names %s, which is not a field of the model", p)
		}
	}
	for _, f := range inert {
		if !all[f.path] {
			t.Errorf("inert names %s, which is not a field of the model", f.path)
		}
		if f.reason == "" {
			t.Errorf("inert %s has no reason", f.path)
		}
	}
}

func TestWarnings(t *testing.T) {
	// The full example sets every field, the inert ones included.
	full := mustLoad(t, "testdata/full.yaml")
	var got []string
	for _, w := range full.Warnings() {
		if !strings.HasPrefix(w.Msg, NotActedOn+" (") {
			t.Errorf("%s: message %q does not start with %q", w.Path, w.Msg, NotActedOn)
		}
		got = append(got, w.Path)
	}
	want := []string{
		"distributions[0].logging",
		"distributions[0].defaultCacheBehavior.functionAssociations",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("full.yaml: no warning for %s; got %q", w, got)
		}
	}

	// Defaults, given or filled in, warn about nothing.
	cfg, err := Parse([]byte(`
distributions:
  - id: quiet
    priceClass: PriceClass_All
    isIPv6Enabled: true
    logging: {}
    origins: [{id: o, url: "http://127.0.0.1:9000", customOriginConfig: {originSslProtocols: [TLSv1.2]}}]
    defaultCacheBehavior: {targetOriginId: o, functionAssociations: []}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if ws := cfg.Warnings(); len(ws) != 0 {
		t.Errorf("defaults: got warnings %v", ws)
	}
	if ws := (&Config{}).Warnings(); len(ws) != 0 {
		t.Errorf("zero config: got warnings %v", ws)
	}

	// Each inert field, set, is named with its index.
	cfg, err = Parse([]byte(`
distributions:
  - id: a
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: b
    priceClass: PriceClass_100
    isIPv6Enabled: false
    logging: {enabled: true}
    origins:
      - {id: o, url: "http://127.0.0.1:9000"}
      - {id: p, domainName: example.com, customOriginConfig: {originSslProtocols: [TLSv1.3]}}
    defaultCacheBehavior: {targetOriginId: o}
    cacheBehaviors:
      - pathPattern: /x/*
        targetOriginId: o
        functionAssociations: [{eventType: viewer-request, functionARN: f}]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, w := range cfg.Warnings() {
		got = append(got, w.String())
	}
	want = []string{
		"distributions[1].origins[1].customOriginConfig.originSslProtocols: " + NotActedOn + " (connections to origins use TLS 1.2 or later)",
		"distributions[1].cacheBehaviors[0].functionAssociations: " + NotActedOn + " (edge functions are not executed yet)",
		"distributions[1].logging: " + NotActedOn + " (access logs come with the logging stage; nothing is written)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n got %q\nwant %q", got, want)
	}
}

// TestDocsMarkInertFields checks that docs/config.md says "not yet acted
// on" in the row of every inert field, and in no other row.
func TestDocsMarkInertFields(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // heading key + "." + field -> row
	var keys []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			keys = nil
			for _, m := range backticked.FindAllStringSubmatch(line, -1) {
				keys = append(keys, m[1])
			}
			continue
		}
		if strings.HasPrefix(line, "| `") {
			cell, _, _ := strings.Cut(line[1:], "|")
			if m := backticked.FindStringSubmatch(cell); m != nil {
				for _, k := range keys {
					rows[k+"."+m[1]] = line
				}
			}
		}
	}
	marked := 0
	for _, row := range rows {
		if strings.Contains(strings.ToLower(row), "not yet acted on") {
			marked++
		}
	}
	seen := map[string]bool{}
	for _, p := range modelPaths() {
		if !isInert(p.path) {
			continue
		}
		parent := p.path[:strings.LastIndex(p.path, ".")]
		key := parent + "." + p.field
		row, ok := rows[key]
		if !ok {
			key = p.parent.Name() + "." + p.field
			row = rows[key]
		}
		seen[key] = true
		if !strings.Contains(strings.ToLower(row), "not yet acted on") {
			t.Errorf("docs/config.md: the row of %s does not say \"not yet acted on\": %q", p.path, row)
		}
	}
	if marked != len(seen) {
		t.Errorf("docs/config.md marks %d rows \"not yet acted on\", but %d fields are inert", marked, len(seen))
	}
}
