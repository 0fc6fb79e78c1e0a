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

// Kind is a kind of configuration resource: its REST collection, its KV
// bucket and its section of the configuration.
type Kind struct {
	Name   string // REST collection: "distributions", "cache-policies", ...
	Bucket string // KV bucket (wire.Bucket...)
	Field  string // JSON name of its section of config.Config: "distributions", "cachePolicies", ...
}

// Kinds lists the configuration resources, in the order of config.Config.
var Kinds = []Kind{
	{Name: "distributions", Bucket: wire.BucketDistributions, Field: "distributions"},
	{Name: "cache-policies", Bucket: wire.BucketCachePolicies, Field: "cachePolicies"},
	{Name: "origin-request-policies", Bucket: wire.BucketOriginRequestPolicies, Field: "originRequestPolicies"},
	{Name: "response-headers-policies", Bucket: wire.BucketResponseHeadersPolicies, Field: "responseHeadersPolicies"},
	{Name: "public-keys", Bucket: wire.BucketPublicKeys, Field: "publicKeys"},
	{Name: "key-groups", Bucket: wire.BucketKeyGroups, Field: "keyGroups"},
}

// KindByName returns the kind whose REST collection is name.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// singular names one resource of the kind: "distribution", "cache policy".
func (k Kind) singular() string {
	n := strings.ReplaceAll(k.Name, "-", " ")
	if m, ok := strings.CutSuffix(n, "ies"); ok {
		return m + "y"
	}
	return strings.TrimSuffix(n, "s")
}

// section returns the i-th resource of k's section of c, and the section's
// length.
func (k Kind) section(c *config.Config) (n int, item func(int) any) {
	switch k.Field {
	case "distributions":
		return len(c.Distributions), func(i int) any { return &c.Distributions[i] }
	case "cachePolicies":
		return len(c.CachePolicies), func(i int) any { return &c.CachePolicies[i] }
	case "originRequestPolicies":
		return len(c.OriginRequestPolicies), func(i int) any { return &c.OriginRequestPolicies[i] }
	case "responseHeadersPolicies":
		return len(c.ResponseHeadersPolicies), func(i int) any { return &c.ResponseHeadersPolicies[i] }
	case "publicKeys":
		return len(c.PublicKeys), func(i int) any { return &c.PublicKeys[i] }
	case "keyGroups":
		return len(c.KeyGroups), func(i int) any { return &c.KeyGroups[i] }
	}
	panic("control: unknown kind " + k.Field)
}

// Resource is a stored configuration resource.
type Resource struct {
	ID       string
	Revision uint64          // its KV revision: the REST API's ETag
	Value    json.RawMessage // its JSON, as config.Distribution and friends
}

// Snapshot is every stored configuration resource, by bucket, each list
// sorted by id.
type Snapshot map[string][]Resource

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
		kv, err := open(k.Bucket, "Strata "+k.Name+", by id", configHistory)
		if err != nil {
			return nil, err
		}
		s.config[k.Bucket] = kv
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
	kv, ok := s.config[k.Bucket]
	if !ok {
		panic("control: unknown bucket " + k.Bucket)
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
		snap[k.Bucket] = rs
	}
	return snap, nil
}

// Config reads the whole configuration: the distributions, policies, public
// keys and key groups of the buckets, sorted by id; the pop and topology
// sections are empty. The resources were validated when they were stored;
// the result is not validated again.
func (s *Store) Config(ctx context.Context) (*config.Config, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	doc, _, err := snap.document(Kind{}, "", nil)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{}
	if err := json.Unmarshal(doc, cfg); err != nil {
		return nil, fmt.Errorf("control: store: decode configuration: %w", err)
	}
	return cfg, nil
}

