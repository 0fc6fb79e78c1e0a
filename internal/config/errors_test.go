package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// dist is a valid distribution to build bad snippets from; %s is replaced by
// extra lines of the distribution (indented by four spaces).
const dist = `distributions:
  - id: d
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
`

func TestParseErrors(t *testing.T) {
	weakKey, err := os.ReadFile("testdata/weak-rsa1024.pub")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		src   string
		want  []string // each must be one of the error lines, or a substring of one
		count int      // number of errors expected; 0 = don't check
	}{
		{
			name: "unknown field with suggestion",
			src: `distributions:
  - id: d
    origins:
      - id: o
        domainname: example.com
    defaultCacheBehavior: {targetOriginId: o}
`,
			want: []string{`distributions[0].origins[0].domainname (line 5): unknown field; did you mean "domainName"?`},
		},
		{
			name: "unknown field near miss",
			src:  dist + "    defaultRootObjet: index.html\n",
			want: []string{`distributions[0].defaultRootObjet (line 5): unknown field; did you mean "defaultRootObject"?`},
		},
		{
			name:  "unknown top-level field without suggestion",
			src:   "pop: {id: A}\nzzz: 1\n",
			want:  []string{`zzz (line 2): unknown field`},
			count: 1,
		},
		{
			name:  "list expected",
			src:   dist + "    aliases: www.example.com\n",
			want:  []string{`distributions[0].aliases (line 5): expected a list, got a string ("www.example.com")`},
			count: 1,
		},
		{
			name:  "mapping expected, and no follow-on errors",
			src:   "distributions:\n  - id: d\n    origins: {id: o}\n    defaultCacheBehavior: {targetOriginId: o}\n",
			want:  []string{`distributions[0].origins (line 3): expected a list, got a mapping`},
			count: 2, // and targetOriginId "o" is unknown
		},
		{
			name: "scalar types",
			src: dist + `    enabled: "yes"
    origins: [{id: o, domainName: example.com, connectionAttempts: "3"}]
`,
			want: []string{
				`distributions[0].enabled (line 5): expected a boolean (true or false), got a string ("yes")`,
				`distributions[0].origins (line 6): duplicate key (first set on line 3)`,
			},
		},
		{
			name: "integer expected",
			src: `distributions:
  - id: d
    origins: [{id: o, domainName: example.com, connectionAttempts: "3"}]
    defaultCacheBehavior: {targetOriginId: o, compress: 1}
    customErrorResponses: [{errorCode: 404.5}]
`,
			want: []string{
				`distributions[0].origins[0].connectionAttempts (line 3): expected an integer, got a string ("3")`,
				`distributions[0].defaultCacheBehavior.compress (line 4): expected a boolean (true or false), got an integer (1)`,
				`distributions[0].customErrorResponses[0].errorCode (line 5): expected an integer, got a number (404.5)`,
			},
			count: 3,
		},
		{
			name:  "string expected",
			src:   dist + "    comment: [a, b]\n",
			want:  []string{`distributions[0].comment (line 5): expected a string, got a list`},
			count: 1,
		},
		{
			name:  "duplicate key",
			src:   "pop:\n  id: A\n  listen: :80\n  id: B\n",
			want:  []string{`pop.id (line 4): duplicate key (first set on line 2)`},
			count: 1,
		},
		{
			name: "bad enum",
			src: `distributions:
  - id: d
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o, viewerProtocolPolicy: redirect}
    httpVersion: HTTP2
`,
			want: []string{
				`distributions[0].defaultCacheBehavior.viewerProtocolPolicy (line 4): "redirect" is not one of allow-all, redirect-to-https, https-only`,
				`distributions[0].httpVersion (line 5): "HTTP2" is not one of http1.1, http2, http2and3, http3 (did you mean "http2"?)`,
			},
			count: 2,
		},
		{
			name: "bad TTL ordering",
			src: `cachePolicies:
  - id: short
    minTTL: 100
    defaultTTL: 50
  - id: capped
    maxTTL: 60
`,
			want: []string{
				`cachePolicies[0].defaultTTL (line 4): 50 is less than minTTL (100); TTLs must satisfy minTTL <= defaultTTL <= maxTTL`,
				`cachePolicies[1].maxTTL (line 6): 60 is less than defaultTTL (86400, the default)`,
			},
			count: 2,
		},
		{
			name: "bad path patterns",
			src: dist + `    cacheBehaviors:
      - {pathPattern: "/img/%20*", targetOriginId: o}
      - {targetOriginId: o}
      - {pathPattern: "images/*", targetOriginId: o}
      - {pathPattern: "/images/*", targetOriginId: o}
`,
			want: []string{
				`distributions[0].cacheBehaviors[0].pathPattern (line 6): "/img/%20*" contains '%', which a path pattern cannot hold`,
				`distributions[0].cacheBehaviors[1].pathPattern (line 7): required`,
				`distributions[0].cacheBehaviors[3].pathPattern (line 9): duplicate path pattern "/images/*" (also distributions[0].cacheBehaviors[2])`,
			},
			count: 3,
		},
		{
			name: "path pattern on the default behavior",
			src:  "distributions:\n  - id: d\n    origins: [{id: o, domainName: example.com}]\n    defaultCacheBehavior: {targetOriginId: o, pathPattern: \"*\"}\n",
			want: []string{`distributions[0].defaultCacheBehavior.pathPattern (line 4): must not be set on the default cache behavior`},
		},
		{
			name: "unknown origin",
			src:  "distributions:\n  - id: d\n    origins: [{id: o, domainName: example.com}]\n    defaultCacheBehavior: {targetOriginId: nope}\n",
			want: []string{`distributions[0].defaultCacheBehavior.targetOriginId (line 4): "nope" is not an origin or origin group of this distribution (origins: o)`},
		},
		{
			name: "missing pieces",
			src:  "distributions:\n  - comment: nothing else\n",
			want: []string{
				`distributions[0].id (line 2): required`,
				`distributions[0].origins (line 2): at least one origin is required`,
				`distributions[0].defaultCacheBehavior (line 2): required (at least targetOriginId)`,
			},
			count: 3,
		},
		{
			name: "duplicate ids",
			src: `distributions:
  - id: d
    origins: [{id: o, domainName: a.example.com}, {id: o, domainName: b.example.com}]
    originGroups: [{id: o, primaryOriginId: o, secondaryOriginId: o, failoverCriteria: {statusCodes: [500]}}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: d
    domainName: other.example.com
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
cachePolicies: [{id: p}, {id: p}]
`,
			want: []string{
				`distributions[0].origins[1].id (line 3): duplicate id "o" (also distributions[0].origins[0]; origins and origin groups share ids)`,
				`distributions[0].originGroups[0].id (line 4): duplicate id "o"`,
				`distributions[0].originGroups[0].secondaryOriginId (line 4): must differ from primaryOriginId ("o")`,
				`distributions[1].id (line 6): duplicate id "d" (also distributions[0])`,
				`cachePolicies[1].id (line 10): duplicate id "p" (also cachePolicies[0])`,
			},
		},
		{
			name: "hostnames unique across distributions",
			src: `distributions:
  - id: a
    aliases: [www.example.com, "*.example.com", b.strata.localhost]
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: b
    aliases: [WWW.example.com, "a.*.example.com", "http://x.example.com"]
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
`,
			want: []string{
				`distributions[1].domainName (line 6): "b.strata.localhost" (the default domain name, from id) is already used by distributions[0].aliases[2]`,
				`distributions[1].aliases[0] (line 7): "www.example.com" is already used by distributions[0].aliases[0]`,
				`distributions[1].aliases[1] (line 7): "a.*.example.com": a wildcard is allowed only as the whole first label`,
				`distributions[1].aliases[2] (line 7): "http://x.example.com" must be a hostname only`,
			},
			count: 4,
		},
		{
			name: "bad sizes",
			src:  "pop:\n  memoryCacheSize: 12XB\n  maxObjectSize: 1.5\n  maxHeaderBytes: 10MiB\n",
			want: []string{
				`pop.memoryCacheSize (line 2): "12XB" has an unknown unit "XB" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`,
				`pop.maxObjectSize (line 3): "1.5" is not a whole number of bytes`,
				`pop.maxHeaderBytes (line 4): 10MiB is out of range 1KiB..1MiB`,
			},
			count: 3,
		},
		{
			name: "size type and limits",
			src:  "pop:\n  memoryCacheSize: true\n  maxObjectSize: -5\n",
			want: []string{
				`pop.memoryCacheSize (line 2): expected a size (bytes, or a string such as "256MiB"), got a boolean (true)`,
				`pop.maxObjectSize (line 3): "-5" is not a size`,
			},
			count: 2,
		},
		{
			name: "bad durations",
			src: `pop:
  readHeaderTimeout: 10 parsecs
  idleTimeout: "1.5"
distributions:
  - id: d
    origins: [{id: o, domainName: example.com, connectionTimeout: 30s, customOriginConfig: {originReadTimeout: -1s}}]
    defaultCacheBehavior: {targetOriginId: o}
`,
			want: []string{
				`pop.readHeaderTimeout (line 2): "10 parsecs" is not a duration`,
				`pop.idleTimeout (line 3): "1.5" has no unit (write whole seconds or a duration such as 1.5s)`,
				`distributions[0].origins[0].connectionTimeout (line 6): 30s is out of range 1s..10s`,
				`distributions[0].origins[0].customOriginConfig.originReadTimeout (line 6): "-1s" is negative`,
			},
			count: 4,
		},
		{
			name: "methods",
			src: `distributions:
  - id: d
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o, allowedMethods: [GET, HEAD], cachedMethods: [GET, HEAD, OPTIONS]}
    cacheBehaviors:
      - {pathPattern: /a, targetOriginId: o, allowedMethods: [GET, POST]}
      - {pathPattern: /b, targetOriginId: o, allowedMethods: [get, HEAD, HEAD]}
      - {pathPattern: /c, targetOriginId: o, cachedMethods: [GET]}
`,
			want: []string{
				`distributions[0].defaultCacheBehavior.cachedMethods (line 4): must be a subset of allowedMethods, which does not have OPTIONS`,
				`distributions[0].cacheBehaviors[0].allowedMethods (line 6): [GET, POST] is not one of CloudFront's sets: [GET, HEAD], [GET, HEAD, OPTIONS], [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]`,
				`distributions[0].cacheBehaviors[1].allowedMethods[0] (line 7): "get" is not one of GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE (did you mean "GET"?)`,
				`distributions[0].cacheBehaviors[1].allowedMethods[2] (line 7): duplicate "HEAD" (also distributions[0].cacheBehaviors[1].allowedMethods[1])`,
				`distributions[0].cacheBehaviors[2].cachedMethods (line 8): [GET] is not [GET, HEAD] or [GET, HEAD, OPTIONS]`,
			},
			count: 5,
		},
		{
			name: "certificate and key go together",
			src: `distributions:
  - id: a
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    viewerCertificate: {certificateFile: a.crt}
  - id: b
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    viewerCertificate: {keyFile: b.key, minimumProtocolVersion: TLSv1.2}
  - id: c
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    viewerCertificate: {certificateFile: c.crt, keyFile: c.key, cloudFrontDefaultCertificate: true}
`,
			want: []string{
				`distributions[0].viewerCertificate.keyFile (line 5): required with certificateFile`,
				`distributions[1].viewerCertificate.certificateFile (line 9): required with keyFile`,
				`distributions[1].viewerCertificate.minimumProtocolVersion (line 9): "TLSv1.2" is not one of TLSv1, TLSv1_2016, TLSv1.1_2016, TLSv1.2_2018, TLSv1.2_2019, TLSv1.2_2021, TLSv1.2_2025, TLSv1.3_2025`,
				`distributions[2].viewerCertificate.cloudFrontDefaultCertificate (line 13): must be false when certificateFile is given`,
			},
			count: 4,
		},
		{
			name: "geo restriction",
			src: `distributions:
  - id: a
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    restrictions: {geoRestriction: {restrictionType: allow, locations: [us, XX, USA, US]}}
  - id: b
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    restrictions: {geoRestriction: {restrictionType: blacklist}}
  - id: c
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    restrictions: {geoRestriction: {restrictionType: deny, locations: [DE]}}
  - id: e
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
    restrictions: {geoRestriction: {locations: [DE]}}
`,
			want: []string{
				`distributions[0].restrictions.geoRestriction.locations[1] (line 5): "XX" is not an ISO 3166-1 alpha-2 country code`,
				`distributions[0].restrictions.geoRestriction.locations[2] (line 5): "USA" is not an ISO 3166-1 alpha-2 country code`,
				`distributions[0].restrictions.geoRestriction.locations[3] (line 5): duplicate country "US"`,
				`distributions[1].restrictions.geoRestriction.locations (line 9): at least one country code is required for a blacklist`,
				`distributions[2].restrictions.geoRestriction.restrictionType (line 13): "deny" is not one of none, whitelist, blacklist, allow, block`,
				`distributions[3].restrictions.geoRestriction.locations (line 17): must be empty when restrictionType is none`,
			},
			count: 6,
		},
		{
			name: "public keys",
			src: "publicKeys:\n" +
				"  - {id: garbage, encodedKey: not a key}\n" +
				"  - id: private\n    encodedKey: |\n      -----BEGIN PRIVATE KEY-----\n      AAAA\n      -----END PRIVATE KEY-----\n" +
				"  - id: weak\n    encodedKey: |\n" + indent(string(weakKey), "      ") +
				"  - id: broken\n    encodedKey: |\n      -----BEGIN PUBLIC KEY-----\n      AAAA\n      -----END PUBLIC KEY-----\n" +
				"  - id: missing\n" +
				"keyGroups:\n  - {id: g, items: [garbage, nope]}\n  - {id: h}\n",
			want: []string{
				`publicKeys[0].encodedKey (line 2): not a PEM block (expected -----BEGIN PUBLIC KEY-----)`,
				`publicKeys[1].encodedKey (line 4): PEM block is "PRIVATE KEY", expected "PUBLIC KEY" (never give a private key)`,
				`publicKeys[2].encodedKey (line 9): RSA key has 1024 bits, expected 2048 to 4096`,
				`publicKeys[3].encodedKey (line 17): PEM block does not hold a public key`,
				`publicKeys[4].encodedKey (line 21): required (a PEM public key)`,
				`keyGroups[0].items[1] (line 23): "nope" is not a public key (declare it under publicKeys)`,
				`keyGroups[1].items (line 24): at least one public key id is required`,
			},
			count: 7,
		},
		{
			name: "policy references",
			src: `distributions:
  - id: d
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior:
      targetOriginId: o
      cachePolicyId: Managed-CachingOptimised
      originRequestPolicyId: all-viewer
      responseHeadersPolicyId: cors
      trustedKeyGroups: [signers]
cachePolicies: [{id: Managed-Mine}]
`,
			want: []string{
				`distributions[0].defaultCacheBehavior.cachePolicyId (line 6): "Managed-CachingOptimised" is not a cache policy (declare it under cachePolicies, or use one of Managed-CachingOptimized,`,
				`distributions[0].defaultCacheBehavior.originRequestPolicyId (line 7): "all-viewer" is not an origin request policy`,
				`distributions[0].defaultCacheBehavior.responseHeadersPolicyId (line 8): "cors" is not a response headers policy`,
				`distributions[0].defaultCacheBehavior.trustedKeyGroups[0] (line 9): "signers" is not a key group (declare it under keyGroups)`,
				`cachePolicies[0].id (line 10): "Managed-Mine" uses the prefix "Managed-", which is reserved for managed policies`,
			},
			count: 5,
		},
		{
			name: "origin groups",
			src: dist + `    originGroups:
      - {id: g1, primaryOriginId: o, secondaryOriginId: x, failoverCriteria: {statusCodes: [500, 501, 500]}}
      - {id: g2, primaryOriginId: g1, secondaryOriginId: o}
`,
			want: []string{
				`distributions[0].originGroups[0].secondaryOriginId (line 6): "x" is not an origin of this distribution (origins: o)`,
				`distributions[0].originGroups[0].failoverCriteria.statusCodes[1] (line 6): 501 is not one of 400, 403, 404, 416, 500, 502, 503, 504`,
				`distributions[0].originGroups[0].failoverCriteria.statusCodes[2] (line 6): duplicate status code 500`,
				`distributions[0].originGroups[1].primaryOriginId (line 7): "g1" is not an origin of this distribution (origin groups cannot be nested)`,
				`distributions[0].originGroups[1].failoverCriteria.statusCodes (line 7): at least one status code is required`,
			},
			count: 5,
		},
		{
			name: "origins",
			src: `distributions:
  - id: d
    origins:
      - {id: a, url: "ftp://example.com"}
      - {id: b, url: "http://example.com:8080/x", domainName: other.example.com, originPath: /y, customOriginConfig: {httpPort: 81, originProtocolPolicy: https-only}}
      - {id: c, domainName: "example.com:8080", originPath: "/trailing/"}
      - {id: e}
      - {id: f, domainName: example.com, customHeaders: [{name: Host, value: x}, {name: "X Bad", value: y}, {name: X-A, value: "a\nb"}, {name: x-a, value: z}]}
      - {id: g, domainName: example.com, connectionAttempts: 4, originShield: {enabled: true}}
      - {id: h, url: "https://s3.example.com", s3OriginConfig: {bucket: Bad_Bucket, signingBehavior: always}}
      - {id: i, s3OriginConfig: {bucket: good-bucket, originAccessControl: {signingBehavior: always, accessKeyId: A, accessKeyIdEnv: B}}, customOriginConfig: {}}
      - {id: "has space", domainName: example.com}
      - {id: j, s3OriginConfig: {bucket: good-bucket, originAccessControl: {region: eu-west-1}}}
      - {id: k, domainName: example.com, customOriginConfig: {originAccessControl: {signingBehavior: always, accessKeyId: A, region: "bad region"}}}
      - {id: l, s3OriginConfig: {bucket: good-bucket, endpoint: "http://127.0.0.1:7070"}}
    defaultCacheBehavior: {targetOriginId: a}
`,
			want: []string{
				`distributions[0].origins[0].url (line 4): "ftp://example.com" is not an http:// or https:// URL with a host`,
				`distributions[0].origins[1].domainName (line 5): "other.example.com" disagrees with url (which says "example.com"); give one or the other`,
				`distributions[0].origins[1].originPath (line 5): "/y" disagrees with url (which says "/x")`,
				`distributions[0].origins[1].customOriginConfig.originProtocolPolicy (line 5): "https-only" disagrees with url (http:// means http-only)`,
				`distributions[0].origins[1].customOriginConfig.httpPort (line 5): 81 disagrees with url (port 8080)`,
				`distributions[0].origins[2].domainName (line 6): "example.com:8080" must not contain a port`,
				`distributions[0].origins[2].originPath (line 6): "/trailing/" must not end with "/" (write "/trailing")`,
				`distributions[0].origins[3].domainName (line 7): required (or give url)`,
				`distributions[0].origins[4].customHeaders[0].name (line 8): Host cannot be set here`,
				`distributions[0].origins[4].customHeaders[1].name (line 8): "X Bad" is not a valid header name`,
				`distributions[0].origins[4].customHeaders[2].value (line 8): must not contain control characters such as CR or LF`,
				`distributions[0].origins[4].customHeaders[3].name (line 8): duplicate header "x-a" (also distributions[0].origins[4].customHeaders[2].name)`,
				`distributions[0].origins[5].connectionAttempts (line 9): 4 is out of range 1..3`,
				`distributions[0].origins[5].originShield.region (line 9): required when originShield is enabled`,
				`distributions[0].origins[6].s3OriginConfig.signingBehavior (line 10): unknown field; did you mean "originAccessControl.signingBehavior"?`,
				`distributions[0].origins[6].url (line 10): url is for custom origins; for S3 set s3OriginConfig.endpoint`,
				`distributions[0].origins[6].s3OriginConfig.bucket (line 10): "Bad_Bucket" is not a bucket name`,
				`distributions[0].origins[7] (line 11): customOriginConfig and s3OriginConfig are mutually exclusive`,
				`distributions[0].origins[7].s3OriginConfig.originAccessControl.accessKeyId (line 11): give accessKeyId or accessKeyIdEnv, not both`,
				`distributions[0].origins[7].s3OriginConfig.originAccessControl.secretAccessKey (line 11): required when signingBehavior is always (or give secretAccessKeyEnv)`,
				`distributions[0].origins[8].id (line 12): "has space" must be printable ASCII without spaces`,
				`distributions[0].origins[9].s3OriginConfig.originAccessControl.region (line 13): is for custom origins; an S3 origin signs for s3OriginConfig.region`,
				`distributions[0].origins[10].customOriginConfig.originAccessControl.secretAccessKey (line 14): required when signingBehavior is always (or give secretAccessKeyEnv)`,
				`distributions[0].origins[10].customOriginConfig.originAccessControl.region (line 14): "bad region" is not a region name`,
				`distributions[0].origins[11].s3OriginConfig.pathStyle (line 15): must be true for endpoint "http://127.0.0.1:7070"`,
			},
			count: 25,
		},
		{
			name: "custom error responses and root object",
			src: dist + `    defaultRootObject: /index.html
    customErrorResponses:
      - {errorCode: 200}
      - {errorCode: 404, responseCode: 200}
      - {errorCode: 404, responsePagePath: errors/404.html, errorCachingMinTTL: -1}
`,
			want: []string{
				`distributions[0].defaultRootObject (line 5): "/index.html" must not start with "/" (write "index.html")`,
				`distributions[0].customErrorResponses[0].errorCode (line 7): 200 is not an error status 400..599`,
				`distributions[0].customErrorResponses[1].responsePagePath (line 8): required when responseCode is set`,
				`distributions[0].customErrorResponses[2].errorCode (line 9): duplicate error code 404 (also distributions[0].customErrorResponses[1])`,
				`distributions[0].customErrorResponses[2].responsePagePath (line 9): "errors/404.html" must start with "/"`,
				`distributions[0].customErrorResponses[2].errorCachingMinTTL (line 9): -1 is negative`,
			},
			count: 6,
		},
		{
			name: "key lists",
			src: `cachePolicies:
  - id: p
    cacheKey:
      headers: {behavior: all}
      cookies: {behavior: whitelist}
      queryStrings: {behavior: none, items: [a]}
originRequestPolicies:
  - id: q
    headers: {behavior: allViewerAndWhitelistCloudFront, items: [User-Agent, "Bad Header"]}
    cookies: {behavior: allExcept, items: [a, a]}
`,
			want: []string{
				`cachePolicies[0].cacheKey.headers.behavior (line 4): "all" is not one of none, whitelist`,
				`cachePolicies[0].cacheKey.cookies.items (line 5): at least one item is required when behavior is whitelist`,
				`cachePolicies[0].cacheKey.queryStrings.items (line 6): must be empty when behavior is none`,
				`originRequestPolicies[0].headers.items[0] (line 9): "User-Agent" is not a CloudFront-* header`,
				`originRequestPolicies[0].headers.items[1] (line 9): "Bad Header" is not a valid header name`,
				`originRequestPolicies[0].cookies.items[1] (line 10): duplicate "a" (also originRequestPolicies[0].cookies.items[0])`,
			},
			count: 6,
		},
		{
			name: "response headers policies",
			src: `responseHeadersPolicies:
  - id: empty
  - id: r
    cors:
      accessControlAllowOrigins: ["*", "https://example.com/path"]
      accessControlAllowCredentials: true
      accessControlAllowMethods: [ALL, GET]
    securityHeaders:
      frameOptions: {frameOption: deny}
      referrerPolicy: {}
      xssProtection: {modeBlock: true}
    customHeaders: [{header: X-A, value: a}, {header: Content-Length, value: "1"}]
    removeHeaders: [x-a, Via]
    serverTiming: {enabled: true, samplingRate: 101}
`,
			want: []string{
				`responseHeadersPolicies[0] (line 2): the policy does nothing`,
				`responseHeadersPolicies[1].cors.accessControlAllowOrigins[0] (line 5): "*" cannot be used with accessControlAllowCredentials`,
				`responseHeadersPolicies[1].cors.accessControlAllowOrigins[1] (line 5): "https://example.com/path" is not "*" or an origin`,
				`responseHeadersPolicies[1].cors.accessControlAllowMethods (line 7): ALL stands alone`,
				`responseHeadersPolicies[1].securityHeaders.frameOptions.frameOption (line 9): "deny" is not one of DENY, SAMEORIGIN (did you mean "DENY"?)`,
				`responseHeadersPolicies[1].securityHeaders.referrerPolicy.referrerPolicy (line 10): required`,
				`responseHeadersPolicies[1].securityHeaders.xssProtection (line 11): modeBlock and reportUri need protection: true`,
				`responseHeadersPolicies[1].customHeaders[1].header (line 12): Content-Length cannot be set here`,
				`responseHeadersPolicies[1].removeHeaders[0] (line 13): x-a is also added by responseHeadersPolicies[1].customHeaders[0].header`,
				`responseHeadersPolicies[1].removeHeaders[1] (line 13): Via cannot be set here`,
				`responseHeadersPolicies[1].serverTiming.samplingRate (line 14): 101 is out of range 0..100`,
			},
			count: 11,
		},
		{
			name: "response headers policy values",
			src: `responseHeadersPolicies:
  - id: r
    cors:
      accessControlAllowOrigins: ["https://a.*.example.com", "https://example.*", "example.com", "https://x.com:0", "https://ok.com", "https://OK.com", "http://*.example.com:8080"]
      accessControlAllowHeaders: ["*", "Bad Header"]
      accessControlAllowMethods: [GET, CONNECT]
      accessControlMaxAgeSec: -1
    securityHeaders:
      strictTransportSecurity: {accessControlMaxAgeSec: -5}
      contentSecurityPolicy: {contentSecurityPolicy: "` + strings.Repeat("a", 1784) + `"}
      xssProtection: {protection: true, reportUri: "not a uri"}
    customHeaders: [{header: X-Strata-Pop, value: x}, {header: X-Ok, value: "a\u0001b"}]
    removeHeaders: [X-Cache, x-amz-cf-pop, X-Strata-Request-Id, X-Amzn-RequestId, Server, server]
    serverTiming: {enabled: true, samplingRate: 12.34567}
`,
			want: []string{
				`responseHeadersPolicies[0].cors.accessControlAllowOrigins[0] (line 4): "https://a.*.example.com": "*" may only stand for the leftmost labels`,
				`responseHeadersPolicies[0].cors.accessControlAllowOrigins[1] (line 4): "https://example.*": "*" may only stand for the leftmost labels`,
				`responseHeadersPolicies[0].cors.accessControlAllowOrigins[2] (line 4): "example.com" is not "*" or an origin`,
				`responseHeadersPolicies[0].cors.accessControlAllowOrigins[3] (line 4): "https://x.com:0": port "0" is not a number 1..65535`,
				`responseHeadersPolicies[0].cors.accessControlAllowOrigins[5] (line 4): duplicate origin "https://OK.com" (also responseHeadersPolicies[0].cors.accessControlAllowOrigins[4])`,
				`responseHeadersPolicies[0].cors.accessControlAllowHeaders[1] (line 5): "Bad Header" is not a valid header name`,
				`responseHeadersPolicies[0].cors.accessControlAllowMethods[1] (line 6): "CONNECT" is not one of`,
				`responseHeadersPolicies[0].cors.accessControlMaxAgeSec (line 7): -1 is negative`,
				`responseHeadersPolicies[0].securityHeaders.strictTransportSecurity.accessControlMaxAgeSec (line 9): -5 is negative`,
				`responseHeadersPolicies[0].securityHeaders.contentSecurityPolicy.contentSecurityPolicy (line 10): is 1784 characters long; the limit is 1783`,
				`responseHeadersPolicies[0].securityHeaders.xssProtection.reportUri (line 11): "not a uri" is not a URL`,
				`responseHeadersPolicies[0].customHeaders[0].header (line 12): X-Strata-Pop cannot be set here`,
				`responseHeadersPolicies[0].customHeaders[1].value (line 12): must not contain control characters`,
				`responseHeadersPolicies[0].removeHeaders[0] (line 13): X-Cache cannot be set here`,
				`responseHeadersPolicies[0].removeHeaders[1] (line 13): x-amz-cf-pop cannot be set here`,
				`responseHeadersPolicies[0].removeHeaders[2] (line 13): X-Strata-Request-Id cannot be set here`,
				`responseHeadersPolicies[0].removeHeaders[3] (line 13): X-Amzn-RequestId cannot be set here`,
				`responseHeadersPolicies[0].removeHeaders[5] (line 13): duplicate header "server"`,
				`responseHeadersPolicies[0].serverTiming.samplingRate (line 14): 12.34567 has more than four decimal places`,
			},
			count: 19,
		},
		{
			name: "function associations",
			src: dist + `    cacheBehaviors:
      - pathPattern: /f
        targetOriginId: o
        functionAssociations:
          - {eventType: viewer-request, functionARN: f1}
          - {eventType: viewer-request, functionARN: f2}
          - {eventType: on-request}
`,
			want: []string{
				`distributions[0].cacheBehaviors[0].functionAssociations[1].eventType (line 10): duplicate event type "viewer-request"`,
				`distributions[0].cacheBehaviors[0].functionAssociations[2].eventType (line 11): "on-request" is not one of viewer-request, viewer-response, origin-request, origin-response`,
				`distributions[0].cacheBehaviors[0].functionAssociations[2].functionARN (line 11): required`,
			},
			count: 3,
		},
		{
			name: "pop",
			src:  "pop: {id: \"bad id\", listen: \"8080\"}\n",
			want: []string{
				`pop.id (line 1): "bad id" is not a valid PoP id`,
				`pop.listen (line 1): "8080" is not host:port`,
			},
			count: 2,
		},
		{
			name: "multiple errors at once, in line order",
			src: `pop:
  listen: nowhere
distributions:
  - id: d
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o, viewerProtocolPolicy: redirect}
    priceClass: PriceClass_50
    cacheBehaviors:
      - {pathPattern: /a, targetOriginId: missing, cachePolicyID: x}
`,
			want: []string{
				`pop.listen (line 2): "nowhere" is not host:port`,
				`distributions[0].defaultCacheBehavior.viewerProtocolPolicy (line 6): "redirect" is not one of allow-all, redirect-to-https, https-only`,
				`distributions[0].priceClass (line 7): "PriceClass_50" is not one of PriceClass_All, PriceClass_200, PriceClass_100`,
				`distributions[0].cacheBehaviors[0].cachePolicyID (line 9): unknown field; did you mean "cachePolicyId"?`,
				`distributions[0].cacheBehaviors[0].targetOriginId (line 9): "missing" is not an origin or origin group`,
			},
			count: 5,
		},
		{
			name:  "YAML syntax error",
			src:   "pop:\n  id: A\n  listen: x\n    idleTimeout: 5s\n",
			want:  []string{`line 4: invalid YAML: mapping values are not allowed in this context`},
			count: 1,
		},
		{
			name:  "JSON syntax error",
			src:   "{\n \"pop\": {\"id\": \"A\"}\n \"distributions\": []\n}\n",
			want:  []string{`line 2: invalid YAML: did not find expected ',' or '}'`},
			count: 1,
		},
		{
			name:  "tabs for indentation",
			src:   "pop:\n\tid: A\n",
			want:  []string{`line 2: invalid YAML: found character that cannot start any token`},
			count: 1,
		},
		{
			name:  "two documents",
			src:   "pop: {id: A}\n---\npop: {id: B}\n",
			want:  []string{`line 2: a configuration is a single YAML document; remove the second document (after "---")`},
			count: 1,
		},
		{
			name:  "not a mapping",
			src:   "- a\n- b\n",
			want:  []string{`line 1: a configuration is a mapping (pop:, distributions:, ...), got a list`},
			count: 1,
		},
		{
			name:  "JSON errors have lines too",
			src:   "{\n  \"pop\": {\n    \"id\": \"A\",\n    \"lisen\": \":80\"\n  }\n}\n",
			want:  []string{`pop.lisen (line 4): unknown field; did you mean "listen"?`},
			count: 1,
		},
		{
			name:  "unsupported tag",
			src:   "pop: {id: !secret A}\n",
			want:  []string{`pop.id (line 1): unsupported YAML tag !secret`},
			count: 1,
		},
		{
			name:  "merge key cycle",
			src:   "pop: &p {<<: *p}\n",
			want:  []string{"a merge key (<<) refers to the mapping that contains it"},
			count: 1,
		},
		{
			name:  "non-string key",
			src:   "pop: {[a]: 1}\n",
			want:  []string{`pop (line 1): a mapping key must be a string, got a list`},
			count: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), "test.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T does not wrap Errors: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "test.yaml: ") {
				t.Errorf("error does not start with the name: %q", err)
			}
			for _, w := range tt.want {
				found := false
				for _, e := range errs {
					if strings.Contains(e.Error(), w) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("missing error %q", w)
				}
			}
			if tt.count > 0 && len(errs) != tt.count {
				t.Errorf("%d errors, want %d", len(errs), tt.count)
			}
			if t.Failed() {
				t.Logf("got:\n%v", errs)
			}
			for i := 1; i < len(errs); i++ {
				if errs[i].Line != 0 && errs[i].Line < errs[i-1].Line {
					t.Errorf("errors not in line order:\n%v", errs)
					break
				}
			}
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, prefix) + "\n"
}

