package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// strata run --origin --default-ttl is bounded as defaultTTL is, and says
// so naming the flag.
func TestQuickConfigDefaultTTLBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want string // "" = accepted
	}{
		{"a day", 24 * time.Hour, ""},
		{"zero", 0, ""},
		{"the maximum", time.Duration(config.MaxSeconds) * time.Second, ""},
		{"past the maximum", time.Duration(config.MaxSeconds+1) * time.Second, "--default-ttl: 876000h0m1s is out of range 0..876000h0m0s"},
		{"negative", -time.Second, "--default-ttl: -1s is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := QuickConfig("http://127.0.0.1:9000", tc.ttl)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("--default-ttl %s: err %v, want %q", tc.ttl, err, tc.want)
			}
			if err == nil && *cfg.CachePolicies[0].DefaultTTL != int64(tc.ttl/time.Second) {
				t.Errorf("defaultTTL %d", *cfg.CachePolicies[0].DefaultTTL)
			}
		})
	}
}

func TestQuickAndDemoConfigs(t *testing.T) {
	if _, err := QuickConfig("ftp://x", time.Hour); err == nil || !strings.HasPrefix(err.Error(), "--origin: ") {
		t.Errorf("an ftp origin: %v", err)
	}
	cfg, err := Config("http://127.0.0.1:9000")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Distributions[0]
	if d.ID != "demo" || d.DomainName != "demo.strata.localhost" || d.Origins[0].URL != "http://127.0.0.1:9000" {
		t.Errorf("demo distribution %+v", d)
	}
}
