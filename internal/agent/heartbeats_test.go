package agent

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// A heartbeat makes its PoP heard and healthy for wire.UnhealthyAfter; one
// whose body names another PoP than its subject, or that is not JSON, is
// dropped.
func TestHeartbeatsHealth(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	h := &Heartbeats{now: func() time.Time { return now }, pops: map[string]heard{}}
	for _, m := range []struct{ subject, data string }{
		{wire.SubjectHeartbeat + ".FRA1", `{"pop":"FRA1","tier":"edge","location":"FRA","url":"http://127.0.2.2:8080"}`},
		{wire.SubjectHeartbeat + ".FRA1", `{"pop":"NRT1","location":"NRT"}`}, // FRA1 speaking for NRT1
		{wire.SubjectHeartbeat + ".NRT1", `{"pop":"NRT1"`},                   // broken
		{wire.SubjectHeartbeat + ".IAD1", `{"location":"IAD"}`},              // no pop
	} {
		h.on(&nats.Msg{Subject: m.subject, Data: []byte(m.data)})
	}
	got := h.PoPs()
	if len(got) != 1 || got[0].PoP != "FRA1" || got[0].Location != "FRA" || got[0].URL != "http://127.0.2.2:8080" || !got[0].Healthy {
		t.Fatalf("PoPs = %+v, want FRA1 alone, healthy", got)
	}
	now = now.Add(wire.UnhealthyAfter - time.Millisecond)
	if got := h.PoPs(); !got[0].Healthy {
		t.Errorf("FRA1 unhealthy %v after its heartbeat", wire.UnhealthyAfter-time.Millisecond)
	}
	now = now.Add(time.Millisecond)
	if got := h.PoPs(); len(got) != 1 || got[0].Healthy {
		t.Errorf("FRA1 silent for %v: %+v, want heard and unhealthy", wire.UnhealthyAfter, got)
	}
	h.on(&nats.Msg{Subject: wire.SubjectHeartbeat + ".FRA1", Data: []byte(`{"pop":"FRA1","location":"FRA"}`)})
	if got := h.PoPs(); !got[0].Healthy {
		t.Error("FRA1 speaks again and is still unhealthy")
	}
}
