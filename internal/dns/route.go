package dns

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/strata-cdn/strata/internal/topology"
)

// How a viewer was located ([Viewer].Source).
const (
	SourceCoordinates = "geo database coordinates" // a city database gave latitude and longitude
	SourceCountry     = "country"                  // the database gave a country: its representative point
	SourceDefault     = "default region"           // unknown: the configured default region's point
)

// Viewer is where the router places a viewer.
type Viewer struct {
	Address netip.Addr   // the address located: the ECS address, else the resolver's
	Network netip.Prefix // the geo database network it fell in (invalid without a database)
	Country string       // ISO 3166-1 alpha-2, "" when unknown
	Lat     float64
	Lon     float64
	Source  string // SourceCoordinates, SourceCountry or SourceDefault

	at point
}

// locate places addr: coordinates from the geo database when it has them,
// else the representative point of the country it gives, else the point of
// the default region.
func (s *Server) locate(addr netip.Addr) Viewer {
	v := Viewer{Address: addr}
	if s.geo != nil {
		loc, network := s.geo.LookupNetwork(addr)
		v.Network, v.Country = network, loc.Country
		if loc.HasCoords {
			v.Source, v.at = SourceCoordinates, pointAt(loc.Latitude, loc.Longitude)
			v.Lat, v.Lon = loc.Latitude, loc.Longitude
			return v
		}
		if pt, ok := thePlaces().country[loc.Country]; ok {
			v.Source, v.at, v.Lat, v.Lon = SourceCountry, pt, pt.lat, pt.lon
			return v
		}
	}
	v.Source, v.at, v.Lat, v.Lon = SourceDefault, s.defaultPoint, s.defaultPoint.lat, s.defaultPoint.lon
	return v
}

// Why a PoP was chosen, from best to worst.
const (
	choiceInClass     = "nearest healthy PoP in the price class"
	choiceOutOfClass  = "no healthy PoP in the price class: nearest healthy PoP outside it"
	choiceAllDown     = "no healthy PoP: nearest PoP, health ignored"
	choiceNoneForType = "no PoP has an address of this type"
)

// choose returns the index of the PoP to answer with for a viewer at at,
// for a distribution of price class bit class, among PoPs with addresses
// of the family (v6 or v4), and why; -1 when none has one. Passes, in
// order: healthy PoPs in the class; healthy PoPs outside it (CloudFront
// also serves from outside the class when it must); all PoPs (when every
// PoP is unhealthy an answer that may work beats none, as Route 53 does).
// Equal distances go to the first PoP by ID.
func (sn *snapshot) choose(at point, class uint8, v6 bool) (int, string) {
	key := choiceKey{at.v, class, v6}
	if c, ok := sn.choices.m.Load(key); ok {
		return c.(choice).i, c.(choice).why
	}
	i, why := sn.scan(at, class, v6)
	if sn.choices.n.Add(1) <= maxChoices {
		sn.choices.m.Store(key, choice{i, why})
	}
	return i, why
}

// scan is choose without the cache.
func (sn *snapshot) scan(at point, class uint8, v6 bool) (int, string) {
	best := [3]int{-1, -1, -1}
	var bestDot [3]float64
	for i := range sn.pops {
		p := &sn.pops[i]
		if !p.AcceptsViewers || (v6 && len(p.v6) == 0) || (!v6 && len(p.v4) == 0) {
			continue
		}
		dot := p.at.v[0]*at.v[0] + p.at.v[1]*at.v[1] + p.at.v[2]*at.v[2]
		pass := 2
		if sn.healthy[i] {
			pass = 1
			if p.classes&class != 0 {
				pass = 0
			}
		}
		for k := pass; k < 3; k++ {
			if best[k] < 0 || dot > bestDot[k] {
				best[k], bestDot[k] = i, dot
			}
		}
	}
	switch {
	case best[0] >= 0:
		return best[0], choiceInClass
	case best[1] >= 0:
		return best[1], choiceOutOfClass
	case best[2] >= 0:
		return best[2], choiceAllDown
	}
	return -1, choiceNoneForType
}

