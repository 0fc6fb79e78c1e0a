package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-cdn/strata/internal/topology"
)

// State is what the router answers from: the PoPs that can serve viewers
// and the distributions that have a name in the zone. The owner (the
// control plane's watcher, a test) builds a new State on every change and
// hands it to [Server.SetState], which compiles it and swaps it in at once;
// queries in flight finish on the old one.
type State struct {
	PoPs          []PoP
	Distributions []Distribution
}

// PoP is one PoP as the router sees it.
type PoP struct {
	ID string // instance id: FRA1
	// Location is the catalog id of the PoP's place (FRA, or FRA-R for a
	// regional cache): it gives the coordinates and the pricing region.
	Location string
	// Addrs are the addresses viewers reach it on: A records for the IPv4
	// ones, AAAA for the IPv6 ones.
	Addrs []netip.Addr
	// AcceptsViewers is true for an edge, and for a regional cache that is
	// configured to serve viewers. Others are never answered.
	AcceptsViewers bool
}

// Distribution is one distribution's name in the zone.
type Distribution struct {
	// Label is the distribution's name in the zone, Label.<zone>: one host
	// name label, usually a [NewLabel] (d + 13 lowercase alphanumerics).
	Label string
	ID    string // the distribution's id, for Explain and logs
	// PriceClass is PriceClass_100, PriceClass_200 or PriceClass_All ("" is
	// PriceClass_All): answers come from PoPs in its regions.
	PriceClass string
	// IPv6 answers AAAA queries (CloudFront's isIPv6Enabled); without it an
	// AAAA query gets no data.
	IPv6 bool
}

// ErrState is wrapped by every error of [Server.SetState].
var ErrState = errors.New("dns: invalid state")

// Price class bits of a compiled PoP.
const (
	class100 uint8 = 1 << iota
	class200
	classAll
)

// classBit maps a price class to its bit; "" is PriceClass_All.
func classBit(pc string) (uint8, bool) {
	switch pc {
	case topology.PriceClass100:
		return class100, true
	case topology.PriceClass200:
		return class200, true
	case topology.PriceClassAll, "":
		return classAll, true
	}
	return 0, false
}

// compiledPoP is a PoP with what the hot path needs precomputed.
type compiledPoP struct {
	PoP
	region  string
	at      point
	classes uint8 // the price classes whose regions include the PoP's
	v4, v6  []netip.Addr
}

type compiledDist struct {
	Distribution
	class uint8
}

// snapshot is a compiled State plus the health of its PoPs. It is never
// modified once published.
type snapshot struct {
	pops    []compiledPoP // sorted by ID
	dists   map[string]*compiledDist
	healthy []bool // by index of pops
	serial  uint32
	choices *choiceCache
}

// choiceCache remembers choose's answers for one snapshot (so for one
// health): viewers come from a few thousand points (countries, cities), so
// most queries skip the scan over the PoPs. It stops growing at
// maxChoices entries.
type choiceCache struct {
	m sync.Map // choiceKey -> choice
	n atomic.Int64
}

const maxChoices = 1 << 16

type choiceKey struct {
	v     [3]float64
	class uint8
	v6    bool
}

type choice struct {
	i   int
	why string
}

// compile checks a State and builds its snapshot (without health).
func compile(st State) (*snapshot, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrState}, args...)...))
	}
	sn := &snapshot{
		pops:  make([]compiledPoP, 0, len(st.PoPs)),
		dists: make(map[string]*compiledDist, len(st.Distributions)),
	}
	seen := map[string]bool{}
	for i, p := range st.PoPs {
		if p.ID == "" || seen[p.ID] {
			bad("pops[%d]: id %q empty or repeated", i, p.ID)
			continue
		}
		seen[p.ID] = true
		c := compiledPoP{PoP: p}
		if l, ok := topology.LocationByID(p.Location); ok {
			c.region, c.at = l.Region, pointAt(l.Lat, l.Lon)
		} else if rc, ok := topology.RegionalCacheByID(p.Location); ok {
			c.region, c.at = rc.Region, pointAt(rc.Lat, rc.Lon)
		} else {
			bad("pops[%d] (%s): location %q is not in the catalog", i, p.ID, p.Location)
			continue
		}
		for _, pc := range []string{topology.PriceClass100, topology.PriceClass200, topology.PriceClassAll} {
			if topology.InPriceClass(c.region, pc) {
				bit, _ := classBit(pc)
				c.classes |= bit
			}
		}
		for _, a := range p.Addrs {
			switch a = a.Unmap(); {
			case a.Is4():
				c.v4 = append(c.v4, a)
			case a.Is6():
				c.v6 = append(c.v6, a)
			}
		}
		sn.pops = append(sn.pops, c)
	}
	slices.SortFunc(sn.pops, func(a, b compiledPoP) int { return strings.Compare(a.ID, b.ID) })
	for i, d := range st.Distributions {
		label := strings.ToLower(d.Label)
		if !isHostLabel(label) {
			bad("distributions[%d] (%s): label %q is not one host name label (letters, digits, inner hyphens)", i, d.ID, d.Label)
			continue
		}
		if _, dup := sn.dists[label]; dup {
			bad("distributions[%d] (%s): label %s is taken", i, d.ID, label)
			continue
		}
		bit, ok := classBit(d.PriceClass)
		if !ok {
			bad("distributions[%d] (%s): unknown price class %q", i, d.ID, d.PriceClass)
			continue
		}
		d.Label = label
		sn.dists[label] = &compiledDist{Distribution: d, class: bit}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sn, nil
}

// withHealth returns a copy of sn sharing its PoPs and distributions, with
// the health healthy reports (nil: all healthy).
func (sn *snapshot) withHealth(healthy func(popID string) bool) *snapshot {
	n := *sn
	n.choices = &choiceCache{}
	n.healthy = make([]bool, len(sn.pops))
	for i, p := range sn.pops {
		n.healthy[i] = healthy == nil || healthy(p.ID)
	}
	return &n
}
