package waf

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// RateCounter counts requests per aggregate key over a sliding window. The
// local implementation is NewSlidingWindow; a counter that combines the
// counts of every PoP (through NATS) implements the same interface.
type RateCounter interface {
	// Add counts one request for key now.
	Add(key string)
	// Count is the number of requests for key within the window ending now.
	Count(key string) int64
}

// RateRule identifies the counter of one rate-based rule.
type RateRule struct {
	ACL    string        // the web ACL's name
	Rule   string        // the rule's name
	Window time.Duration // EvaluationWindowSec
	// Fingerprint is a digest of the rule's statement: a caller that keeps
	// counters across recompilations (a config reload) reuses one only
	// while the fingerprint is the same, since AWS resets the counts when a
	// rate setting changes.
	Fingerprint string
}

// RateCounterFunc builds (or finds) the counter of a rate-based rule. ACL
// and Rule name it stably across PoPs, for a counter shared through NATS.
type RateCounterFunc func(RateRule) RateCounter

// slots is the number of sub-windows a window is divided into: counts
// leave the window in steps of window/slots (1 s for a 60 s window, 10 s
// for 600 s).
const slots = 60

// SlidingWindow is a local RateCounter: per key, a ring of slot counts.
// It is safe for concurrent use; keys idle for a whole window are dropped.
type SlidingWindow struct {
	window time.Duration
	step   time.Duration
	now    func() time.Time
	seed   maphash.Seed
	shards [32]rateShard

	lastSweep atomic.Int64 // the step of the last sweep of idle keys
}

type rateShard struct {
	mu   sync.Mutex
	keys map[string]*rateKey
}

type rateKey struct {
	slot  [slots]int64 // count per step
	last  int64        // the step of the newest count
	total int64        // sum of slot
}

// NewSlidingWindow returns a counter over window; now defaults to time.Now.
func NewSlidingWindow(window time.Duration, now func() time.Time) *SlidingWindow {
	if now == nil {
		now = time.Now
	}
	w := &SlidingWindow{window: window, step: window / slots, now: now, seed: maphash.MakeSeed()}
	w.lastSweep.Store(now().UnixNano() / int64(max(w.step, 1)))
	if w.step <= 0 {
		w.step = 1
	}
	for i := range w.shards {
		w.shards[i].keys = make(map[string]*rateKey)
	}
	return w
}

func (w *SlidingWindow) shard(key string) *rateShard {
	return &w.shards[maphash.String(w.seed, key)%uint64(len(w.shards))]
}

// advance moves k to step, forgetting the slots that left the window.
func (k *rateKey) advance(step int64) {
	gap := step - k.last
	if gap <= 0 {
		return
	}
	if gap >= slots {
		k.slot = [slots]int64{}
		k.total = 0
	} else {
		for s := k.last + 1; s <= step; s++ {
			i := s % slots
			k.total -= k.slot[i]
			k.slot[i] = 0
		}
	}
	k.last = step
}

// Add implements RateCounter.
func (w *SlidingWindow) Add(key string) {
	step := w.now().UnixNano() / int64(w.step)
	sh := w.shard(key)
	sh.mu.Lock()
	k := sh.keys[key]
	if k == nil {
		k = &rateKey{last: step}
		sh.keys[key] = k
	}
	k.advance(step)
	k.slot[step%slots]++
	k.total++
	sh.mu.Unlock()
	if last := w.lastSweep.Load(); step-last >= slots && w.lastSweep.CompareAndSwap(last, step) {
		w.sweep(step)
	}
}

// sweep drops the keys idle for a whole window, once per window.
func (w *SlidingWindow) sweep(step int64) {
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		for name, k := range sh.keys {
			if step-k.last >= slots {
				delete(sh.keys, name)
			}
		}
		sh.mu.Unlock()
	}
}

// Count implements RateCounter.
func (w *SlidingWindow) Count(key string) int64 {
	step := w.now().UnixNano() / int64(w.step)
	sh := w.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := sh.keys[key]
	if k == nil {
		return 0
	}
	k.advance(step)
	return k.total
}

// Keys returns the number of keys held (for tests and metrics).
func (w *SlidingWindow) Keys() int {
	n := 0
	for i := range w.shards {
		w.shards[i].mu.Lock()
		n += len(w.shards[i].keys)
		w.shards[i].mu.Unlock()
	}
	return n
}
