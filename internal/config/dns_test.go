package config

import (
	"strings"
	"testing"
	"time"
)

func TestDNSSection(t *testing.T) {
	cfg, err := Parse([]byte("dns: {zone: CDN.Example.NET.}\ndistributions:\n  - id: Shop\n    origins: [{id: o, domainName: example.com}]\n    defaultCacheBehavior: {targetOriginId: o}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DNS
	if d.Zone != "cdn.example.net" || d.Listen != DefaultDNSListen || time.Duration(d.TTL) != 60*time.Second || d.DefaultRegion != "na" {
		t.Errorf("defaults: %+v", d)
	}
	if got := cfg.Distributions[0].DomainName; got != "shop.cdn.example.net" {
		t.Errorf("default domain name in the zone: %q", got)
	}
	for _, tc := range []struct{ yaml, path, msg string }{
		{"dns: {zone: localhost}", "dns.zone", "at least two labels"},
		{"dns: {zone: 'a..b'}", "dns.zone", "not a domain name"},
		{"dns: {listen: '127.0.0.1'}", "dns.listen", "not host:port"},
		{"dns: {ttl: 0.5s}", "dns.ttl", ""},
		{"dns: {ttl: 48h}", "dns.ttl", ""},
		{"dns: {defaultRegion: xx}", "dns.defaultRegion", "xx"},
		{"dns: {zonee: a.b}", "dns.zonee", ""},
	} {
		_, err := Parse([]byte(tc.yaml), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %s: …%s…", tc.yaml, err, tc.path, tc.msg)
		}
	}
}
