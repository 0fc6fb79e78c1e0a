package main

import (
	"strings"
	"testing"
	"time"
)

// TestOffloadOrdering runs the three set-ups of the benchmark, small, through
// the same code as the command, and checks what the tiers promise, by
// counting requests at the origin.
func TestOffloadOrdering(t *testing.T) {
	// A set-up takes about a second on an idle 2-core machine; the bound
	// (per set-up) only catches a hang, so a loaded machine does not hit
	// it. What is checked is counted in requests, never in time.
	o := options{PoPs: 6, Keys: 500, S: 1, Requests: 3000, Conc: 16, Seed: 42, Timeout: 3 * time.Minute}
	rep, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.print(&out)
	t.Log("\n" + out.String())
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want 3", len(rep.Results))
	}
	flat, tiered, shielded := rep.Results[0], rep.Results[1], rep.Results[2]

	// DemoN(6): 2 regional caches and 4 edges; flat keeps the edges only.
	for _, c := range []struct {
		r                    result
		setup                string
		regionals, edgesWant int
	}{{flat, setupFlat, 0, 4}, {tiered, setupTiered, 2, 4}, {shielded, setupShielded, 2, 4}} {
		r := c.r
		if r.Setup != c.setup || r.Regional != c.regionals || r.Edges != c.edgesWant {
			t.Errorf("result %s with %d/%d PoPs, want %s with %d/%d", r.Setup, r.Regional, r.Edges, c.setup, c.regionals, c.edgesWant)
		}
		if r.Viewer != int64(o.Requests) || r.Incomplete {
			t.Errorf("%s: %d viewer requests sent (incomplete %v), want %d", r.Setup, r.Viewer, r.Incomplete, o.Requests)
		}
		if r.Failures != 0 {
			t.Errorf("%s: %d viewer failures: %q", r.Setup, r.Failures, r.FailureSamples)
		}
		if r.Distinct != rep.Work.distinct {
			t.Errorf("%s: %d distinct keys requested, want %d", r.Setup, r.Distinct, rep.Work.distinct)
		}
		// Every cache starts empty: each requested key reaches the origin at least once.
		if r.Origin < int64(r.Distinct) {
			t.Errorf("%s: %d origin requests for %d distinct keys", r.Setup, r.Origin, r.Distinct)
		}
		// Only the tier next to the origin talks to it: the edges (flat), the
		// regional PoPs (tiered), the shield's PoP (shielded). Anything else
		// is a misrouted fetch or a parent skipped as unreachable.
		if r.OffTier != 0 {
			t.Errorf("%s: %d origin requests from outside the tier next to the origin", r.Setup, r.OffTier)
		}
	}
	if !(flat.Origin >= tiered.Origin && tiered.Origin >= shielded.Origin) {
		t.Errorf("origin requests flat %d, tiered %d, shielded %d: want flat >= tiered >= shielded",
			flat.Origin, tiered.Origin, shielded.Origin)
	}
	// With a shield, every regional miss of a key goes to one PoP, which
	// collapses concurrent misses into one fetch: the origin never sees a
	// request for a key while it has not yet answered another for it. That
	// must hold exactly.
	if shielded.Overlap != 0 {
		t.Errorf("shielded: %d origin requests came while another for the same key was unanswered, want 0", shielded.Overlap)
	}
	// With a shield every key is fetched from the origin exactly once: the
	// shield's flight looks at its store again before going upstream, so a
	// request that missed just before the previous flight stored the object
	// does not start a second fetch.
	if shielded.Origin != int64(shielded.Distinct) {
		t.Errorf("shielded: %d origin requests for %d distinct keys (%d keys fetched more than once), want one per key",
			shielded.Origin, shielded.Distinct, shielded.DupKeys)
	}
}
