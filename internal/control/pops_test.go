package control

import (
	"net/http"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/control/wire"
)

func TestPoPHealth(t *testing.T) {
	e := newEnv(t, "", "")
	pops := func() []PoPStatus {
		var list List[PoPStatus]
		resp, data := e.do("GET", "/pops", nil)
		e.want(resp, data, http.StatusOK, &list)
		if list.Quantity != len(list.Items) {
			t.Fatalf("quantity %d for %d items", list.Quantity, len(list.Items))
		}
		return list.Items
	}
	if got := pops(); len(got) != 0 {
		t.Fatalf("pops before any heartbeat: %+v", got)
	}

	e.heartbeat("IAD1")
	e.heartbeat("FRA1")
	waitFor(t, 2*time.Second, "two PoPs", func() bool { return len(pops()) == 2 })
	got := pops()
	want := PoPStatus{PoP: "FRA1", Tier: "edge", Location: "FRA", Region: "eu", URL: "http://FRA1.test",
		ConfigVersion: 7, LastHeartbeat: e.clock.Now(), Healthy: true}
	if got[0] != want || got[1].PoP != "IAD1" || !got[1].Healthy {
		t.Fatalf("pops = %+v\nwant first %+v", got, want)
	}

	// Silent for UnhealthyAfter: unhealthy; speaking again: healthy.
	e.clock.Advance(wire.UnhealthyAfter - time.Millisecond)
	if got := pops(); !got[0].Healthy {
		t.Errorf("unhealthy before UnhealthyAfter: %+v", got[0])
	}
	e.clock.Advance(time.Millisecond)
	if got := pops(); got[0].Healthy || got[1].Healthy {
		t.Errorf("healthy after UnhealthyAfter of silence: %+v", got)
	}
	e.heartbeat("FRA1")
	waitFor(t, 2*time.Second, "FRA1 healthy again", func() bool { return pops()[0].Healthy })
	if got := pops(); got[1].Healthy {
		t.Errorf("IAD1 healthy without a heartbeat: %+v", got[1])
	}

	// The PoPs are in the bucket: another control plane knows them, as
	// unhealthy until they speak.
	waitFor(t, 2*time.Second, "the pops bucket", func() bool {
		keys, _ := e.srv.store.pops.Keys(e.ctx)
		return len(keys) == 2
	})
	other, err := New(e.ctx, Options{NC: e.nc, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	other.Close() // no more heartbeats for it: what it loaded is what it shows
	known := other.PoPs()
	if len(known) != 2 || known[0].PoP != "FRA1" || known[0].Healthy || known[0].URL != "http://FRA1.test" {
		t.Errorf("pops loaded from the bucket: %+v", known)
	}
}

func TestHeartbeatWritesAreThrottled(t *testing.T) {
	e := newEnv(t, "", "")
	rev := func() uint64 {
		entry, err := e.srv.store.pops.Get(e.ctx, "FRA1")
		if err != nil {
			return 0
		}
		return entry.Revision()
	}
	e.heartbeat("FRA1")
	waitFor(t, 2*time.Second, "the first heartbeat stored", func() bool { return rev() != 0 })
	first := rev()
	e.clock.Advance(time.Second)
	e.heartbeat("FRA1")
	e.heartbeat("IAD1") // a marker: handled after the FRA1 heartbeat before it
	waitFor(t, 2*time.Second, "IAD1", func() bool { return len(e.srv.PoPs()) == 2 })
	if rev() != first {
		t.Errorf("a heartbeat 1s after the last write was written")
	}
	e.clock.Advance(popStoreInterval)
	e.heartbeat("FRA1")
	waitFor(t, 2*time.Second, "the heartbeat after the interval stored", func() bool { return rev() > first })
}
