package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestBounds: every duration, size and count of seconds of the model is
// refused with its field path when out of range (a TTL past 2^63 ns used to
// pass and turn caching off), and accepted at the edge of its range.
func TestBounds(t *testing.T) {
	const big = "10000000000" // 1e10 s: past the 9.2e9 s of a time.Duration
	max := strconv.FormatInt(MaxSeconds, 10)
	over := strconv.FormatInt(MaxSeconds+1, 10)
	policy := func(ttls string) string {
		return dist + "    cacheBehaviors: []\ncachePolicies: [{id: p, " + ttls + "}]\n"
	}
	rhp := func(body string) string { return "responseHeadersPolicies: [{id: r, " + body + "}]\n" }
	origin := func(fields string) string {
		return "distributions:\n  - id: d\n    origins: [{id: o, domainName: example.com, " + fields + "}]\n    defaultCacheBehavior: {targetOriginId: o}\n"
	}
	for _, tc := range []struct {
		name, doc string
		path, msg string // "" path: accepted
	}{
		{"minTTL 1e10", policy("minTTL: " + big), "cachePolicies[0].minTTL", "out of range 0..3153600000"},
		{"defaultTTL 1e10", policy("defaultTTL: " + big), "cachePolicies[0].defaultTTL", "out of range"},
		{"maxTTL 1e10", policy("maxTTL: " + big), "cachePolicies[0].maxTTL", "out of range"},
		{"maxTTL max int64", policy("maxTTL: 9223372036854775807"), "cachePolicies[0].maxTTL", "out of range"},
		{"maxTTL one past", policy("maxTTL: " + over), "cachePolicies[0].maxTTL", "out of range"},
		{"TTLs at the bound", policy("minTTL: " + max + ", defaultTTL: " + max + ", maxTTL: " + max), "", ""},
		{"negative minTTL", policy("minTTL: -1"), "cachePolicies[0].minTTL", "negative"},
		{"defaultStaleIfError 1e10", policy("defaultStaleIfError: " + big), "cachePolicies[0].defaultStaleIfError", "out of range"},
		{"negative defaultStaleIfError", policy("defaultStaleIfError: -1"), "cachePolicies[0].defaultStaleIfError", "negative"},
		{"defaultStaleIfError at the bound", policy("defaultStaleIfError: " + max), "", ""},
		{"errorCachingMinTTL 1e10", dist + "    customErrorResponses: [{errorCode: 404, errorCachingMinTTL: " + big + "}]\n",
			"distributions[0].customErrorResponses[0].errorCachingMinTTL", "out of range"},
		{"errorCachingMinTTL at the bound", dist + "    customErrorResponses: [{errorCode: 404, errorCachingMinTTL: " + max + "}]\n", "", ""},
		{"CORS max-age", rhp("cors: {accessControlAllowOrigins: ['*'], accessControlMaxAgeSec: " + big + "}"),
			"responseHeadersPolicies[0].cors.accessControlMaxAgeSec", "out of range"},
		{"HSTS max-age", rhp("securityHeaders: {strictTransportSecurity: {accessControlMaxAgeSec: " + big + "}}"),
			"responseHeadersPolicies[0].securityHeaders.strictTransportSecurity.accessControlMaxAgeSec", "out of range"},
		{"memoryCacheSize", "pop: {memoryCacheSize: 2TiB}\n", "pop.memoryCacheSize", "out of range 1MiB..1TiB"},
		{"memoryCacheSize at the bound", "pop: {memoryCacheSize: 1TiB}\n", "", ""},
		{"memoryCacheSize too small", "pop: {memoryCacheSize: 1KiB, maxObjectSize: 1KiB}\n", "pop.memoryCacheSize", "out of range"},
		{"diskCacheSize", "pop: {diskCacheSize: 2048TiB}\n", "pop.diskCacheSize", "out of range 1MiB..1024TiB"},
		{"maxHeaderBytes", "pop: {maxHeaderBytes: 2MiB}\n", "pop.maxHeaderBytes", "out of range 1KiB..1MiB"},
		{"maxObjectSize above memoryCacheSize", "pop: {maxObjectSize: 512MiB}\n", "pop.maxObjectSize", "larger than memoryCacheSize"},
		{"readHeaderTimeout", "pop: {readHeaderTimeout: 11m}\n", "pop.readHeaderTimeout", "out of range 1ms..10m0s"},
		{"idleTimeout", "pop: {idleTimeout: 25h}\n", "pop.idleTimeout", "out of range"},
		{"webSocketIdleTimeout in seconds", "pop: {webSocketIdleTimeout: " + big[:6] + "}\n", "pop.webSocketIdleTimeout", "out of range"},
		{"requestBodyTimeout", "pop: {requestBodyTimeout: 2h}\n", "pop.requestBodyTimeout", "out of range 1ms..1h"},
		{"viewerWriteTimeout", "pop: {viewerWriteTimeout: 50ms}\n", "pop.viewerWriteTimeout", "out of range 100ms..10m0s"},
		{"maxConnectionsPerAddress negative", "pop: {maxConnectionsPerAddress: -1}\n", "pop.maxConnectionsPerAddress", "out of range 1..1000000"},
		{"maxConnections", "pop: {maxConnections: 20000000}\n", "pop.maxConnections", "out of range 1..10000000"},
		{"maxConnectionsPerAddress above maxConnections", "pop: {maxConnections: 100}\n", "pop.maxConnectionsPerAddress", "larger than maxConnections (100)"},
		{"connection limits at their bounds", "pop: {maxConnections: 10000000, maxConnectionsPerAddress: 1000000}\n", "", ""},
		{"duration past int64 nanoseconds", "pop: {idleTimeout: " + big + "}\n", "pop.idleTimeout", "too large"},
		{"connectionTimeout", origin("connectionTimeout: 11s"), "distributions[0].origins[0].connectionTimeout", "out of range 1s..10s"},
		{"originReadTimeout", origin("customOriginConfig: {originReadTimeout: 181s}"),
			"distributions[0].origins[0].customOriginConfig.originReadTimeout", "out of range 1s..3m0s"},
		{"originKeepaliveTimeout", origin("customOriginConfig: {originKeepaliveTimeout: 1h}"),
			"distributions[0].origins[0].customOriginConfig.originKeepaliveTimeout", "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "")
			if tc.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want field errors", err)
			}
			for _, e := range errs {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) {
					return
				}
			}
			t.Fatalf("got %v, want %s: ...%s...", err, tc.path, tc.msg)
		})
	}
}
