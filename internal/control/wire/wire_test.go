package wire

import (
	"slices"
	"testing"
)

// The bucket names are the contract with PoPs already deployed: a kind's
// bucket must not change name.
func TestConfigBuckets(t *testing.T) {
	want := []string{
		"strata_cache_policies", "strata_origin_request_policies", "strata_response_headers_policies",
		"strata_public_keys", "strata_key_groups", "strata_ipsets", "strata_regexpatternsets", "strata_webacls",
		"strata_distributions",
	}
	if !slices.Equal(ConfigBuckets, want) {
		t.Errorf("ConfigBuckets = %q, want %q", ConfigBuckets, want)
	}
}
