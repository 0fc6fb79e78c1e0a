package config

import (
	"errors"
	"strings"
	"testing"
)

// TestHeaderNamesWithUnderscores: CGI, WSGI, PHP and Rack origins read "_" as
// "-", so the checks on header names do too: a forbidden name cannot come in
// spelled with "_", and X_A repeats X-A.
func TestHeaderNamesWithUnderscores(t *testing.T) {
	src := `distributions:
  - id: d
    underscoresInHeaders: true
    origins:
      - {id: o, domainName: example.com, customHeaders: [{name: Transfer_Encoding, value: x}, {name: X_Forwarded_Proto, value: y}, {name: X-A, value: a}, {name: x_a, value: b}, {name: X_Ok, value: c}]}
    defaultCacheBehavior: {targetOriginId: o}
cachePolicies:
  - id: p
    cacheKey:
      headers: {behavior: whitelist, items: [X-Custom, X_Custom]}
`
	_, err := Parse([]byte(src), "test.yaml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse = %v, want field errors", err)
	}
	want := []string{
		`distributions[0].origins[0].customHeaders[0].name (line 5): Transfer_Encoding cannot be set here`,
		`distributions[0].origins[0].customHeaders[1].name (line 5): X_Forwarded_Proto cannot be set here`,
		`distributions[0].origins[0].customHeaders[3].name (line 5): duplicate header "x_a" (also distributions[0].origins[0].customHeaders[2].name)`,
		`cachePolicies[0].cacheKey.headers.items[1] (line 10): duplicate "X_Custom" (also cachePolicies[0].cacheKey.headers.items[0])`,
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}

	cfg, err := Parse([]byte("distributions:\n  - {id: d, underscoresInHeaders: true, origins: [{id: o, domainName: example.com}], defaultCacheBehavior: {targetOriginId: o}}\n  - {id: e, origins: [{id: o, domainName: example.com}], defaultCacheBehavior: {targetOriginId: o}}\n"), "ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Distributions[0].UnderscoresInHeaders || cfg.Distributions[1].UnderscoresInHeaders {
		t.Fatalf("underscoresInHeaders: %v %v, want true (set) and false (default)", cfg.Distributions[0].UnderscoresInHeaders, cfg.Distributions[1].UnderscoresInHeaders)
	}
}

// TestPolicyNamingDroppedHeader: a policy naming a header with "_" for a
// distribution that drops such headers names a header that never arrives.
func TestPolicyNamingDroppedHeader(t *testing.T) {
	src := `distributions:
  - id: drops
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: k, originRequestPolicyId: q}
  - id: keeps
    underscoresInHeaders: true
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: k, originRequestPolicyId: q}
cachePolicies:
  - id: k
    cacheKey:
      headers: {behavior: whitelist, items: [X-Dashed, X_Custom]}
originRequestPolicies:
  - id: q
    headers: {behavior: whitelist, items: [X_Other]}
`
	_, err := Parse([]byte(src), "test.yaml")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Parse = %v, want 2 errors", err)
	}
	for _, w := range []string{
		`distributions[0].defaultCacheBehavior.cachePolicyId (line 4): cache policy "k" names header "X_Custom", which this distribution drops: header names with "_" reach it only with underscoresInHeaders: true`,
		`distributions[0].defaultCacheBehavior.originRequestPolicyId (line 4): origin request policy "q" names header "X_Other", which this distribution drops`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}
}
