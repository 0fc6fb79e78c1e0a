package config

import (
	"testing"
	"time"
)

// TestPoPDefaults: a PoP section left empty validates to the defaults of
// defaults.go, the ones pop.New also fills in.
func TestPoPDefaults(t *testing.T) {
	c := &Config{}
	_ = c.Validate() // an empty configuration may be refused; its pop section is filled in anyway
	p := c.PoP
	for _, tc := range []struct {
		field     string
		got, want any
	}{
		{"id", p.ID, DefaultPoPID},
		{"listen", p.Listen, DefaultListen},
		{"memoryCacheSize", p.MemoryCacheSize, DefaultMemoryCacheSize},
		{"maxObjectSize", p.MaxObjectSize, DefaultMaxObjectSize},
		{"maxHeaderBytes", p.MaxHeaderBytes, DefaultMaxHeaderBytes},
		{"diskCacheSize", p.DiskCacheSize, DefaultDiskCacheSize},
		{"readHeaderTimeout", time.Duration(p.ReadHeaderTimeout), DefaultReadHeaderTimeout},
		{"idleTimeout", time.Duration(p.IdleTimeout), DefaultIdleTimeout},
		{"webSocketIdleTimeout", time.Duration(p.WebSocketIdleTimeout), DefaultWebSocketIdleTimeout},
	} {
		if tc.got != tc.want {
			t.Errorf("pop.%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestCachePolicyTTLDefaults(t *testing.T) {
	min := int64(200000)
	c := &Config{CachePolicies: []CachePolicy{{ID: "plain"}, {ID: "long", MinTTL: min}}}
	_ = c.Validate()
	if p := c.CachePolicies[0]; p.DefaultTTL == nil || *p.DefaultTTL != DefaultCachePolicyTTL || p.MaxTTL == nil || *p.MaxTTL != DefaultCachePolicyMaxTTL {
		t.Errorf("plain policy: defaultTTL %v maxTTL %v", p.DefaultTTL, p.MaxTTL)
	}
	if p := c.CachePolicies[1]; p.DefaultTTL == nil || *p.DefaultTTL != min {
		t.Errorf("minTTL %d: defaultTTL %v, want minTTL", min, p.DefaultTTL)
	}
}
