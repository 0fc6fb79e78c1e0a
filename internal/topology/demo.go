package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// PoP tiers.
const (
	TierEdge     = "edge"     // serves viewers, fills from its regional parent
	TierRegional = "regional" // a regional edge cache, fills from the origin
)

// PoPSpec describes one PoP instance of a topology.
type PoPSpec struct {
	ID       string `json:"id"`       // instance id: FRA1, FRA-R1
	Location string `json:"location"` // catalog id: FRA for an edge, FRA-R for a regional cache
	Tier     string `json:"tier"`     // TierEdge or TierRegional
	Region   string `json:"region"`   // pricing region code of the location
	Parent   string `json:"parent"`   // PoP id of the regional parent; "" for a regional cache
	Listen   string `json:"listen"`   // "127.0.x.y:port"
	Egress   string `json:"egress"`   // source address for upstream requests: "127.0.x.y"
}

// ErrInvalidWorld is returned by [Demo] and [DemoN] for counts or a port
// that no world can satisfy.
var ErrInvalidWorld = errors.New("topology: invalid demo world")

// MaxDemoEdges is the largest number of edges a demo world can address:
// 250 per third octet, on 127.0.2.x to 127.0.255.x.
const MaxDemoEdges = 254 * 250

// demoOrder lists the regional caches in the order demo worlds take them:
// spread over the world first, then filling in.
func demoOrder() []string {
	return []string{
		"IAD-R", "FRA-R", "NRT-R", "GRU-R", "SIN-R", "SYD-R", "BOM-R", "PDX-R", "LHR-R",
		"BAH-R", "HKG-R", "CPT-R", "ICN-R", "CMH-R", "DUB-R", "SFO-R", "ARN-R",
	}
}

// Demo returns a world for one machine: the first nRegional regional caches
// of a fixed order spread over the world (IAD-R, FRA-R, NRT-R, GRU-R, SIN-R,
// SYD-R, BOM-R, ...) and edgesPer edges under each. The edges of a regional
// cache are catalog locations that it serves, taken nearest first and then
// farthest from those already taken, so that they spread over its area; when
// edgesPer exceeds its locations, further instances follow (FRA2, ...).
//
// Regional PoPs come first in the result, then the edges grouped by parent.
// Each PoP listens on its own loopback address (see the package doc) at the
// given port, which may be 0 to let each PoP pick a free one; its egress
// address is its own address.
func Demo(nRegional, edgesPer, port int) ([]PoPSpec, error) {
	order := demoOrder()
	if nRegional < 1 || nRegional > len(order) {
		return nil, fmt.Errorf("%w: %d regional caches (want 1 to %d)", ErrInvalidWorld, nRegional, len(order))
	}
	if edgesPer < 1 || edgesPer > MaxDemoEdges/nRegional {
		return nil, fmt.Errorf("%w: %d edges per regional cache (want 1 to %d)", ErrInvalidWorld, edgesPer, MaxDemoEdges/nRegional)
	}
	counts := make([]int, nRegional)
	for i := range counts {
		counts[i] = edgesPer
	}
	return buildWorld(order[:nRegional], counts, port)
}

// DemoN returns a world of n PoPs in total (n >= 2): about one regional
// cache for every four PoPs (n/4 rounded up, at most all of them) and the
// rest edges, dealt out in turn to the regional caches that still have
// catalog locations without a PoP, and to all of them once none has. For
// example DemoN(9) has 3 regional caches and 6 edges, DemoN(50) 13 and 37.
// Order, addresses and the choice of edges are as for [Demo].
func DemoN(n, port int) ([]PoPSpec, error) {
	order := demoOrder()
	if n < 2 {
		return nil, fmt.Errorf("%w: %d PoPs (want at least 2)", ErrInvalidWorld, n)
	}
	nRegional := min(max((n+3)/4, 1), len(order))
	edges := n - nRegional
	if edges > MaxDemoEdges {
		return nil, fmt.Errorf("%w: %d PoPs (want at most %d)", ErrInvalidWorld, n, MaxDemoEdges+nRegional)
	}
	c := theCatalog()
	capacity := make([]int, nRegional)
	for _, l := range c.locations {
		for i, id := range order[:nRegional] {
			if l.RegionalCache == id {
				capacity[i]++
			}
		}
	}
	counts := make([]int, nRegional)
	for edges > 0 {
		dealt := false
		for i := range counts {
			if edges > 0 && counts[i] < capacity[i] {
				counts[i]++
				edges--
				dealt = true
			}
		}
		if !dealt {
			for i := range counts {
				if edges > 0 {
					counts[i]++
					edges--
				}
			}
		}
	}
	return buildWorld(order[:nRegional], counts, port)
}