// document renders the snapshot as a configuration document (JSON) after a
// change of the resource id of kind k: value replaces it, or removes it when
// nil. The changed resource comes first in its section, so that problems in
// it are reported at <section>[0]. ids lists the ids of each section (by
// JSON field name) in the document's order.
func (snap Snapshot) document(k Kind, id string, value json.RawMessage) (doc []byte, ids map[string][]string, err error) {
	sections := map[string][]json.RawMessage{}
	ids = map[string][]string{}
	for _, kind := range Kinds {
		items := []json.RawMessage{}
		if kind == k && value != nil {
			items = append(items, value)
			ids[kind.Field] = append(ids[kind.Field], id)
		}
		for _, r := range snap[kind.Bucket] {
			if kind == k && r.ID == id {
				continue
			}
			items = append(items, r.Value)
			ids[kind.Field] = append(ids[kind.Field], r.ID)
		}
		sections[kind.Field] = items
	}
	doc, err = json.Marshal(sections)
	if err != nil {
		return nil, nil, fmt.Errorf("control: store: render configuration: %w", err)
	}
	return doc, ids, nil
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
		n, item := k.section(valid)
		for i := range n {
			v, err := json.Marshal(item(i))
			if err != nil {
				return fmt.Errorf("control: store: seed: %w", err)
			}
			id := resourceID(item(i))
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
	merged := mergeConfig(stored, valid)
	if err := merged.Validate(); err != nil {
		return fmt.Errorf("the configuration together with the control plane's store: %w", err)
	}
	// Dependencies first, distributions last, so no PoP sees a distribution
	// that names a policy it has not received.
	order := make([]Kind, 0, len(Kinds))
	for _, k := range Kinds {
		if k.Bucket != wire.BucketDistributions {
			order = append(order, k)
		}
	}
	for _, k := range Kinds {
		if k.Bucket == wire.BucketDistributions {
			order = append(order, k)
		}
	}
	for _, k := range order {
		n, item := k.section(valid)
		for i := range n {
			v, err := json.Marshal(item(i))
			if err != nil {
				return fmt.Errorf("control: store: apply: %w", err)
			}
			id := resourceID(item(i))
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

// mergeConfig returns stored with add's resources replacing those of the same id.
func mergeConfig(stored, add *config.Config) *config.Config {
	out := *stored
	out.Distributions = mergeByID(stored.Distributions, add.Distributions, func(d config.Distribution) string { return d.ID })
	out.CachePolicies = mergeByID(stored.CachePolicies, add.CachePolicies, func(d config.CachePolicy) string { return d.ID })
	out.OriginRequestPolicies = mergeByID(stored.OriginRequestPolicies, add.OriginRequestPolicies, func(d config.OriginRequestPolicy) string { return d.ID })
	out.ResponseHeadersPolicies = mergeByID(stored.ResponseHeadersPolicies, add.ResponseHeadersPolicies, func(d config.ResponseHeadersPolicy) string { return d.ID })
	out.PublicKeys = mergeByID(stored.PublicKeys, add.PublicKeys, func(d config.PublicKey) string { return d.ID })
	out.KeyGroups = mergeByID(stored.KeyGroups, add.KeyGroups, func(d config.KeyGroup) string { return d.ID })
	return &out
}

func mergeByID[T any](stored, add []T, id func(T) string) []T {
	seen := map[string]bool{}
	out := make([]T, 0, len(stored)+len(add))
	for _, a := range add {
		seen[id(a)] = true
		out = append(out, a)
	}
	for _, s := range stored {
		if !seen[id(s)] {
			out = append(out, s)
		}
	}
	return out
}

// resourceID returns the id of a configuration resource.
func resourceID(r any) string {
	switch r := r.(type) {
	case *config.Distribution:
		return r.ID
	case *config.CachePolicy:
		return r.ID
	case *config.OriginRequestPolicy:
		return r.ID
	case *config.ResponseHeadersPolicy:
		return r.ID
	case *config.PublicKey:
		return r.ID
	case *config.KeyGroup:
		return r.ID
	}
	panic(fmt.Sprintf("control: not a resource: %T", r))
}
