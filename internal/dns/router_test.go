package dns

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/strata-cdn/strata/internal/topology"
)

const (
	labelAll = "d111111abcdef8"
	label100 = "d222222abcdef8"
	label6   = "d333333abcdef8"
)

func testDists() []Distribution {
	return []Distribution{
		{Label: labelAll, ID: "EALL", PriceClass: topology.PriceClassAll},
		{Label: label100, ID: "E100", PriceClass: topology.PriceClass100},
		{Label: label6, ID: "E6", IPv6: true},
	}
}

// TestGeoAnswers: ECS subnets of real networks in Germany, Japan, Brazil
// and the United States (taken from the installed country database) get
// PoPs in those pricing regions; the answer echoes the option with SCOPE
// the database network's length, is authoritative, TTL 60 s; with
// PriceClass_100 every viewer gets a North American or European PoP.
func TestGeoAnswers(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: realDB(t)}, w.state(testDists()...))
	nets := realNetworks(t, "DE", "JP", "BR", "US")
	for _, tc := range []struct {
		country, all string
		class100     []string
	}{
		{"DE", topology.RegionEurope, []string{topology.RegionEurope}},
		{"JP", topology.RegionJapan, []string{topology.RegionNorthAmerica, topology.RegionEurope}},
		{"BR", topology.RegionSouthAmerica, []string{topology.RegionNorthAmerica, topology.RegionEurope}},
		{"US", topology.RegionNorthAmerica, []string{topology.RegionNorthAmerica}},
	} {
		t.Run(tc.country, func(t *testing.T) {
			network := nets[tc.country]
			subnet := netip.PrefixFrom(network.Addr(), max(24, network.Bits())) // what a resolver sends
			for _, net := range []string{"udp", "tcp"} {
				r := exchange(t, s, query(labelAll+"."+testZone, mdns.TypeA, subnet), net, nil)
				if r.Rcode != mdns.RcodeSuccess || !r.Authoritative {
					t.Fatalf("%s: rcode %s, aa %v", net, mdns.RcodeToString[r.Rcode], r.Authoritative)
				}
				pop := w.popOf(t, r)
				if pop.Region != tc.all || pop.Tier != topology.TierEdge {
					t.Errorf("%s: %s (%s) got %s in region %s, tier %s", net, tc.country, subnet, pop.ID, pop.Region, pop.Tier)
				}
				if ttl := r.Answer[0].Header().Ttl; ttl != 60 {
					t.Errorf("ttl %d", ttl)
				}
				e := replyECS(r)
				if e == nil {
					t.Fatal("ECS option not echoed")
				}
				if e.Family != 1 || int(e.SourceNetmask) != subnet.Bits() || !e.Address.Equal(net_IP(subnet.Addr())) {
					t.Errorf("echo changed family/source/address: %v (sent %s)", e, subnet)
				}
				if int(e.SourceScope) != network.Bits() {
					t.Errorf("scope %d, want the database network's /%d (%s)", e.SourceScope, network.Bits(), network)
				}
			}
			r := exchange(t, s, query(label100+"."+testZone, mdns.TypeA, subnet), "udp", nil)
			if pop := w.popOf(t, r); !slices.Contains(tc.class100, pop.Region) {
				t.Errorf("PriceClass_100: %s got %s in region %s, want one of %v", tc.country, pop.ID, pop.Region, tc.class100)
			}
		})
	}
}

