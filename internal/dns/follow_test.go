package dns

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/strata-cdn/strata/internal/testutil"
)

// TestFollow: a following server takes new distributions and health from
// its sources within an interval or two, and keeps the last good state
// when a source fails.
func TestFollow(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t)}, State{})
	var mu sync.Mutex
	st := w.state(testDists()[0])
	health := map[string]bool{}
	for _, p := range w.specs {
		health[p.ID] = true
	}
	var stateErr error
	reads := 0
	src := Sources{
		State: func(context.Context) (State, error) {
			mu.Lock()
			defer mu.Unlock()
			reads++
			return st, stateErr
		},
		Health: func(context.Context) (map[string]bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return maps.Clone(health), nil
		},
		Interval: 10 * time.Millisecond,
	}
	stop, err := s.Follow(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	de := netip.MustParsePrefix("127.2.0.0/24")
	ask := func(label string) *mdns.Msg {
		return exchange(t, s, query(label+"."+testZone, mdns.TypeA, de), "udp", nil)
	}
	first := w.popOf(t, ask(labelAll))
	if r := ask(label100); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("not yet a distribution: %s", mdns.RcodeToString[r.Rcode])
	}
	mu.Lock()
	st = w.state(testDists()...)
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, "the new distribution", func() bool { return ask(label100).Rcode == mdns.RcodeSuccess })

	mu.Lock()
	health[first.ID] = false
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, first.ID+" to leave the answers", func() bool { return w.popOf(t, ask(labelAll)).ID != first.ID })
	mu.Lock()
	delete(health, first.ID) // unknown: unhealthy too
	stateErr = errors.New("store unreachable")
	from := reads
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, "three failed reads", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return reads >= from+3
	})
	if r := ask(label100); r.Rcode != mdns.RcodeSuccess || w.popOf(t, r).ID == first.ID {
		t.Errorf("after failed reads: %s %v", mdns.RcodeToString[r.Rcode], r.Answer)
	}
	mu.Lock()
	health[first.ID] = true
	mu.Unlock()
	testutil.WaitFor(t, 5*time.Second, first.ID+" to come back", func() bool { return w.popOf(t, ask(labelAll)).ID == first.ID })
}
