package agent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
)

type kvEvent struct {
	bucket string
	entry  jetstream.KeyValueEntry // nil: the bucket's initial values are all in
}

// WatchConfig watches every configuration bucket (wire.ConfigBuckets) and,
// once each bucket's initial values are in, calls f with the whole snapshot
// (items sorted by id) after every batch of changes: a burst of changes
// makes one call. version is the sum of the buckets' latest revisions: it
// grows with every change. It returns when ctx ends. A PoP's agent and a
// DNS server on its own machine (strata dns --nats) read the configuration
// this way; the buckets may not exist yet, and are waited for.
func WatchConfig(ctx context.Context, js jetstream.JetStream, f func(snap wire.Snapshot, version uint64)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	events := make(chan kvEvent, 256)
	for _, b := range wire.ConfigBuckets {
		var w jetstream.KeyWatcher
		err := retry(ctx, func() error {
			kv, err := js.KeyValue(ctx, b)
			if err != nil {
				return err
			}
			w, err = kv.WatchAll(ctx)
			return err
		})
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stop talks to the server; with NATS gone it blocks for seconds.
			// Closing the connection right after ends it anyway.
			defer func() { go w.Stop() }()
			for {
				select {
				case <-ctx.Done():
					return
				case e, ok := <-w.Updates():
					if !ok {
						return
					}
					select {
					case events <- kvEvent{bucket: b, entry: e}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	state := map[string]map[string]jetstream.KeyValueEntry{}
	revs := map[string]uint64{}
	initial := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			take(state, revs, initial, ev)
		}
		// Take every change already queued before building.
	drain:
		for {
			select {
			case ev := <-events:
				take(state, revs, initial, ev)
			default:
				break drain
			}
		}
		if len(initial) < len(wire.ConfigBuckets) {
			continue
		}
		var version uint64
		for _, r := range revs {
			version += r
		}
		f(snapshot(state), version)
	}
}

// retry runs f until it succeeds or ctx ends, waiting between attempts: the
// control plane may not have created its buckets yet.
func retry(ctx context.Context, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
}

func take(state map[string]map[string]jetstream.KeyValueEntry, revs map[string]uint64, initial map[string]bool, ev kvEvent) {
	if ev.entry == nil {
		initial[ev.bucket] = true
		return
	}
	m := state[ev.bucket]
	if m == nil {
		m = map[string]jetstream.KeyValueEntry{}
		state[ev.bucket] = m
	}
	if r := ev.entry.Revision(); r > revs[ev.bucket] {
		revs[ev.bucket] = r
	}
	if ev.entry.Operation() != jetstream.KeyValuePut {
		delete(m, ev.entry.Key())
		return
	}
	m[ev.entry.Key()] = ev.entry
}

// snapshot is the buckets' entries (by bucket, then key) as a wire.Snapshot,
// each bucket's items sorted by id.
func snapshot(state map[string]map[string]jetstream.KeyValueEntry) wire.Snapshot {
	snap := wire.Snapshot{}
	for bucket, entries := range state {
		items := make([]wire.Item, 0, len(entries))
		for k, e := range entries {
			items = append(items, wire.Item{ID: k, Revision: e.Revision(), Value: e.Value()})
		}
		slices.SortFunc(items, func(x, y wire.Item) int { return strings.Compare(x.ID, y.ID) })
		snap[bucket] = items
	}
	return snap
}

// build makes the configuration of the buckets' entries and base's pop and
// topology sections as the control plane makes it.
func build(state map[string]map[string]jetstream.KeyValueEntry, base *config.Config) (*config.Config, error) {
	return snapshot(state).Parse(base, "control plane configuration")
}
