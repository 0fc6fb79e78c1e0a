package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

func TestFromConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(`
topology:
  pops:
    - {id: FRA-R1, tier: regional, listen: "127.0.1.1:8080"}
    - {id: IAD-R1, tier: regional, listen: "127.0.1.2:8080", acceptViewers: true}
    - {id: FRA1, listen: "127.0.2.1:8080"}
    - {id: JFK1, listen: "[2001:db8::7]:8080"}
    - {id: NRT1, listen: "0.0.0.0:8080", url: "http://192.0.2.9:8080"}
    - {id: GRU1, listen: ":8080", url: "http://gru1.example.net:8080"}
    - {id: SYD1, listen: ":8081", url: "http://syd1.example.net:8081", addresses: [192.0.2.20, "2001:db8::20", 192.0.2.21]}
distributions:
  - id: shop
    domainName: d111111abcdef8.CDN.example.net
    priceClass: PriceClass_100
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: blog
    domainName: blog.cdn.example.net
    isIPv6Enabled: false
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: other
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
  - id: deep
    domainName: a.b.cdn.example.net
    origins: [{id: o, domainName: example.com}]
    defaultCacheBehavior: {targetOriginId: o}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pops := PoPsFromTopology(cfg.Topology)
	want := map[string]struct {
		viewers bool
		addr    string
	}{
		"FRA-R1": {false, "127.0.1.1"}, "IAD-R1": {true, "127.0.1.2"}, "FRA1": {true, "127.0.2.1"},
		"JFK1": {true, "2001:db8::7"}, "NRT1": {true, "192.0.2.9"}, "GRU1": {true, ""},
		"SYD1": {true, "192.0.2.20 2001:db8::20 192.0.2.21"},
	}
	for _, p := range pops {
		w := want[p.ID]
		var addrs []string
		for _, a := range p.Addrs {
			addrs = append(addrs, a.String())
		}
		addr := strings.Join(addrs, " ")
		if p.AcceptsViewers != w.viewers || addr != w.addr || p.Location == "" {
			t.Errorf("%s: %+v, want %+v", p.ID, p, w)
		}
	}
	ds := DistributionsInZone("cdn.example.net.", cfg.Distributions)
	wantDs := []Distribution{
		{Label: "d111111abcdef8", ID: "shop", PriceClass: "PriceClass_100", IPv6: true},
		{Label: "blog", ID: "blog", PriceClass: "PriceClass_All", IPv6: false},
	}
	if !slices.Equal(ds, wantDs) {
		t.Errorf("distributions %+v, want %+v", ds, wantDs)
	}
	s, err := New(Options{Zone: "cdn.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(State{PoPs: pops, Distributions: ds}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Explain("d111111abcdef8.cdn.example.net", netip.MustParseAddr("192.0.2.1"))
	if err != nil || e.PoP == "" {
		t.Errorf("explain: %+v %v", e, err)
	}
}
