package topology

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// checkWorld checks the invariants of a demo world and returns its numbers
// of regional and edge PoPs.
func checkWorld(t *testing.T, world []PoPSpec, port int) (regional, edges int) {
	t.Helper()
	byID := map[string]PoPSpec{}
	listens := map[string]string{}
	for i, p := range world {
		if _, dup := byID[p.ID]; dup {
			t.Errorf("PoP id %s used twice", p.ID)
		}
		byID[p.ID] = p
		loc, n, ok := ParsePoPID(p.ID)
		if !ok || loc != p.Location || n < 1 {
			t.Errorf("PoP %s: ParsePoPID = %q, %d, %v; location %q", p.ID, loc, n, ok, p.Location)
		}
		if prev, dup := listens[p.Listen]; dup {
			t.Errorf("PoPs %s and %s both listen on %s", prev, p.ID, p.Listen)
		}
		listens[p.Listen] = p.ID
		ap, err := netip.ParseAddrPort(p.Listen)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() || int(ap.Port()) != port {
			t.Errorf("PoP %s: listen %q is not a loopback address on port %d", p.ID, p.Listen, port)
		}
		if p.Egress != ap.Addr().String() {
			t.Errorf("PoP %s: egress %q, want its own address %s", p.ID, p.Egress, ap.Addr())
		}
		a4 := ap.Addr().As4()
		switch p.Tier {
		case TierRegional:
			regional++
			if edges > 0 {
				t.Errorf("regional PoP %s at %d comes after an edge", p.ID, i)
			}
			rc, ok := RegionalCacheByID(p.Location)
			if !ok || p.Parent != "" || p.Region != rc.Region {
				t.Errorf("regional PoP %+v: bad location, parent or region", p)
			}
			if a4[1] != 0 || a4[2] != 1 {
				t.Errorf("regional PoP %s on %s, want 127.0.1.x", p.ID, p.Listen)
			}
		case TierEdge:
			edges++
			l, ok := LocationByID(p.Location)
			if !ok || p.Region != l.Region {
				t.Errorf("edge PoP %+v: unknown location or wrong region", p)
				continue
			}
			parent, ok := byID[p.Parent]
			if !ok || parent.Tier != TierRegional {
				t.Errorf("edge PoP %s: parent %q is not a regional PoP of the world", p.ID, p.Parent)
			} else if parent.Location != l.RegionalCache {
				t.Errorf("edge PoP %s: parent %s is at %s, but %s is served by %s", p.ID, p.Parent, parent.Location, l.ID, l.RegionalCache)
			}
			if a4[1] != 0 || a4[2] < 2 || a4[3] < 1 || a4[3] > 250 {
				t.Errorf("edge PoP %s on %s, want 127.0.2+.1-250", p.ID, p.Listen)
			}
		default:
			t.Errorf("PoP %s: tier %q", p.ID, p.Tier)
		}
	}
	return regional, edges
}

