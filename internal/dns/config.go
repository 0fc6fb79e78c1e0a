package dns

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/topology"
)

// PoPsFromTopology returns the router's view of a (validated) topology:
// every PoP with its catalog location, whether it serves viewers (edges,
// and regional PoPs with acceptViewers) and the addresses viewers reach
// it on: its addresses when listed, else the host of its listen address
// when that is one IP address, else the host of its URL when that is one.
// A PoP with none (it listens on all addresses under a host name) is never
// answered.
func PoPsFromTopology(t config.Topology) []PoP {
	pops := make([]PoP, 0, len(t.PoPs))
	for _, p := range t.PoPs {
		pop := PoP{
			ID: p.ID, Location: p.Location,
			AcceptsViewers: p.Tier != topology.TierRegional || p.AcceptViewers,
		}
		if len(p.Addresses) > 0 {
			for _, s := range p.Addresses {
				if a, err := netip.ParseAddr(s); err == nil {
					pop.Addrs = append(pop.Addrs, a.Unmap())
				}
			}
		} else if a, ok := hostAddr(p.Listen); ok {
			pop.Addrs = []netip.Addr{a}
		} else if u, err := url.Parse(p.URL); err == nil {
			if a, ok := hostAddr(u.Host); ok {
				pop.Addrs = []netip.Addr{a}
			}
		}
		pops = append(pops, pop)
	}
	return pops
}

// hostAddr returns the IP address of a host:port, unless it is none or
// unspecified.
func hostAddr(hostPort string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// DistributionsInZone returns the router's view of the distributions whose
// domain name is one label under zone (d111111abcdef8.cdn.example.net in
// zone cdn.example.net): the label, the price class and isIPv6Enabled.
// Other distributions have no name in the zone and are left out.
func DistributionsInZone(zone string, ds []config.Distribution) []Distribution {
	zone = "." + strings.TrimSuffix(strings.ToLower(zone), ".")
	var out []Distribution
	for i := range ds {
		d := &ds[i]
		label, ok := strings.CutSuffix(strings.TrimSuffix(strings.ToLower(d.DomainName), "."), zone)
		if !ok || !isHostLabel(label) {
			continue
		}
		out = append(out, Distribution{Label: label, ID: d.ID, PriceClass: d.PriceClass, IPv6: d.IPv6Enabled()})
	}
	return out
}
