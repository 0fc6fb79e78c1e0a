package control

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/testutil"
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
	testutil.WaitFor(t, 2*time.Second, "two PoPs", func() bool { return len(pops()) == 2 })
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
	testutil.WaitFor(t, 2*time.Second, "FRA1 healthy again", func() bool { return pops()[0].Healthy })
	if got := pops(); got[1].Healthy {
		t.Errorf("IAD1 healthy without a heartbeat: %+v", got[1])
	}

	// The PoPs are in the bucket: another control plane knows them, as
	// unhealthy until they speak.
	testutil.WaitFor(t, 2*time.Second, "the pops bucket", func() bool {
		keys, _ := e.srv.store.pops.Keys(e.ctx)
		return len(keys) == 2
	})
	other, err := New(e.ctx, Options{NC: e.nc, Now: e.clock.Now, Logger: quietLog})
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
	testutil.WaitFor(t, 2*time.Second, "the first heartbeat stored", func() bool { return rev() != 0 })
	first := rev()
	e.clock.Advance(time.Second)
	e.heartbeat("FRA1")
	e.heartbeat("IAD1") // a marker: handled after the FRA1 heartbeat before it
	testutil.WaitFor(t, 2*time.Second, "IAD1", func() bool { return len(e.srv.PoPs()) == 2 })
	if rev() != first {
		t.Errorf("a heartbeat 1s after the last write was written")
	}
	e.clock.Advance(popStoreInterval)
	e.heartbeat("FRA1")
	testutil.WaitFor(t, 2*time.Second, "the heartbeat after the interval stored", func() bool { return rev() > first })
}

func TestIPRanges(t *testing.T) {
	e := newEnv(t, "", "")
	e.publish(wire.SubjectHeartbeat+".FRA1", wire.Heartbeat{PoP: "FRA1", Region: "eu", URL: "http://127.0.2.1:8080", Egress: "127.0.2.1", Time: e.clock.Now()})
	e.publish(wire.SubjectHeartbeat+".IAD1", wire.Heartbeat{PoP: "IAD1", Region: "na", URL: "http://[::1]:8080", Time: e.clock.Now()})
	testutil.WaitFor(t, 2*time.Second, "two PoPs", func() bool { return len(e.srv.PoPs()) == 2 })
	resp, err := http.Get(e.api.URL + "/ip-ranges.json") // public: no token
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		CreateDate string `json:"createDate"`
		Prefixes   []struct {
			IPPrefix string `json:"ip_prefix"`
			Region   string `json:"region"`
			Service  string `json:"service"`
		} `json:"prefixes"`
		IPv6 []struct {
			IPv6Prefix string `json:"ipv6_prefix"`
		} `json:"ipv6_prefixes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if len(got.Prefixes) != 1 || got.Prefixes[0].Service != "CLOUDFRONT_ORIGIN_FACING" || got.Prefixes[0].Region != "EU" ||
		len(got.IPv6) != 1 || got.IPv6[0].IPv6Prefix != "::1/128" || got.CreateDate == "" {
		t.Fatalf("ip-ranges: %+v", got)
	}
}
