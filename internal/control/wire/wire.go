// Package wire is the contract between Strata's control plane and its PoPs
// on NATS JetStream: bucket, stream and subject names, and the JSON shapes
// that travel on them. Both sides import it; nothing else lives here.
//
// Configuration lives in JetStream KV buckets, one per resource kind, keyed
// by the resource id; each value is the resource's JSON (the same field names
// as the configuration file, config.Distribution and friends). A key's KV
// revision is its version: the REST API's ETag, and the value If-Match must
// carry (updates are compare-and-set on that revision).
//
// Invalidations are records in a KV bucket (their status) and messages on a
// stream; every PoP reads the stream with its own durable consumer, so a PoP
// that was cut off replays what it missed, and acknowledges each one it
// applied on SubjectAck. PoPs announce themselves on SubjectHeartbeat. Both
// subjects end in the PoP's id, the only one its NATS identity may publish
// on; the control plane drops a message whose body names another PoP.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// ConfigBucket is the KV bucket of the resources of kind k: "strata_" and
// its REST collection with "_" for "-" (strata_cache_policies).
func ConfigBucket(k config.Kind) string {
	return "strata_" + strings.ReplaceAll(k.Name, "-", "_")
}

// ConfigBuckets lists the configuration buckets, in the order of
// config.Kinds (every PoP watches them all).
var ConfigBuckets = func() []string {
	out := make([]string, 0, len(config.Kinds))
	for _, k := range config.Kinds {
		out = append(out, ConfigBucket(k))
	}
	return out
}()

// Item is one stored configuration resource.
type Item struct {
	ID       string
	Revision uint64          // its KV revision: the REST API's ETag
	Value    json.RawMessage // its JSON, as config.Distribution and friends
}

// Snapshot is configuration resources by bucket (ConfigBucket), each list
// in the order its section of the document has.
type Snapshot map[string][]Item

// Document renders the snapshot as one configuration document (JSON): a
// section per kind of config.Kinds, its items in the snapshot's order, and
// the pop and topology sections of base when it is not nil.
func (snap Snapshot) Document(base *config.Config) ([]byte, error) {
	doc := map[string]any{}
	if base != nil {
		doc["pop"], doc["topology"] = base.PoP, base.Topology
	}
	for _, k := range config.Kinds {
		items := make([]json.RawMessage, 0, len(snap[ConfigBucket(k)]))
		for _, it := range snap[ConfigBucket(k)] {
			items = append(items, it.Value)
		}
		doc[k.Field] = items
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("wire: render configuration: %w", err)
	}
	return b, nil
}

// Parse decodes the snapshot's document (see Document) with the strict
// config.Parse: unknown fields are refused, defaults filled in, the whole
// validated. On failure the error wraps config.Errors whose messages name the
// resource each problem is in (` (distribution "shop")`); their lines, of
// the rendered document, are dropped.
func (snap Snapshot) Parse(base *config.Config, name string) (*config.Config, error) {
	doc, err := snap.Document(base)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(doc, name)
	var es config.Errors
	if err == nil || !errors.As(err, &es) {
		return cfg, err
	}
	for i := range es {
		es[i].Line = 0
		es[i].Msg += snap.Name(es[i].Path)
	}
	if len(es) == 1 {
		return nil, fmt.Errorf("%s: %w", name, es)
	}
	return nil, fmt.Errorf("%s: %d problems:\n%w", name, len(es), es)
}

// Name names the resource that a field path of the snapshot's document
// points into, ` (distribution "shop")`, or returns "".
func (snap Snapshot) Name(path string) string {
	field, rest, ok := strings.Cut(path, "[")
	if !ok {
		return ""
	}
	k, ok := config.KindByField(field)
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(rest, "]")
	i, err := strconv.Atoi(n)
	items := snap[ConfigBucket(k)]
	if err != nil || i < 0 || i >= len(items) {
		return ""
	}
	return fmt.Sprintf(" (%s %q)", k.Singular, items[i].ID)
}

// Control-plane state.
const (
	BucketInvalidations = "strata_invalidations" // key: invalidation id; value: Invalidation
	BucketTokens        = "strata_tokens"        // key: token id; value: Token (hash only)
	BucketPoPs          = "strata_pops"          // key: PoP id; value: the last Heartbeat
)

// The invalidation stream and its subjects.
const (
	StreamInvalidations = "STRATA_INVALIDATIONS"
	// StreamAcks keeps the PoPs' acknowledgements until the control plane
	// has recorded them, so none is lost while it is down.
	StreamAcks = "STRATA_ACKS"
	// SubjectInvalidation + "." + distribution id carries an Invalidation.
	SubjectInvalidation = "strata.invalidation"
	// SubjectAck + "." + PoP id carries an Ack from a PoP that applied an
	// invalidation (the PoP's own id: its NATS identity may publish there
	// only).
	SubjectAck = "strata.ack"
	// SubjectHeartbeat + "." + PoP id carries a Heartbeat.
	SubjectHeartbeat = "strata.heartbeat"
)

// PoPConsumer is the name of a PoP's durable consumer of
// StreamInvalidations.
func PoPConsumer(pop string) string { return "pop-" + pop }

// HeartbeatInterval is how often PoPs announce themselves; a PoP silent for
// UnhealthyAfter is marked unhealthy.
const (
	HeartbeatInterval = time.Second
	UnhealthyAfter    = 3 * HeartbeatInterval
)

// Invalidation statuses, as CloudFront names them.
const (
	StatusInProgress = "InProgress"
	StatusCompleted  = "Completed"
)

// Invalidation removes objects from every PoP of the network.
type Invalidation struct {
	ID              string    `json:"id"`
	DistributionID  string    `json:"distributionId"`
	CallerReference string    `json:"callerReference,omitempty"`
	Paths           []string  `json:"paths,omitempty"` // exact paths, or a prefix ending in "*" (CloudFront's rules)
	Tags            []string  `json:"tags,omitempty"`  // cache tags (Cache-Tag / Surrogate-Key response headers)
	CreateTime      time.Time `json:"createTime"`
	Status          string    `json:"status"`
	// Expected are the PoPs that were healthy when it was created; it is
	// Completed when every one of them has acknowledged.
	Expected     []string             `json:"expected,omitempty"`
	Acked        map[string]time.Time `json:"acked,omitempty"`
	CompleteTime *time.Time           `json:"completeTime,omitempty"`
}

// Ack is a PoP's acknowledgement that it applied an invalidation.
type Ack struct {
	InvalidationID string    `json:"invalidationId"`
	PoP            string    `json:"pop"`
	Removed        int       `json:"removed"` // objects it removed
	Time           time.Time `json:"time"`
}

// Heartbeat is a PoP's periodic announcement.
type Heartbeat struct {
	PoP      string `json:"pop"`
	Tier     string `json:"tier"`
	Location string `json:"location"`
	Region   string `json:"region"`
	URL      string `json:"url"`
	Egress   string `json:"egress,omitempty"`
	// ConfigVersion is the sum of the KV revisions of the configuration the
	// PoP serves (it grows with every applied change); ConfigError is why
	// the latest change was refused, if it was.
	ConfigVersion uint64    `json:"configVersion"`
	ConfigError   string    `json:"configError,omitempty"`
	Time          time.Time `json:"time"`
}

// Token is an API token as stored: never the secret itself.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	SHA256  string    `json:"sha256"` // hex of sha256(secret)
	Created time.Time `json:"created"`
}
