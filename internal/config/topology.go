package config

import (
	"net"
	"net/netip"
	"strings"

	"github.com/strata-cdn/strata/internal/topology"
)

// topology checks the network of PoPs against the world catalog and fills in
// locations, URLs and parents.
func (v *validator) topology(t *Topology, path string) {
	pp := at(path, "pops")
	v.ids(pp, len(t.PoPs), func(i int) string { return t.PoPs[i].ID }, false)
	listens := map[string]string{}
	for i := range t.PoPs {
		p, ip := &t.PoPs[i], idx(pp, i)
		v.enum(at(ip, "tier"), &p.Tier, topology.TierEdge, topology.TierEdge, topology.TierRegional)
		if p.Location == "" {
			p.Location = strings.TrimRight(p.ID, "0123456789")
		}
		switch p.Tier {
		case topology.TierEdge:
			if _, ok := topology.LocationByID(p.Location); !ok {
				v.add(at(ip, "location"), "%q is not a location of the catalog (strata locations lists them)", p.Location)
			}
			if p.AcceptViewers {
				v.add(at(ip, "acceptViewers"), "only for a regional PoP: an edge always serves viewers")
			}
		case topology.TierRegional:
			if _, ok := topology.RegionalCacheByID(p.Location); !ok {
				v.add(at(ip, "location"), "%q is not a regional edge cache of the catalog (strata locations --regional lists them)", p.Location)
			}
			if p.Parent != "" {
				v.add(at(ip, "parent"), "a regional PoP has no parent")
			}
		}
		seenAddr := map[string]bool{}
		for j, a := range p.Addresses {
			if addr, err := netip.ParseAddr(a); err != nil || addr.IsUnspecified() || addr.Zone() != "" {
				v.add(idx(at(ip, "addresses"), j), "%q is not one IP address", a)
			} else if seenAddr[addr.Unmap().String()] {
				v.add(idx(at(ip, "addresses"), j), "%s is listed twice", a)
			} else {
				seenAddr[addr.Unmap().String()] = true
			}
		}
		if p.Listen == "" {
			v.add(at(ip, "listen"), "required (host:port)")
		} else if host, _, err := net.SplitHostPort(p.Listen); err != nil {
			v.add(at(ip, "listen"), "%q is not host:port", p.Listen)
		} else {
			if prev, ok := listens[p.Listen]; ok && !strings.HasSuffix(p.Listen, ":0") {
				v.add(at(ip, "listen"), "%s is also the address of %s", p.Listen, prev)
			}
			listens[p.Listen] = p.ID
			if p.URL == "" {
				if host == "" || net.ParseIP(host).IsUnspecified() {
					v.add(at(ip, "url"), "required when listen (%s) does not name one address", p.Listen)
				} else {
					p.URL = "http://" + p.Listen
				}
			}
		}
		if p.HTTPSListen != "" {
			hp := at(ip, "httpsListen")
			if v.hostPort(hp, p.HTTPSListen) {
				if prev, ok := listens[p.HTTPSListen]; ok && !strings.HasSuffix(p.HTTPSListen, ":0") {
					v.add(hp, "%s is also the address of %s", p.HTTPSListen, prev)
				}
				listens[p.HTTPSListen] = p.ID
			}
		}
		if strings.HasPrefix(p.URL, "https://") && p.HTTPSListen == "" {
			v.add(at(ip, "url"), "%q is https:// but the PoP has no httpsListen", p.URL)
		}
		if p.Egress != "" && net.ParseIP(p.Egress) == nil {
			v.add(at(ip, "egress"), "%q is not an IP address", p.Egress)
		}
	}
	// Parents, once every PoP's location is known.
	for i := range t.PoPs {
		p, ip := &t.PoPs[i], idx(pp, i)
		if p.Tier != topology.TierEdge {
			continue
		}
		if p.Parent != "" {
			parent := t.PoPByID(p.Parent)
			switch {
			case parent == nil:
				v.add(at(ip, "parent"), "%q is not a PoP of the topology", p.Parent)
			case parent.Tier != topology.TierRegional:
				v.add(at(ip, "parent"), "%q is not a regional PoP", p.Parent)
			}
			continue
		}
		loc, ok := topology.LocationByID(p.Location)
		if !ok {
			continue
		}
		for _, q := range t.PoPs {
			if q.Tier == topology.TierRegional && q.Location == loc.RegionalCache {
				p.Parent = q.ID
				break
			}
		}
	}
}
