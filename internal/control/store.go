package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// Errors of the store's compare-and-set operations.
var (
	ErrNotFound         = errors.New("control: no such resource")
	ErrExists           = errors.New("control: resource already exists")
	ErrRevisionMismatch = errors.New("control: revision is not the current one")
)

// Retention of the state the control plane keeps.
const (
	configHistory       = 5                  // revisions kept per configuration key
	invalidationsMaxAge = 7 * 24 * time.Hour // how long the stream keeps an invalidation for PoPs to replay
)

// Kind is a kind of configuration resource (config.Kinds is the table):
// its REST collection is Name, its KV bucket wire.ConfigBucket.
type Kind = config.Kind

// Kinds lists the configuration resources, each after those it refers to.
var Kinds = config.Kinds

// KindByName returns the kind whose REST collection is name.
func KindByName(name string) (Kind, bool) { return config.KindByName(name) }

// Resource is a stored configuration resource.
type Resource = wire.Item

// Snapshot is every stored configuration resource, by bucket, each list
// sorted by id.
type Snapshot = wire.Snapshot

// Store keeps the configuration and the control plane's state in JetStream
// KV buckets, and the invalidations in a stream. It is safe for concurrent
// use.
type Store struct {
	js            jetstream.JetStream
	config        map[string]jetstream.KeyValue // by bucket
	invalidations jetstream.KeyValue
	tokens        jetstream.KeyValue
	pops          jetstream.KeyValue
	stream        jetstream.Stream
	acks          jetstream.Stream
}

// OpenStore creates (or updates to the current settings) every bucket of the
// wire contract and the invalidation stream, all on file storage.
func OpenStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	s := &Store{js: js, config: map[string]jetstream.KeyValue{}}
	open := func(bucket, desc string, history uint8) (jetstream.KeyValue, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: desc,
			History:     history,
			Storage:     jetstream.FileStorage,
		})
		if err != nil {
			return nil, fmt.Errorf("control: store: bucket %s: %w", bucket, err)
		}
		return kv, nil
	}
	for _, k := range Kinds {
		kv, err := open(wire.ConfigBucket(k), "Strata "+k.Name+", by id", configHistory)
		if err != nil {
			return nil, err
		}
		s.config[wire.ConfigBucket(k)] = kv
	}
	var err error
	if s.invalidations, err = open(wire.BucketInvalidations, "Strata invalidations and their status, by id", 1); err != nil {
		return nil, err
	}
	if s.tokens, err = open(wire.BucketTokens, "Strata API tokens (sha256 only), by id", 1); err != nil {
		return nil, err
	}
	if s.pops, err = open(wire.BucketPoPs, "Strata PoPs: the last heartbeat of each", 1); err != nil {
		return nil, err
	}
	s.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        wire.StreamInvalidations,
		Description: "Strata invalidations, for every PoP to apply (and replay)",
		Subjects:    []string{wire.SubjectInvalidation + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      invalidationsMaxAge,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("control: store: stream %s: %w", wire.StreamInvalidations, err)
	}
	s.acks, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        wire.StreamAcks,
		Description: "Strata PoPs' acknowledgements of invalidations, until the control plane records them",
		// strata.ack: from PoPs before acks carried their id in the subject.
		Subjects:  []string{wire.SubjectAck, wire.SubjectAck + ".*"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    invalidationsMaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("control: store: stream %s: %w", wire.StreamAcks, err)
	}
	return s, nil
}

// kv returns the bucket of kind k.
func (s *Store) kv(k Kind) jetstream.KeyValue {
	kv, ok := s.config[wire.ConfigBucket(k)]
	if !ok {
		panic("control: unknown bucket " + wire.ConfigBucket(k))
	}
	return kv
}

// readAll returns the current entries of a bucket, sorted by key.
func readAll(ctx context.Context, kv jetstream.KeyValue) ([]Resource, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	out := []Resource{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed")
			}
			if e == nil { // every current value was delivered
				slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.ID, b.ID) })
				return out, nil
			}
			out = append(out, Resource{ID: e.Key(), Revision: e.Revision(), Value: e.Value()})
		}
	}
}

// List returns every resource of kind k, sorted by id.
func (s *Store) List(ctx context.Context, k Kind) ([]Resource, error) {
	out, err := readAll(ctx, s.kv(k))
	if err != nil {
		return nil, fmt.Errorf("control: store: list %s: %w", k.Name, err)
	}
	return out, nil
}

// Snapshot reads every configuration resource.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{}
	for _, k := range Kinds {
		rs, err := s.List(ctx, k)
		if err != nil {
			return nil, err
		}
		snap[wire.ConfigBucket(k)] = rs
	}
	return snap, nil
}

// Config reads the whole configuration: the distributions, policies, public
// keys and key groups of the buckets, sorted by id, decoded and validated
// by the strict config.Parse (wire.Snapshot.Parse, as the PoP agent does).
// The store has no pop or topology section: they are left empty.
func (s *Store) Config(ctx context.Context) (*config.Config, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := snap.Parse(nil, "control plane store")
	if err != nil {
		return nil, fmt.Errorf("control: store: %w", err)
	}
	cfg.PoP, cfg.Topology = config.PoP{}, config.Topology{}
	return cfg, nil
}

