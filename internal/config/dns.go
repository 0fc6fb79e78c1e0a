package config

import (
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/topology"
)

// DNS router defaults.
const (
	DefaultDNSListen        = "127.0.0.1:5353" // a port that needs no root
	DefaultDNSTTL           = 60 * time.Second // CloudFront's answers
	DefaultDNSDefaultRegion = topology.RegionNorthAmerica
)

// dns checks the DNS router's section and fills in its defaults.
func (v *validator) dns(d *DNS, path string) {
	if d.Zone != "" {
		z := strings.ToLower(strings.TrimSuffix(d.Zone, "."))
		if err := checkHostname(z, false); err != nil || !strings.Contains(z, ".") {
			v.add(at(path, "zone"), "%q is not a domain name with at least two labels (for example cdn.example.net)", d.Zone)
		} else {
			d.Zone = z
		}
	}
	if d.Listen == "" {
		d.Listen = DefaultDNSListen
	} else {
		v.hostPort(at(path, "listen"), d.Listen)
	}
	v.duration(at(path, "ttl"), &d.TTL, DefaultDNSTTL, time.Second, 24*time.Hour)
	var codes []string
	for _, r := range topology.Regions() {
		codes = append(codes, r.Code)
	}
	v.enum(at(path, "defaultRegion"), &d.DefaultRegion, DefaultDNSDefaultRegion, codes...)
}
