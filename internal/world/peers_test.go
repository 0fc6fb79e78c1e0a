package world

import (
	"net/netip"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

// The PoPs' own addresses (URL hosts that are IP literals, egress) are the
// ones exempt from the per-viewer connection limits; names and unspecified
// addresses are not.
func TestPeerAddrs(t *testing.T) {
	specs := []config.TopologyPoP{{ID: "A", Egress: "10.0.0.9"}, {ID: "B"}, {ID: "C"}, {ID: "D"}}
	urls := map[string]string{"A": "http://10.0.0.1:8080", "B": "https://[::1]:8443", "C": "http://pop.example:80", "D": "http://0.0.0.0:80"}
	got := peerAddrs(specs, urls)
	for _, a := range []string{"10.0.0.9", "10.0.0.1", "::1"} {
		if _, ok := got[netip.MustParseAddr(a)]; !ok {
			t.Errorf("%s not exempt", a)
		}
	}
	if len(got) != 3 {
		t.Errorf("exempt %v, want 3 addresses", got)
	}
}