func TestDemo(t *testing.T) {
	world, err := Demo(3, 2, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if r, e := checkWorld(t, world, 8080); r != 3 || e != 6 {
		t.Errorf("Demo(3, 2) has %d regional and %d edges", r, e)
	}
	want := []string{"IAD-R1", "FRA-R1", "NRT-R1"}
	for i, id := range want {
		if world[i].ID != id {
			t.Errorf("regional %d is %s, want %s", i, world[i].ID, id)
		}
	}
	if world[0].Listen != "127.0.1.1:8080" || world[3].Listen != "127.0.2.1:8080" || world[3].Egress != "127.0.2.1" {
		t.Errorf("addresses: %s, %s, %s", world[0].Listen, world[3].Listen, world[3].Egress)
	}
	// Each regional cache starts with the location nearest to it.
	if world[3].ID != "IAD1" || world[5].ID != "FRA1" || world[7].ID != "NRT1" {
		t.Errorf("first edges: %s %s %s", world[3].ID, world[5].ID, world[7].ID)
	}

	// More edges than locations: further instances.
	world, err = Demo(1, 40, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, e := checkWorld(t, world, 0); r != 1 || e != 40 {
		t.Errorf("Demo(1, 40) has %d regional and %d edges", r, e)
	}
	if !slices.ContainsFunc(world, func(p PoPSpec) bool { return p.ID == "IAD3" }) {
		t.Errorf("Demo(1, 40) has no IAD3: %v", popIDs(world))
	}

	// Deterministic.
	again, _ := Demo(1, 40, 0)
	if !slices.Equal(world, again) {
		t.Error("Demo is not deterministic")
	}

	// Every regional cache can be used.
	world, err = Demo(len(RegionalCaches()), 3, 443)
	if err != nil {
		t.Fatal(err)
	}
	if r, e := checkWorld(t, world, 443); r != len(RegionalCaches()) || e != 3*r {
		t.Errorf("Demo(all, 3) has %d regional and %d edges", r, e)
	}
}

func TestDemoErrors(t *testing.T) {
	tests := []struct {
		name                      string
		nRegional, edgesPer, port int
	}{
		{"no regional", 0, 1, 80},
		{"too many regional", len(RegionalCaches()) + 1, 1, 80},
		{"no edges", 1, 0, 80},
		{"too many edges", 2, MaxDemoEdges, 80},
		{"negative port", 1, 1, -1},
		{"port too big", 1, 1, 65536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w, err := Demo(tt.nRegional, tt.edgesPer, tt.port); !errors.Is(err, ErrInvalidWorld) {
				t.Errorf("Demo(%d, %d, %d) = %d PoPs, %v; want ErrInvalidWorld", tt.nRegional, tt.edgesPer, tt.port, len(w), err)
			}
		})
	}
	for _, n := range []int{-1, 0, 1, MaxDemoEdges + len(RegionalCaches()) + 1} {
		if _, err := DemoN(n, 80); !errors.Is(err, ErrInvalidWorld) {
			t.Errorf("DemoN(%d): %v; want ErrInvalidWorld", n, err)
		}
	}
	if _, err := DemoN(9, 70000); !errors.Is(err, ErrInvalidWorld) {
		t.Errorf("DemoN(9, 70000): %v; want ErrInvalidWorld", err)
	}
}

func TestDemoN(t *testing.T) {
	all := len(RegionalCaches())
	tests := []struct {
		n, regional int
	}{
		{2, 1}, {3, 1}, {4, 1}, {5, 2}, {9, 3}, {12, 3}, {50, 13}, {100, all}, {300, all},
	}
	for _, tt := range tests {
		world, err := DemoN(tt.n, 8443)
		if err != nil {
			t.Fatalf("DemoN(%d): %v", tt.n, err)
		}
		r, e := checkWorld(t, world, 8443)
		if r != tt.regional || r+e != tt.n {
			t.Errorf("DemoN(%d) has %d regional and %d edges; want %d regional", tt.n, r, e, tt.regional)
		}
		// While the catalog has room, every edge is in a distinct location.
		if tt.n <= 50 {
			for _, p := range world {
				if _, n, _ := ParsePoPID(p.ID); n != 1 {
					t.Errorf("DemoN(%d) has a second instance %s", tt.n, p.ID)
				}
			}
		}
	}
	world, _ := DemoN(9, 80)
	if got, want := popIDs(world)[:3], []string{"IAD-R1", "FRA-R1", "NRT-R1"}; !slices.Equal(got, want) {
		t.Errorf("DemoN(9) regional caches %v, want %v", got, want)
	}

	// The address scheme reaches its end without colliding.
	world, err := DemoN(MaxDemoEdges+all, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, e := checkWorld(t, world, 1); r != all || e != MaxDemoEdges {
		t.Errorf("largest world has %d regional and %d edges", r, e)
	}
	if last := world[len(world)-1].Listen; last != "127.0.255.250:1" {
		t.Errorf("last edge listens on %s", last)
	}
}

func popIDs(world []PoPSpec) []string {
	out := make([]string, len(world))
	for i, p := range world {
		out[i] = p.ID
	}
	return out
}

func TestDemoOrder(t *testing.T) {
	order := demoOrder()
	var have []string
	for _, rc := range RegionalCaches() {
		have = append(have, rc.ID)
	}
	sorted := slices.Sorted(slices.Values(order))
	if !slices.Equal(sorted, have) {
		t.Errorf("demo order %v does not list each regional cache once (%v)", order, have)
	}
}

func TestParsePoPID(t *testing.T) {
	tests := []struct {
		id   string
		loc  string
		n    int
		good bool
	}{
		{"FRA12", "FRA", 12, true},
		{"FRA1", "FRA", 1, true},
		{"IAD-R1", "IAD-R", 1, true},
		{"NRT-R23", "NRT-R", 23, true},
		{"XYZ7", "XYZ", 7, true}, // well-formed, though not in the catalog
		{"FRA", "", 0, false},
		{"FRA0", "", 0, false},
		{"FRA01", "", 0, false},
		{"fra1", "", 0, false},
		{"FR1", "", 0, false},
		{"FRAN1", "", 0, false},
		{"FRA-1", "", 0, false},
		{"FRA-X1", "", 0, false},
		{"1", "", 0, false},
		{"", "", 0, false},
		{"FRA1234567890", "", 0, false},
		{"FRA" + strings.Repeat("9", 30), "", 0, false},
	}
	for _, tt := range tests {
		loc, n, ok := ParsePoPID(tt.id)
		if loc != tt.loc || n != tt.n || ok != tt.good {
			t.Errorf("ParsePoPID(%q) = %q, %d, %v; want %q, %d, %v", tt.id, loc, n, ok, tt.loc, tt.n, tt.good)
		}
	}
}

func FuzzParsePoPID(f *testing.F) {
	for _, s := range []string{"FRA12", "IAD-R1", "FRA01", "", "X-R-R9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		loc, n, ok := ParsePoPID(id)
		if !ok {
			return
		}
		if n < 1 || loc+strconv.Itoa(n) != id {
			t.Errorf("ParsePoPID(%q) = %q, %d: does not round-trip", id, loc, n)
		}
	})
}
