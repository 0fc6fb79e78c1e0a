package origin

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Parent tiers. A PoP's cacheable misses go to a parent tier (its regional
// edge cache, or an origin shield) over an Upstream: another PoP, reached
// like an origin with its own connection pool. A parent that cannot be
// reached is marked down and skipped for parentDownFor; meanwhile the
// fetch goes to the origin (the pop package decides that, in tier.go).

// parentDownFor is how long a parent that failed is skipped.
const parentDownFor = 5 * time.Second

// Upstream is a parent tier: a peer PoP, its connection pool and its health.
type Upstream struct {
	o         *Origin
	downUntil atomic.Int64 // unix nanos
}

// NewUpstream builds the upstream for the peer PoP id reached at url
// (http:// or https://; verified against the PEM file caBundle when set).
// egress, if set, is the source address of its connections.
func NewUpstream(id, url, egress, caBundle string) (*Upstream, error) {
	o, err := New(Settings{
		ID:                 id,
		HTTPBase:           url, // http:// or https://
		CABundle:           caBundle,
		ConnectionTimeout:  2 * time.Second,
		ConnectionAttempts: 1,
		ReadTimeout:        90 * time.Second, // the parent may itself be waiting for a slow origin
		KeepaliveTimeout:   60 * time.Second,
		LocalAddr:          egress,
	})
	if err != nil {
		return nil, err
	}
	return &Upstream{o: o}, nil
}

// ID is the peer PoP's id.
func (u *Upstream) ID() string { return u.o.ID() }

// Do sends req to the parent, with the Host the caller set (the viewer's:
// the parent keys and routes on it). It is Origin.Do; errors are *Error.
func (u *Upstream) Do(req *http.Request) (*http.Response, error) { return u.o.Do(req, "http", true) }

// Healthy reports whether the parent is to be asked at now: it was not
// marked down within parentDownFor before.
func (u *Upstream) Healthy(now time.Time) bool { return now.UnixNano() >= u.downUntil.Load() }

// MarkDown skips the parent for parentDownFor from now.
func (u *Upstream) MarkDown(now time.Time) { u.downUntil.Store(now.Add(parentDownFor).UnixNano()) }

// Close releases idle connections.
func (u *Upstream) Close() { u.o.Close() }