// TestGeoAnswersIPv6: an IPv6 client subnet (a resolver's /56) of a real
// network is located the same way, and echoed with family 2.
func TestGeoAnswersIPv6(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: realDB(t)}, w.state(testDists()...))
	for cc, region := range map[string]string{"DE/6": topology.RegionEurope, "JP/6": topology.RegionJapan,
		"BR/6": topology.RegionSouthAmerica, "US/6": topology.RegionNorthAmerica} {
		network := realNetworks(t, cc)[cc]
		subnet := netip.PrefixFrom(network.Addr(), max(56, network.Bits()))
		r := exchange(t, s, query(labelAll+"."+testZone, mdns.TypeA, subnet), "udp", nil)
		if pop := w.popOf(t, r); pop.Region != region {
			t.Errorf("%s (%s): %s in region %s, want %s", cc, subnet, pop.ID, pop.Region, region)
		}
		e := replyECS(r)
		if e == nil || e.Family != 2 || int(e.SourceNetmask) != subnet.Bits() || int(e.SourceScope) != network.Bits() {
			t.Errorf("%s: echo %v, want source /%d scope /%d", cc, e, subnet.Bits(), network.Bits())
		}
	}
}

func net_IP(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// TestResolverAddress: without ECS the resolver's source address is
// located (here with a city database: coordinates), and the reply carries
// no ECS option; an address the database does not know goes to the
// default region.
func TestResolverAddress(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t), DefaultRegion: topology.RegionJapan}, w.state(testDists()...))
	for _, tc := range []struct{ from, region string }{
		{"127.2.0.9", topology.RegionEurope},       // DE, Berlin
		{"127.4.0.9", topology.RegionSouthAmerica}, // BR, São Paulo
		{"127.6.0.9", topology.RegionAustralia},    // AU, Sydney
		{"127.0.0.1", topology.RegionJapan},        // unknown: the default region
	} {
		for _, network := range []string{"udp", "tcp"} {
			var local net.Addr = &net.UDPAddr{IP: net.ParseIP(tc.from)}
			if network == "tcp" {
				local = &net.TCPAddr{IP: net.ParseIP(tc.from)}
			}
			m := query(labelAll+"."+testZone, mdns.TypeA, netip.Prefix{})
			m.SetEdns0(1232, false)
			r := exchange(t, s, m, network, local)
			if pop := w.popOf(t, r); pop.Region != tc.region {
				t.Errorf("%s from %s: %s in region %s, want %s", network, tc.from, pop.ID, pop.Region, tc.region)
			}
			if replyECS(r) != nil {
				t.Errorf("%s: ECS in the reply to a query without it", network)
			}
		}
	}
}

// TestHealth: an unhealthy PoP leaves the answers at the next query and
// comes back when healthy; with every PoP unhealthy the nearest is
// answered all the same; a PoP outside the price class is used when none
// inside is healthy.
func TestHealth(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t)}, w.state(testDists()...))
	de := netip.MustParsePrefix("127.2.0.0/24")
	ask := func(label string) topology.PoPSpec {
		return w.popOf(t, exchange(t, s, query(label+"."+testZone, mdns.TypeA, de), "udp", nil))
	}
	first := ask(labelAll)
	down := map[string]bool{first.ID: true}
	s.SetHealth(func(id string) bool { return !down[id] })
	second := ask(labelAll)
	if second.ID == first.ID || second.Region != topology.RegionEurope {
		t.Fatalf("with %s down: %s (%s)", first.ID, second.ID, second.Region)
	}
	down = map[string]bool{} // SetHealth asks once: set it again
	s.SetHealth(func(id string) bool { return !down[id] })
	if got := ask(labelAll); got.ID != first.ID {
		t.Fatalf("back up: %s, want %s", got.ID, first.ID)
	}

	// Every European and North American edge down: PriceClass_100 falls
	// back to the nearest healthy PoP outside its class.
	for _, p := range w.specs {
		if p.Region == topology.RegionEurope || p.Region == topology.RegionNorthAmerica {
			down[p.ID] = true
		}
	}
	s.SetHealth(func(id string) bool { return !down[id] })
	if got := ask(label100); got.Region == topology.RegionEurope || got.Region == topology.RegionNorthAmerica || down[got.ID] {
		t.Errorf("class down: %s (%s)", got.ID, got.Region)
	}
	// Everything down: the nearest PoP, health ignored.
	s.SetHealth(func(string) bool { return false })
	if got := ask(labelAll); got.ID != first.ID {
		t.Errorf("all down: %s, want the nearest %s", got.ID, first.ID)
	}
	// Health survives a new state.
	if err := s.SetState(w.state(testDists()...)); err != nil {
		t.Fatal(err)
	}
	e, err := s.Explain(labelAll+"."+testZone, netip.MustParseAddr("127.2.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range e.Candidates {
		if c.Healthy {
			t.Errorf("%s healthy after SetState", c.PoP)
		}
	}
	if e.Why != choiceAllDown {
		t.Errorf("why: %q", e.Why)
	}
}