// Get returns the resource id of kind k, or ErrNotFound.
func (s *Store) Get(ctx context.Context, k Kind, id string) (Resource, error) {
	e, err := s.kv(k).Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted), errors.Is(err, jetstream.ErrInvalidKey):
		return Resource{}, ErrNotFound
	case err != nil:
		return Resource{}, fmt.Errorf("control: store: get %s/%s: %w", k.Name, id, err)
	}
	return Resource{ID: id, Revision: e.Revision(), Value: e.Value()}, nil
}

// Create stores a new resource, or returns ErrExists. It returns the
// resource's revision.
func (s *Store) Create(ctx context.Context, k Kind, id string, value []byte) (uint64, error) {
	rev, err := s.kv(k).Create(ctx, id, value)
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return 0, ErrExists
	case err != nil:
		return 0, fmt.Errorf("control: store: create %s/%s: %w", k.Name, id, err)
	}
	return rev, nil
}

// Update replaces a resource if its current revision is rev, or returns
// ErrRevisionMismatch. It returns the new revision.
func (s *Store) Update(ctx context.Context, k Kind, id string, value []byte, rev uint64) (uint64, error) {
	newRev, err := s.kv(k).Update(ctx, id, value, rev)
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return 0, ErrRevisionMismatch
	case err != nil:
		return 0, fmt.Errorf("control: store: update %s/%s: %w", k.Name, id, err)
	}
	return newRev, nil
}

// Delete removes a resource if its current revision is rev, or returns
// ErrRevisionMismatch.
func (s *Store) Delete(ctx context.Context, k Kind, id string, rev uint64) error {
	err := s.kv(k).Delete(ctx, id, jetstream.LastRevision(rev))
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return ErrRevisionMismatch
	case err != nil:
		return fmt.Errorf("control: store: delete %s/%s: %w", k.Name, id, err)
	}
	return nil
}

// Seed writes the distributions, policies, public keys and key groups of
// cfg into the store when every configuration bucket is empty, and does
// nothing otherwise (the store, not the file, is the source of truth once it
// has content). The resources are validated (a copy of them: cfg is only
// read) and stored with their defaults filled in.
func (s *Store) Seed(ctx context.Context, cfg *config.Config) error {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, rs := range snap {
		if len(rs) > 0 {
			return nil
		}
	}
	// Validate a copy: render the sections and parse them back.
	sections := *cfg
	sections.PoP, sections.Topology = config.PoP{}, config.Topology{}
	doc, err := json.Marshal(&sections)
	if err != nil {
		return fmt.Errorf("control: store: seed: %w", err)
	}
	valid, err := config.Parse(doc, "seed")
	if err != nil {
		return fmt.Errorf("control: store: seed: %w", err)
	}
	for _, k := range Kinds {
		for i := range k.Len(valid) {
			r := k.Item(valid, i)
			v, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("control: store: seed: %w", err)
			}
			id := r.ResourceID()
			if _, err := s.Create(ctx, k, id, v); err != nil && !errors.Is(err, ErrExists) {
				return err // ErrExists: a concurrent seed got there first
			}
		}
	}
	return nil
}

// Apply writes the distributions, policies, public keys and key groups of
// cfg into the store, creating those that are missing and replacing those
// that differ; resources that only the store has are kept. `strata run` uses
// it at every start, so the file (or the demo, or quick mode) it was started
// with is in force while what was created through the API survives. The
// resulting configuration must validate, or nothing is written.
func (s *Store) Apply(ctx context.Context, cfg *config.Config) error {
	sections := *cfg
	sections.PoP, sections.Topology = config.PoP{}, config.Topology{}
	doc, err := json.Marshal(&sections)
	if err != nil {
		return fmt.Errorf("control: store: apply: %w", err)
	}
	valid, err := config.Parse(doc, "configuration")
	if err != nil {
		return err
	}
	// The merged result must validate: the file's resources replace the
	// stored ones of the same id.
	stored, err := s.Config(ctx)
	if err != nil {
		return err
	}
	merged := config.Merge(stored, valid)
	if err := merged.Validate(); err != nil {
		return fmt.Errorf("the configuration together with the control plane's store: %w", err)
	}
	// In the order of the table, each kind after those it refers to, so no
	// PoP sees a distribution that names a policy it has not received.
	for _, k := range Kinds {
		for i := range k.Len(valid) {
			r := k.Item(valid, i)
			v, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("control: store: apply: %w", err)
			}
			id := r.ResourceID()
			cur, err := s.Get(ctx, k, id)
			switch {
			case errors.Is(err, ErrNotFound):
				if _, err := s.Create(ctx, k, id, v); err != nil {
					return err
				}
			case err != nil:
				return err
			case !bytes.Equal(cur.Value, v):
				if _, err := s.Update(ctx, k, id, v, cur.Revision); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
