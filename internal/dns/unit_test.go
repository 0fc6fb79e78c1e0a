package dns

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/topology"
)

func TestLabels(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		l := NewLabel()
		if !IsLabel(l) {
			t.Fatalf("NewLabel gave %q", l)
		}
		if seen[l] {
			t.Fatalf("NewLabel repeated %q", l)
		}
		seen[l] = true
		for i := 1; i < len(l); i++ {
			counts[l[i]]++
		}
	}
	if len(counts) != 36 {
		t.Errorf("2000 labels used %d of 36 characters", len(counts))
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"d111111abcdef8", true},
		{"dzzzzzzzzzzzzz", true},
		{"d111111abcdef", false},   // 13 chars
		{"d111111abcdef89", false}, // 15 chars
		{"e111111abcdef8", false},
		{"D111111abcdef8", false},
		{"d111111Abcdef8", false},
		{"d111111abc-ef8", false},
		{"", false},
	} {
		if IsLabel(tc.s) != tc.ok {
			t.Errorf("IsLabel(%q) = %v", tc.s, !tc.ok)
		}
	}
}

// TestCountryTable: every ISO 3166-1 country has a representative point,
// from the catalog where it has locations and from countries.txt for the
// rest, and every pricing region has one.
func TestCountryTable(t *testing.T) {
	p := thePlaces()
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			cc := string([]rune{a, b})
			_, has := p.country[cc]
			if config.IsCountryCode(cc) {
				n++
				if !has {
					t.Errorf("no point for %s", cc)
				}
			} else if has {
				t.Errorf("point for %s, which is no country code", cc)
			}
		}
	}
	if n < 249 {
		t.Errorf("only %d country codes checked", n)
	}
	for _, r := range topology.Regions() {
		if _, _, ok := RegionPoint(r.Code); !ok {
			t.Errorf("no point for region %s", r.Code)
		}
	}
	// A catalog country's point lies among its cities.
	lat, lon, _ := CountryPoint("de")
	if d := topology.Distance(lat, lon, 50.11, 8.68); d > 300 {
		t.Errorf("Germany's point %v,%v is %.0f km from Frankfurt", lat, lon, d)
	}
	lat, lon, _ = CountryPoint("RU")
	if d := topology.Distance(lat, lon, 55.76, 37.62); d > 1 {
		t.Errorf("Russia's point %v,%v is not Moscow's", lat, lon)
	}
	for _, tc := range []struct{ name, table, err string }{
		{"catalog country", "DE 50 8\n", "has catalog locations"},
		{"twice", "RU 55 37\nRU 55 37\n", "listed twice"},
		{"latitude", "RU 95 37\n", "out of range"},
		{"not a number", "RU x 37\n", "out of range"},
		{"fields", "RU 55\n", "want"},
		{"lower case", "ru 55 37\n", "want"},
	} {
		_, err := buildPlaces([]byte("# comment\n\n"+tc.table), topology.Locations())
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestSetStateErrors: a bad state is refused with every problem named,
// and the old state keeps serving.
func TestSetStateErrors(t *testing.T) {
	s, err := New(Options{Zone: "CDN.Example.NET"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Zone() != testZone {
		t.Errorf("zone %q", s.Zone())
	}
	good := State{PoPs: []PoP{{ID: "IAD1", Location: "IAD", AcceptsViewers: true,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}, Distributions: testDists()}
	if err := s.SetState(good); err != nil {
		t.Fatal(err)
	}
	bad := State{
		PoPs: []PoP{
			{ID: "IAD1", Location: "IAD"}, {ID: "IAD1", Location: "IAD"}, {ID: "XXX1", Location: "XXX"},
		},
		Distributions: []Distribution{
			{Label: "-www", ID: "E1"},
			{Label: labelAll, ID: "E2"}, {Label: strings.ToUpper(labelAll[:1]) + labelAll[1:], ID: "E3"},
			{Label: label100, ID: "E4", PriceClass: "PriceClass_50"},
		},
	}
	err = s.SetState(bad)
	if !errors.Is(err, ErrState) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{`pops[1]: id "IAD1"`, `pops[2] (XXX1): location "XXX"`, `distributions[0] (E1): label "-www"`,
		`distributions[2] (E3): label d111111abcdef8 is taken`, `distributions[3] (E4): unknown price class "PriceClass_50"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := s.Explain(labelAll+"."+testZone, netip.MustParseAddr("192.0.2.9")); err != nil {
		t.Errorf("old state lost: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		err  string
	}{
		{"no zone", Options{}, "not a domain name"},
		{"root", Options{Zone: "."}, "not a domain name"},
		{"bad zone", Options{Zone: "a..b"}, "not a domain name"},
		{"region", Options{Zone: testZone, DefaultRegion: "xx"}, "not a pricing region"},
		{"ttl", Options{Zone: testZone, TTL: -1}, "negative TTL"},
		{"ns outside with addresses", Options{Zone: testZone, NameServers: []NameServer{
			{Name: "ns.example.org", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}}, "outside zone"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestStartAddr: port 0 gives one port for UDP and TCP; Close stops both.
func TestStartAddr(t *testing.T) {
	s := start(t, Options{}, State{})
	if !s.Addr().IsValid() || s.Addr().Port() == 0 {
		t.Fatalf("addr %s", s.Addr())
	}
	if s.tcp.Addr().String() != s.udp.LocalAddr().String() {
		t.Errorf("tcp %s, udp %s", s.tcp.Addr(), s.udp.LocalAddr())
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestLabelCollision: a distribution may not take an in-zone name server's
// name, nor a name above one.
func TestLabelCollision(t *testing.T) {
	s, err := New(Options{Zone: testZone, NameServers: []NameServer{{Name: "ns1." + testZone}, {Name: "a.dns." + testZone}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"ns1", "dns"} {
		if err := s.SetState(State{Distributions: []Distribution{{Label: label, ID: "E1"}}}); !errors.Is(err, ErrState) {
			t.Errorf("label %s: %v", label, err)
		}
	}
	if err := s.SetState(State{Distributions: []Distribution{{Label: "shop", ID: "E1"}}}); err != nil {
		t.Errorf("label shop: %v", err)
	}
}