// answerAddrs returns up to max addresses of the family of PoP i, rotated
// by rot so that a PoP with more addresses than max spreads its viewers.
func (sn *snapshot) answerAddrs(i int, v6 bool, max int, rot uint16) []netip.Addr {
	all := sn.pops[i].v4
	if v6 {
		all = sn.pops[i].v6
	}
	if len(all) <= max {
		return all
	}
	out := make([]netip.Addr, max)
	start := int(rot) % len(all)
	for k := range out {
		out[k] = all[(start+k)%len(all)]
	}
	return out
}

// Explanation is how the router answers one name for one viewer
// ([Server.Explain]).
type Explanation struct {
	Name         string // the name asked, fully qualified, lower case
	Distribution string // the distribution's id
	PriceClass   string
	Regions      []string // the pricing regions of the price class
	IPv6         bool
	Viewer       Viewer
	// Scope is the ECS scope prefix length an answer to a query carrying
	// the viewer's subnet would have: the database network's length.
	Scope      int
	Candidates []Candidate // every PoP, nearest first
	PoP        string      // the PoP answered with ("" when none)
	Why        string      // why that PoP
	A          []netip.Addr
	AAAA       []netip.Addr // only when IPv6 is on
	TTL        uint32       // seconds
}

// Candidate is one PoP as Explain saw it.
type Candidate struct {
	PoP            string
	Location       string
	Region         string
	DistanceKm     float64
	AcceptsViewers bool
	Healthy        bool
	InPriceClass   bool
	Chosen         bool
}

// Explain says how the router answers name (a distribution's name in the
// zone, with or without the final dot) for a viewer at client: where the
// viewer is placed, every PoP with its distance, health and price-class
// membership, the PoP chosen and the addresses answered. It takes the same
// path as a query carrying client as its EDNS Client Subnet.
func (s *Server) Explain(name string, client netip.Addr) (Explanation, error) {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	sn := s.snap.Load()
	label, ok := strings.CutSuffix(name, "."+s.zone)
	d := sn.dists[label]
	if !ok || d == nil {
		return Explanation{}, fmt.Errorf("dns: %s is not a distribution's name in zone %s", name, s.zone)
	}
	if !client.IsValid() {
		return Explanation{}, fmt.Errorf("dns: no client address")
	}
	v := s.locate(client.Unmap())
	e := Explanation{
		Name: name, Distribution: d.ID, PriceClass: cmp.Or(d.PriceClass, topology.PriceClassAll),
		IPv6: d.IPv6, Viewer: v, TTL: s.ttl,
	}
	e.Regions, _ = topology.PriceClassRegions(e.PriceClass)
	if v.Network.IsValid() {
		e.Scope = v.Network.Bits()
	}
	for i, p := range sn.pops {
		e.Candidates = append(e.Candidates, Candidate{
			PoP: p.ID, Location: p.Location, Region: p.region,
			DistanceKm:     topology.Distance(v.Lat, v.Lon, p.at.lat, p.at.lon),
			AcceptsViewers: p.AcceptsViewers, Healthy: sn.healthy[i], InPriceClass: p.classes&d.class != 0,
		})
	}
	slices.SortStableFunc(e.Candidates, func(a, b Candidate) int { return cmp.Compare(a.DistanceKm, b.DistanceKm) })
	i, why := sn.choose(v.at, d.class, false)
	e.Why = why
	if i >= 0 {
		e.PoP, e.A = sn.pops[i].ID, sn.answerAddrs(i, false, s.maxAnswers, 0)
	}
	if d.IPv6 {
		if j, why6 := sn.choose(v.at, d.class, true); j >= 0 {
			e.AAAA = sn.answerAddrs(j, true, s.maxAnswers, 0)
			if i < 0 {
				e.PoP, e.Why = sn.pops[j].ID, why6
			}
		}
	}
	for k := range e.Candidates {
		e.Candidates[k].Chosen = e.Candidates[k].PoP == e.PoP
	}
	return e, nil
}
