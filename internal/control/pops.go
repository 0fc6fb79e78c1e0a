package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// popStoreInterval is the least time between two writes of one PoP's
// heartbeat to the pops bucket.
const popStoreInterval = 5 * time.Second

var popIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// popState is what the control plane knows of a PoP.
type popState struct {
	hb     wire.Heartbeat // the latest heartbeat
	seen   time.Time      // when it arrived (our clock); zero if only loaded from the bucket
	stored time.Time      // when it was last written to the bucket
}

// healthy reports whether the PoP spoke within wire.UnhealthyAfter of now.
func (p *popState) healthy(now time.Time) bool {
	return !p.seen.IsZero() && now.Sub(p.seen) < wire.UnhealthyAfter
}

// PoPStatus is one element of GET /pops.
type PoPStatus struct {
	PoP           string    `json:"pop"`
	Tier          string    `json:"tier"`
	Location      string    `json:"location"`
	Region        string    `json:"region"`
	URL           string    `json:"url"`
	Egress        string    `json:"egress,omitempty"`
	ConfigVersion uint64    `json:"configVersion"`
	ConfigError   string    `json:"configError"`
	LastHeartbeat time.Time `json:"lastHeartbeat"` // when the control plane last heard it (the stored heartbeat's time after a restart)
	Healthy       bool      `json:"healthy"`
}

// loadPoPs reads the PoPs known from earlier runs; they are unhealthy until
// they send a heartbeat.
func (s *Server) loadPoPs(ctx context.Context) error {
	rs, err := readAll(ctx, s.store.pops)
	if err != nil {
		return fmt.Errorf("control: pops: load: %w", err)
	}
	s.popMu.Lock()
	defer s.popMu.Unlock()
	for _, r := range rs {
		var hb wire.Heartbeat
		if err := json.Unmarshal(r.Value, &hb); err != nil {
			s.log.Warn("bad pop record", "pop", r.ID, "err", err)
			continue
		}
		hb.PoP = r.ID
		s.pops[r.ID] = &popState{hb: hb}
	}
	return nil
}

// onHeartbeat records a PoP's heartbeat, and writes it to the pops bucket
// at most once every popStoreInterval.
func (s *Server) onHeartbeat(m *nats.Msg) {
	var hb wire.Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil {
		s.log.Debug("bad heartbeat", "subject", m.Subject, "err", err)
		return
	}
	// A PoP's identity may publish on its own subject only: the body must
	// name the same PoP (so that no other message copied there counts).
	if from := strings.TrimPrefix(m.Subject, wire.SubjectHeartbeat+"."); hb.PoP != from {
		s.log.Warn("heartbeat dropped: its body names another PoP than its subject", "subject", m.Subject, "pop", hb.PoP)
		return
	}
	if !popIDPattern.MatchString(hb.PoP) || len(hb.PoP) > 128 {
		s.log.Debug("heartbeat with a bad pop id", "subject", m.Subject, "pop", hb.PoP)
		return
	}
	now := s.now()
	s.popMu.Lock()
	p := s.pops[hb.PoP]
	if p == nil {
		p = &popState{}
		s.pops[hb.PoP] = p
		s.log.Info("pop joined", "pop", hb.PoP, "tier", hb.Tier, "url", hb.URL)
	}
	p.hb, p.seen = hb, now
	store := p.stored.IsZero() || now.Sub(p.stored) >= popStoreInterval || now.Before(p.stored)
	if store {
		p.stored = now
	}
	s.popMu.Unlock()
	if !store {
		return
	}
	b, err := json.Marshal(hb)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if _, err := s.store.pops.Put(ctx, hb.PoP, b); err != nil {
		s.log.Warn("storing heartbeat failed", "pop", hb.PoP, "err", err)
	}
}

// healthyPoPs returns the ids of the PoPs healthy at now, sorted.
func (s *Server) healthyPoPs(now time.Time) []string {
	s.popMu.Lock()
	defer s.popMu.Unlock()
	var ids []string
	for id, p := range s.pops {
		if p.healthy(now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// PoPs returns the status of every known PoP, sorted by id.
func (s *Server) PoPs() []PoPStatus {
	now := s.now()
	s.popMu.Lock()
	out := make([]PoPStatus, 0, len(s.pops))
	for id, p := range s.pops {
		last := p.seen
		if last.IsZero() {
			last = p.hb.Time
		}
		out = append(out, PoPStatus{
			PoP: id, Tier: p.hb.Tier, Location: p.hb.Location, Region: p.hb.Region, URL: p.hb.URL, Egress: p.hb.Egress,
			ConfigVersion: p.hb.ConfigVersion, ConfigError: p.hb.ConfigError,
			LastHeartbeat: last.UTC(), Healthy: p.healthy(now),
		})
	}
	s.popMu.Unlock()
	slices.SortFunc(out, func(a, b PoPStatus) int { return strings.Compare(a.PoP, b.PoP) })
	return out
}

func (s *Server) listPoPs(w http.ResponseWriter, r *http.Request) error {
	items := s.PoPs()
	return writeJSON(w, http.StatusOK, List[PoPStatus]{Items: items, Quantity: len(items)})
}
