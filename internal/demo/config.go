package demo

import (
	"fmt"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// allMethods are the methods the quick and demo distributions allow.
var allMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}

// QuickConfig is what `strata run --origin URL` serves: one distribution
// ("quick") in front of one origin, CloudFront's TTLs with defaultTTL when
// the origin gives none, every query string in the key, every viewer
// header but Host forwarded. The errors name the flags.
func QuickConfig(originURL string, defaultTTL time.Duration) (*config.Config, error) {
	ttl := int64(defaultTTL / time.Second)
	if defaultTTL < 0 || ttl > config.MaxSeconds {
		return nil, fmt.Errorf("--default-ttl: %s is out of range 0..%s (100 years)", defaultTTL, time.Duration(config.MaxSeconds)*time.Second)
	}
	maxTTL := max(ttl, 31536000)
	cfg := &config.Config{
		Distributions: []config.Distribution{{
			ID:          "quick",
			Comment:     "strata run --origin",
			HTTPVersion: config.HTTPVersion2And3,
			Origins:     []config.Origin{{ID: "origin", URL: originURL}},
			DefaultCacheBehavior: config.CacheBehavior{
				TargetOriginID:        "origin",
				AllowedMethods:        allMethods,
				CachePolicyID:         "quick",
				OriginRequestPolicyID: "Managed-AllViewerExceptHostHeader",
				Compress:              true,
			},
		}},
		CachePolicies: []config.CachePolicy{{
			ID: "quick", MinTTL: 0, DefaultTTL: &ttl, MaxTTL: &maxTTL,
			CacheKey: config.CacheKeyConfig{
				QueryStrings:               config.KeyList{Behavior: "all"},
				EnableAcceptEncodingGzip:   true,
				EnableAcceptEncodingBrotli: true,
			},
		}},
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--origin: %w", err)
	}
	return cfg, nil
}

// Config is the distribution `strata run` serves with no arguments
// ("demo", on demo.strata.localhost), in front of the demo origin at
// originURL.
func Config(originURL string) (*config.Config, error) {
	cfg, err := QuickConfig(originURL, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	d := &cfg.Distributions[0]
	d.ID, d.DomainName, d.Comment = "demo", "demo.strata.localhost", "the built-in demo"
	// The DNS router answers demo.strata.localhost (dig @127.0.0.1 -p 5353).
	cfg.DNS.Zone = "strata.localhost"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
