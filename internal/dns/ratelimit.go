package dns

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// RateLimit is response rate limiting over UDP, per client prefix, so that
// the server cannot be used to amplify spoofed traffic: a source sending
// more than Rate queries a second (after a burst of Burst) gets every Slip-th
// answer as a small truncated reply (a real resolver retries over TCP,
// which a spoofer cannot) and no answer to the others. TCP is not limited.
type RateLimit struct {
	// Rate is the responses per second each prefix gets. 0 means 100; a
	// negative value turns rate limiting off.
	Rate float64
	// Burst is how many responses a prefix may get at once. 0 means Rate
	// (one second's worth).
	Burst float64
	// Slip: every Slip-th limited query gets a truncated reply, the others
	// none. 0 means 2 (as BIND's RRL); 1 truncates every one; -1 drops all.
	Slip int
	// IPv4Prefix and IPv6Prefix are the prefix lengths that group clients.
	// 0 means 24 and 56 (the ECS defaults of resolvers).
	IPv4Prefix int
	IPv6Prefix int
}

type verdict uint8

const (
	verdictAllow verdict = iota
	verdictSlip
	verdictDrop
)

// limiterShards spreads the buckets over locks so the UDP readers rarely
// contend.
const limiterShards = 32

// maxBucketsPerShard bounds memory under a spoofed flood from many
// prefixes: a full shard first forgets buckets that have refilled, and
// if that frees nothing, all of them (their prefixes start again from a
// full burst, which costs at most one burst each).
const maxBucketsPerShard = 4096

type limiter struct {
	rate, burst    float64
	slip           int
	v4bits, v6bits int
	now            func() time.Time
	seed           maphash.Seed
	shards         [limiterShards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited uint32
}

// newLimiter returns nil when rate limiting is off.
func newLimiter(rl RateLimit, now func() time.Time) *limiter {
	if rl.Rate < 0 {
		return nil
	}
	l := &limiter{
		rate: rl.Rate, burst: rl.Burst, slip: rl.Slip,
		v4bits: rl.IPv4Prefix, v6bits: rl.IPv6Prefix, now: now, seed: maphash.MakeSeed(),
	}
	if l.rate == 0 {
		l.rate = 100
	}
	if l.burst <= 0 {
		l.burst = l.rate
	}
	if l.slip == 0 {
		l.slip = 2
	}
	if l.v4bits <= 0 || l.v4bits > 32 {
		l.v4bits = 24
	}
	if l.v6bits <= 0 || l.v6bits > 128 {
		l.v6bits = 56
	}
	for i := range l.shards {
		l.shards[i].buckets = map[netip.Prefix]*bucket{}
	}
	return l
}

// check takes one response from the bucket of src's prefix.
func (l *limiter) check(src netip.Addr) verdict {
	src = src.Unmap()
	bits := l.v6bits
	if src.Is4() {
		bits = l.v4bits
	}
	p, err := src.Prefix(bits)
	if err != nil {
		return verdictAllow
	}
	sh := &l.shards[maphash.Comparable(l.seed, p)%limiterShards]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.buckets[p]
	if b == nil {
		if len(sh.buckets) >= maxBucketsPerShard {
			l.evict(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.buckets[p] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return verdictAllow
	}
	b.limited++
	if l.slip > 0 && b.limited%uint32(l.slip) == 0 {
		return verdictSlip
	}
	return verdictDrop
}

func (l *limiter) evict(sh *limiterShard, now time.Time) {
	for p, b := range sh.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(sh.buckets, p)
		}
	}
	if len(sh.buckets) >= maxBucketsPerShard {
		clear(sh.buckets)
	}
}
