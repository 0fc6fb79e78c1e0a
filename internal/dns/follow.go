package dns

import (
	"context"
	"maps"
	"reflect"
	"time"
)

// Sources are where a [Server.Follow]ing server reads its inputs.
type Sources struct {
	// State returns the PoPs and distributions now.
	State func(ctx context.Context) (State, error)
	// Health returns the PoPs' health now: id → healthy. A PoP missing
	// from the map is unhealthy. nil: every PoP is healthy.
	Health func(ctx context.Context) (map[string]bool, error)
	// Interval between two reads; 0 means 1 s, so that a PoP that stops
	// answering leaves the answers within the sources' own delay plus 1 s.
	Interval time.Duration
}

// Follow reads src at once and then every interval, and swaps in what
// changed, until ctx ends or the returned stop is called (stop waits for
// the loop to end). A source that fails is logged and its last good value
// kept. It returns the error of the first read of the state, if any (the
// loop runs all the same).
func (s *Server) Follow(ctx context.Context, src Sources) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	interval := src.Interval
	if interval <= 0 {
		interval = time.Second
	}
	var (
		lastState  State
		haveState  bool
		lastHealth map[string]bool
	)
	poll := func() error {
		var stateErr error
		if st, err := src.State(ctx); err != nil {
			stateErr = err
			s.log.Warn("dns: reading the state failed; the last one stays", "err", err)
		} else if !haveState || !reflect.DeepEqual(st, lastState) {
			if err := s.SetState(st); err != nil {
				stateErr = err
				s.log.Warn("dns: new state refused; the last one stays", "err", err)
			} else {
				lastState, haveState = st, true
			}
		}
		if src.Health == nil {
			return stateErr
		}
		h, err := src.Health(ctx)
		if err != nil {
			s.log.Warn("dns: reading the PoPs' health failed; the last one stays", "err", err)
			return stateErr
		}
		if lastHealth == nil || !maps.Equal(h, lastHealth) {
			s.SetHealth(func(id string) bool { return h[id] })
			lastHealth = h
		}
		return stateErr
	}
	err = poll()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer s.recoverLoop("follow")
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = poll()
			}
		}
	}()
	return func() { cancel(); <-done }, err
}