func TestValidateReportsWithoutLines(t *testing.T) {
	c := &Config{Distributions: []Distribution{{ID: "d", Origins: []Origin{{ID: "o", DomainName: "example.com"}},
		DefaultCacheBehavior: CacheBehavior{TargetOriginID: "p"}, PriceClass: "cheap"}}}
	err := c.Validate()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Validate = %v, want 2 errors", err)
	}
	want := `distributions[0].defaultCacheBehavior.targetOriginId: "p" is not an origin or origin group of this distribution (origins: o)` + "\n" +
		`distributions[0].priceClass: "cheap" is not one of PriceClass_All, PriceClass_200, PriceClass_100`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}

func TestFieldErrorString(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{Path: "a.b[1]", Line: 14, Msg: "bad"}, "a.b[1] (line 14): bad"},
		{FieldError{Path: "a.b[1]", Msg: "bad"}, "a.b[1]: bad"},
		{FieldError{Line: 3, Msg: "bad"}, "line 3: bad"},
		{FieldError{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
	one, err := Parse([]byte("pop: {lsten: x}\n"), "a.yaml")
	if one != nil || err.Error() != `a.yaml: pop.lsten (line 1): unknown field; did you mean "listen"?` {
		t.Errorf("one error: %q", err)
	}
	_, err = Parse([]byte("pop: {lsten: x, iD: y}\n"), "")
	want := "config: 2 problems:\n" + `pop.lsten (line 1): unknown field; did you mean "listen"?` + "\n" + `pop.iD (line 1): unknown field; did you mean "id"?`
	if err.Error() != want {
		t.Errorf("two errors:\n%s\nwant\n%s", err, want)
	}
}
