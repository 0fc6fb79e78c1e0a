package control

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/dns"
	"github.com/strata-cdn/strata/internal/testutil"
)

// TestDNSRouterFollowsHeartbeats: a DNS router fed with the control
// plane's view of the PoPs' heartbeats (as strata run feeds it) stops
// answering with a PoP that falls silent for wire.UnhealthyAfter, and
// answers with it again when it speaks.
func TestDNSRouterFollowsHeartbeats(t *testing.T) {
	e := newEnv(t, "", "")
	for _, id := range []string{"FRA1", "AMS1", "IAD1"} {
		e.heartbeat(id)
	}
	testutil.WaitFor(t, 2*time.Second, "three PoPs", func() bool { return len(e.srv.PoPs()) == 3 })
	r, err := dns.New(dns.Options{Zone: "cdn.example.test", DefaultRegion: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	pops := []dns.PoP{
		{ID: "FRA1", Location: "FRA", AcceptsViewers: true, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		{ID: "AMS1", Location: "AMS", AcceptsViewers: true, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.2")}},
		{ID: "IAD1", Location: "IAD", AcceptsViewers: true, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.3")}},
	}
	stop, err := r.Follow(context.Background(), dns.Sources{
		State: func(context.Context) (dns.State, error) {
			return dns.State{PoPs: pops, Distributions: []dns.Distribution{{Label: "d111111abcdef8", ID: "E1"}}}, nil
		},
		Health: func(context.Context) (map[string]bool, error) {
			h := map[string]bool{}
			for _, p := range e.srv.PoPs() {
				h[p.PoP] = p.Healthy
			}
			return h, nil
		},
		Interval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	answer := func() string {
		x, err := r.Explain("d111111abcdef8.cdn.example.test", netip.MustParseAddr("192.0.2.99")) // unknown: the eu point
		if err != nil {
			t.Fatal(err)
		}
		return x.PoP
	}
	first := answer()
	if first != "FRA1" && first != "AMS1" {
		t.Fatalf("answer %s, want a European PoP", first)
	}
	// Everyone falls silent; all but first speak again.
	e.clock.Advance(wire.UnhealthyAfter)
	for _, id := range []string{"FRA1", "AMS1", "IAD1"} {
		if id != first {
			e.heartbeat(id)
		}
	}
	testutil.WaitFor(t, 5*time.Second, first+" to leave the answers", func() bool {
		a := answer()
		return a != first && a != ""
	})
	e.heartbeat(first)
	testutil.WaitFor(t, 5*time.Second, first+" to come back", func() bool { return answer() == first })
}
