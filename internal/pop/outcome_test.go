package pop

import (
	"testing"
	"time"
)

// The outcome renders X-Cache, the Cache-Status parameters and the
// Server-Timing result; the HTTP-level tests check them on the wire, this
// table checks every decision and detail.
func TestOutcomeRendering(t *testing.T) {
	tests := []struct {
		name   string
		o      outcome
		xcache string
		status string
		timing timingResult
	}{
		{"nothing decided", outcome{}, "", "", timingMiss},
		{"hit", outcome{kind: decHit, status: 200, ttl: 61500 * time.Millisecond}, "Hit from strata", "hit; ttl=61", timingHit},
		{"stored error served fresh", outcome{kind: decHit, status: 404}, "Hit from strata", "hit; ttl=0", timingHit},
		{"stale-while-revalidate", outcome{kind: decStaleRevalidate, status: 200}, "Hit from strata", "hit; fwd=stale", timingHit},
		{"refresh hit", outcome{kind: decRefreshHit, status: 200, fwdStatus: 304, stored: true, collapsed: true},
			"RefreshHit from strata", "fwd=stale; fwd-status=304; stored; collapsed", timingRefresh},
		{"refreshed error", outcome{kind: decRefreshHit, status: 404, fwdStatus: 304, stored: true},
			"Error from strata", "fwd=stale; fwd-status=304; stored", timingMiss},
		{"refresh ignores a skipped parent", outcome{kind: decRefreshHit, status: 200, fwdStatus: 304, parent: "R1", stored: true},
			"RefreshHit from strata", "fwd=stale; fwd-status=304; stored", timingRefresh},
		{"stale-if-error, no answer", outcome{kind: decStaleIfError, status: 200},
			"Hit from strata", "fwd=stale; detail=stale-if-error", timingHit},
		{"stale-if-error on a 503", outcome{kind: decStaleIfError, status: 200, fwdStatus: 503, collapsed: true},
			"Hit from strata", "fwd=stale; fwd-status=503; detail=stale-if-error; collapsed", timingHit},
		{"stale-if-error, slow", outcome{kind: decStaleIfError, status: 200, slow: true},
			"Hit from strata", "fwd=stale; detail=stale-if-error; origin-slow", timingHit},
		{"miss, stored", outcome{kind: decMiss, status: 200, fwdStatus: 200, stored: true},
			"Miss from strata", "fwd=miss; fwd-status=200; stored", timingMiss},
		{"miss from a parent's cache", outcome{kind: decMiss, status: 200, fwdStatus: 200, up: upstream{via: "R1", parentHit: true}},
			"Miss from strata", "fwd=miss; fwd-status=200", timingParentHit},
		{"miss with a stale copy, parent down, failover, not stored",
			outcome{kind: decMiss, status: 200, fwdStatus: 200, withStale: true, parent: "R1", failover: "b", notStored: "no-store"},
			"Miss from strata", "fwd=stale; fwd-status=200; detail=parent-down-R1,failover-b; detail=no-store", timingMiss},
		{"miss, parent down", outcome{kind: decMiss, status: 404, fwdStatus: 404, parent: "R1", notStored: "status"},
			"Error from strata", "fwd=miss; fwd-status=404; detail=parent-down-R1; detail=status", timingMiss},
		{"pass", outcome{kind: decPass, status: 201, fwdStatus: 201}, "Miss from strata", "fwd=bypass; fwd-status=201", timingMiss},
		{"pass, failover, error", outcome{kind: decPass, status: 502, fwdStatus: 502, failover: "b"},
			"Error from strata", "fwd=bypass; fwd-status=502; detail=failover-b", timingMiss},
		{"websocket", outcome{kind: decPass, status: 101, fwdStatus: 101}, "Miss from strata", "fwd=bypass; fwd-status=101", timingMiss},
		{"error", outcome{kind: decError, source: FromViewer}, "Error from strata", "fwd=uri-miss; detail=viewer-error", timingMiss},
		{"redirect", outcome{kind: decRedirect}, "Redirect from strata", "", timingNone},
		{"preflight", outcome{kind: decPreflight}, "Miss from strata", "detail=cors-preflight", timingNone},
		{"custom error page, hit", outcome{kind: decHit, status: 200, ttl: 5 * time.Second, page: true},
			"Error from strata", "hit; ttl=5; detail=custom-error-page", timingMiss},
		{"custom error page, miss from a parent's cache", outcome{kind: decMiss, status: 200, fwdStatus: 200, stored: true, page: true, up: upstream{via: "R1", parentHit: true}},
			"Error from strata", "fwd=miss; fwd-status=200; stored; detail=custom-error-page", timingParentHit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.xcacheString(); got != tc.xcache {
				t.Errorf("X-Cache %q, want %q", got, tc.xcache)
			}
			if got := tc.o.cacheStatus(); got != tc.status {
				t.Errorf("Cache-Status %q, want %q", got, tc.status)
			}
			if got := tc.o.timingResult(); got != tc.timing {
				t.Errorf("Server-Timing result %d, want %d", got, tc.timing)
			}
		})
	}
}

// A decision made inside a custom error page keeps it one.
func TestDecideKeepsPage(t *testing.T) {
	ex := &exchange{out: outcome{page: true}}
	ex.decide(outcome{kind: decMiss, status: 200})
	if !ex.out.page || ex.out.kind != decMiss {
		t.Fatalf("%+v", ex.out)
	}
	ex = &exchange{out: outcome{kind: decMiss, stored: true}}
	ex.decide(outcome{kind: decError, source: FromOrigin})
	if ex.out.page || ex.out.stored {
		t.Fatalf("%+v", ex.out)
	}
}
