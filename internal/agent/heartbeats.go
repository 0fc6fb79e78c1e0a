package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// Heartbeats follows the PoPs' heartbeats on NATS, as the control plane
// does, for a process on another machine that needs their health (strata
// dns --nats). A heartbeat whose body names another PoP than its subject is
// dropped: a PoP's identity may publish on its own subject only.
type Heartbeats struct {
	sub *nats.Subscription
	now func() time.Time

	mu   sync.Mutex
	pops map[string]heard
}

type heard struct {
	hb   wire.Heartbeat
	seen time.Time // our clock
}

// HeardPoP is a PoP that sent a heartbeat, and whether it is healthy: it
// spoke within wire.UnhealthyAfter.
type HeardPoP struct {
	wire.Heartbeat
	Healthy bool
}

// FollowHeartbeats subscribes to every PoP's heartbeats on nc. now is the
// clock (nil: time.Now).
func FollowHeartbeats(nc *nats.Conn, now func() time.Time) (*Heartbeats, error) {
	if now == nil {
		now = time.Now
	}
	h := &Heartbeats{now: now, pops: map[string]heard{}}
	sub, err := nc.Subscribe(wire.SubjectHeartbeat+".*", h.on)
	if err != nil {
		return nil, err
	}
	h.sub = sub
	return h, nil
}

func (h *Heartbeats) on(m *nats.Msg) {
	var hb wire.Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil {
		return
	}
	if hb.PoP == "" || hb.PoP != strings.TrimPrefix(m.Subject, wire.SubjectHeartbeat+".") {
		return
	}
	h.mu.Lock()
	h.pops[hb.PoP] = heard{hb: hb, seen: h.now()}
	h.mu.Unlock()
}

// PoPs are the PoPs heard since the start, sorted by id.
func (h *Heartbeats) PoPs() []HeardPoP {
	now := h.now()
	h.mu.Lock()
	out := make([]HeardPoP, 0, len(h.pops))
	for _, p := range h.pops {
		out = append(out, HeardPoP{Heartbeat: p.hb, Healthy: now.Sub(p.seen) < wire.UnhealthyAfter})
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b HeardPoP) int { return strings.Compare(a.PoP, b.PoP) })
	return out
}

// Close unsubscribes.
func (h *Heartbeats) Close() {
	h.sub.Unsubscribe()
}