// buildWorld lays out the regional caches named by ids, with counts[i]
// edges under the i-th.
func buildWorld(ids []string, counts []int, port int) ([]PoPSpec, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d (want 0 to 65535)", ErrInvalidWorld, port)
	}
	c := theCatalog()
	total := len(ids)
	for _, n := range counts {
		total += n
	}
	world := make([]PoPSpec, 0, total)
	parents := make([]string, len(ids))
	for i, id := range ids {
		rc := c.caches[c.cacheIndex[id]]
		addr := netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i)})
		parents[i] = rc.ID + "1"
		world = append(world, PoPSpec{
			ID:       parents[i],
			Location: rc.ID,
			Tier:     TierRegional,
			Region:   rc.Region,
			Listen:   netip.AddrPortFrom(addr, uint16(port)).String(),
			Egress:   addr.String(),
		})
	}
	edge := 0
	for i, id := range ids {
		rc := c.caches[c.cacheIndex[id]]
		var served []Location
		for _, l := range c.locations {
			if l.RegionalCache == rc.ID {
				served = append(served, l)
			}
		}
		picks := spreadOrder(rc, served)
		if len(picks) == 0 && counts[i] > 0 {
			return nil, fmt.Errorf("%w: regional cache %s serves no location", ErrInvalidWorld, rc.ID)
		}
		for k := range counts[i] {
			l := picks[k%len(picks)]
			addr := netip.AddrFrom4([4]byte{127, 0, byte(2 + edge/250), byte(1 + edge%250)})
			world = append(world, PoPSpec{
				ID:       l.ID + strconv.Itoa(1+k/len(picks)),
				Location: l.ID,
				Tier:     TierEdge,
				Region:   l.Region,
				Parent:   parents[i],
				Listen:   netip.AddrPortFrom(addr, uint16(port)).String(),
				Egress:   addr.String(),
			})
			edge++
		}
	}
	return world, nil
}

// spreadOrder orders the locations a regional cache serves for picking
// demo edges: the one nearest the cache first, then each time the one
// farthest from all already picked (ties to the nearer to the cache, then
// by ID).
func spreadOrder(rc RegionalCache, served []Location) []Location {
	rest := Nearest(rc.Lat, rc.Lon, served, nil)
	if len(rest) == 0 {
		return nil
	}
	picked := []Location{rest[0]}
	rest = rest[1:]
	gap := make([]float64, len(rest)) // distance to the nearest picked location
	for i, l := range rest {
		gap[i] = Distance(l.Lat, l.Lon, picked[0].Lat, picked[0].Lon)
	}
	for len(rest) > 0 {
		best := 0
		for i := range rest {
			if gap[i] > gap[best] {
				best = i
			}
		}
		p := rest[best]
		picked = append(picked, p)
		rest = append(rest[:best], rest[best+1:]...)
		gap = append(gap[:best], gap[best+1:]...)
		for i, l := range rest {
			gap[i] = min(gap[i], Distance(l.Lat, l.Lon, p.Lat, p.Lon))
		}
	}
	return picked
}

// ParsePoPID splits a PoP instance id into its location id and instance
// number: "FRA12" gives "FRA", 12 and "FRA-R1" gives "FRA-R", 1. The
// location must look like a catalog id (three upper-case letters, with
// "-R" for a regional cache; it need not be in the catalog) and the number
// must be a positive decimal without leading zeros.
func ParsePoPID(id string) (location string, n int, ok bool) {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	location, digits := id[:i], id[i:]
	if !isLocationID(location) && !isRegionalCacheID(location) {
		return "", 0, false
	}
	if digits == "" || digits[0] == '0' || len(digits) > 9 {
		return "", 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return location, n, true
}
