package pop

import (
	"container/list"
	"net/http"
	"sync"
	"time"
)

// Unsafe methods through tiers. A successful unsafe request (POST, PUT,
// DELETE, …) goes from the edge straight to the origin, and the edge drops
// what it stores for the target URI (RFC 9111 4.4, invalidateURI). Its
// parent tiers never saw the request: without more, the edge's next miss
// would get the old object back from the regional cache (or the shield).
//
// So the edge remembers the keys it invalidated that way, in a bounded
// memory (at most unsafeMemoryMax keys, each for at most unsafeMemoryFor),
// and its next fetch of such a key from its parent carries refreshHeader.
// A parent honours it only on a request over the tier hop (fromChildTier:
// the network's secret); a viewer's copy of the field is dropped at the
// edge like every X-Strata-* field (strataOwned) and ignored by a parent
// without the secret. The parent drops its own copy, remembers the key in
// turn when it has a parent of its own (the shield), and fetches: the
// object comes from the origin once and refills every tier on the way. The
// key is forgotten once a parent answered that fetch.
//
// Other edges under the same regional cache get the new object on their
// next miss; their own copy stays until it expires, as at CloudFront, where
// only an invalidation clears every PoP.

// refreshHeader asks a parent tier to drop and refetch its copy.
const refreshHeader = "X-Strata-Refresh"

const (
	unsafeMemoryMax = 4096
	unsafeMemoryFor = 10 * time.Minute
)

// unsafeMemory is a bounded LRU of cache keys (without their encoding
// segment) invalidated by an unsafe request. The zero value is ready.
type unsafeMemory struct {
	mu   sync.Mutex
	max  int           // unsafeMemoryMax when 0
	ttl  time.Duration // unsafeMemoryFor when 0
	ll   *list.List    // front: the newest
	keys map[string]*list.Element
}

type unsafeEntry struct {
	key string
	at  time.Time
}

func (m *unsafeMemory) limits() (int, time.Duration) {
	n, d := m.max, m.ttl
	if n <= 0 {
		n = unsafeMemoryMax
	}
	if d <= 0 {
		d = unsafeMemoryFor
	}
	return n, d
}

// add remembers key at now, dropping the oldest keys beyond the bound.
func (m *unsafeMemory) add(key string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ll == nil {
		m.ll, m.keys = list.New(), map[string]*list.Element{}
	}
	if e, ok := m.keys[key]; ok {
		e.Value.(*unsafeEntry).at = now
		m.ll.MoveToFront(e)
		return
	}
	m.keys[key] = m.ll.PushFront(&unsafeEntry{key: key, at: now})
	n, _ := m.limits()
	for m.ll.Len() > n {
		m.remove(m.ll.Back())
	}
}

// has reports whether key is remembered and not older than the time bound.
func (m *unsafeMemory) has(key string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[key]
	if !ok {
		return false
	}
	if _, ttl := m.limits(); now.Sub(e.Value.(*unsafeEntry).at) >= ttl {
		m.remove(e)
		return false
	}
	return true
}

// done forgets key.
func (m *unsafeMemory) done(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.keys[key]; ok {
		m.remove(e)
	}
}

func (m *unsafeMemory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

func (m *unsafeMemory) remove(e *list.Element) {
	m.ll.Remove(e)
	delete(m.keys, e.Value.(*unsafeEntry).key)
}

// rememberUnsafe records that an unsafe request invalidated key, when the
// next fetch of it goes to a parent tier.
func (p *PoP) rememberUnsafe(ex *exchange, key cacheKey) {
	if p.upstreamFor(ex) != nil {
		p.unsafe.add(key.base(), p.now())
	}
}

// refreshSignalled applies a child tier's refreshHeader to ex (a cached
// request, its key set): the stored copy goes, and the key is remembered
// for this PoP's own parent.
func (p *PoP) refreshSignalled(ex *exchange) {
	if !ex.fromTier || ex.r.Header.Get(refreshHeader) == "" {
		return
	}
	p.deleteEncodings(ex.ck)
	p.rememberUnsafe(ex, ex.ck)
}

// signalRefresh adds refreshHeader to h, a fetch of ex from the parent
// tier, when an unsafe request invalidated its key.
func (p *PoP) signalRefresh(ex *exchange, h http.Header) {
	if ex.key != "" && p.unsafe.has(ex.ck.base(), p.now()) {
		h.Set(refreshHeader, "1")
	}
}

// refreshed forgets ex's key once a parent answered its fetch.
func (p *PoP) refreshed(ex *exchange, via string) {
	if via != "" && ex.key != "" {
		p.unsafe.done(ex.ck.base())
	}
}
