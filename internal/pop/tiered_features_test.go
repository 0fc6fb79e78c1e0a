package pop

import (
	"net/http"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// Response headers policies, compression and WebSocket through the tiers.
//
// The behaviour tests of those features (respheaders_test.go,
// compress_test.go, websocket_test.go) run through every topology of
// tier_test.go: throughTiers runs a test once per topology, and
// topology.world builds the test's world there, a *world whose URL is the
// viewer edge of the network. The tests below add what only tiers can get
// wrong: what one tier stores must never reach a viewer another variant
// belongs to, and what the edge applies is applied once.

// throughTiers runs f once per topology: a lone PoP, an edge under a
// regional cache, and an edge under a regional cache whose origin has a
// shield in another region.
func throughTiers(t *testing.T, f func(t *testing.T, tp topology)) {
	t.Helper()
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) { f(t, tp) })
	}
}

// world builds a network of topology tp over origin h and config mutate
// and returns it as a world whose viewers use the network's viewer edge,
// with the network itself for what only a network can tell.
func (tp topology) world(t *testing.T, h http.HandlerFunc, mutate func(*config.Config)) *world {
	t.Helper()
	w, _ := tp.network(t, h, mutate)
	return w
}

// network is world with the network behind it.
func (tp topology) network(t *testing.T, h http.HandlerFunc, mutate func(*config.Config)) (*world, *network) {
	t.Helper()
	n := newNetworkOpts(t, tp.opts, h, mutate)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 300}, Timeout: 20 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return &world{t: t, pop: n.pops[n.viewer], url: n.urls[n.viewer], origin: n.origin, clock: n.clock, client: client}, n
}

// tiered: the viewer edge has a parent tier.
func (tp topology) tiered() bool { return !tp.opts.single }

// edgeLayer is the cache layer, in Server-Timing's words, that answers the
// viewer edge's misses: the origin's ("EDGE", the edge fetched it itself)
// or its regional cache's ("REC").
func (tp topology) edgeLayer() string {
	if tp.tiered() {
		return "REC"
	}
	return "EDGE"
}

// layers is the number of tiers a response went through, by its
// Cache-Status entries.
func layers(r response) int { return len(r.header.Values("Cache-Status")) }

// once fails unless every field in names appears exactly once in r (no
// tier added it a second time).
func once(t *testing.T, r response, names ...string) {
	t.Helper()
	for _, name := range names {
		vs := r.header.Values(name)
		if len(vs) != 1 {
			t.Fatalf("%s = %q: want one value, once", name, vs)
		}
	}
}