// TestExplain agrees with the answers to real queries and shows the
// filtering.
func TestExplain(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: realDB(t)}, w.state(testDists()...))
	nets := realNetworks(t, "DE", "JP", "BR", "US")
	for cc, network := range nets {
		for _, label := range []string{labelAll, label100} {
			e, err := s.Explain(label+"."+testZone, network.Addr())
			if err != nil {
				t.Fatal(err)
			}
			r := exchange(t, s, query(label+"."+testZone, mdns.TypeA, netip.PrefixFrom(network.Addr(), 24)), "udp", nil)
			if got := w.popOf(t, r); got.ID != e.PoP {
				t.Errorf("%s %s: explain says %s, the query got %s", cc, label, e.PoP, got.ID)
			}
			if e.Viewer.Country != cc || e.Viewer.Source != SourceCountry || e.Scope != network.Bits() {
				t.Errorf("%s: viewer %+v scope %d", cc, e.Viewer, e.Scope)
			}
			if len(e.Candidates) != len(w.specs) {
				t.Fatalf("%d candidates, want every PoP (%d)", len(e.Candidates), len(w.specs))
			}
			if !slices.IsSortedFunc(e.Candidates, func(a, b Candidate) int {
				return int(a.DistanceKm - b.DistanceKm)
			}) {
				t.Errorf("candidates not nearest first")
			}
			chosen := 0
			for _, c := range e.Candidates {
				want := topology.InPriceClass(c.Region, e.PriceClass)
				if c.InPriceClass != want {
					t.Errorf("%s: in class %v, want %v", c.PoP, c.InPriceClass, want)
				}
				if c.Chosen {
					chosen++
					if !c.AcceptsViewers || !c.Healthy || !c.InPriceClass {
						t.Errorf("chose %+v", c)
					}
				}
			}
			if chosen != 1 || len(e.A) != 1 || e.Why != choiceInClass {
				t.Errorf("%d chosen, answer %v, why %q", chosen, e.A, e.Why)
			}
		}
	}
	if _, err := s.Explain("nope."+testZone, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("explained an unknown name")
	}
	if _, err := s.Explain(labelAll+".example.com", netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("explained a name outside the zone")
	}
}

func TestExplainText(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t)}, w.state(testDists()...))
	down := w.specs[len(w.specs)-1].ID
	s.SetHealth(func(id string) bool { return id != down })
	e, err := s.Explain(strings.ToUpper(label100)+"."+strings.TrimSuffix(testZone, "."), netip.MustParseAddr("127.3.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := e.WriteText(&b, 5); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"name      " + label100 + "." + testZone + "\n",
		"dist      E100, PriceClass_100 (na eu), IPv6 off\n",
		"viewer    127.3.0.1 (network 127.3.0.0/16): at 35.69,139.69 (the database's coordinates)\n",
		"answer    " + e.PoP + ": " + e.A[0].String() + ", TTL 60 s, ECS scope /16\n",
		"why       nearest healthy PoP in the price class\n",
		"POP", "IN CLASS", "… 22 more",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Count(out, "\n* ") != 1 || !strings.Contains(out, "\n* "+e.PoP+" ") {
		t.Errorf("chosen PoP not starred:\n%s", out)
	}
	t.Log("\n" + out)
}
