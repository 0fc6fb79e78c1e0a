package pop

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
)

// Invalidations. Invalidate removes what matches from the store (memory and
// disk) and remembers the purge for purgeMemory: a fetch that was already in
// flight, or a parent tier that has not applied the same invalidation yet,
// could otherwise bring the old object back. An object whose origin time
// (when the origin made it: response time minus its age) is before a
// matching purge is not stored, and one from a parent is fetched again from
// the origin.

const purgeMemory = 10 * time.Minute

// originTimeHeader tells a child tier when the origin made the object it
// gets (unix milliseconds): finer than Age's seconds.
const originTimeHeader = "X-Strata-Origin-Time"

type purge struct {
	dist   string
	path   string // exact path, or a prefix when prefix is set
	prefix bool
	tags   map[string]bool
	at     time.Time
}

type purgeLog struct {
	mu   sync.Mutex
	list []purge
}

// Invalidate applies an invalidation of distribution dist: paths (exact, or
// a prefix ending in "*", as CloudFront defines them; an exact path covers
// every query string and header variant of it) and cache tags. It returns
// how many stored objects it removed.
func (p *PoP) Invalidate(dist string, paths, tags []string) int {
	now := p.now()
	d := p.distByID(dist)
	removed := 0
	var add []purge
	for _, raw := range paths {
		pr := purge{dist: dist, at: now}
		if base, ok := strings.CutSuffix(raw, "*"); ok {
			pr.path, pr.prefix = base, true
		} else {
			pr.path = raw
			if c, ok := cleanPath(raw); ok {
				pr.path = c
			}
		}
		add = append(add, pr)
		if !pr.prefix && pr.path == "/" && d != nil && d.cfg.DefaultRootObject != "" {
			add = append(add, purge{dist: dist, path: "/" + d.cfg.DefaultRootObject, at: now})
		}
	}
	if len(tags) > 0 {
		t := map[string]bool{}
		for _, tag := range tags {
			t[tag] = true
		}
		add = append(add, purge{dist: dist, tags: t, at: now})
	}
	p.purges.mu.Lock()
	kept := p.purges.list[:0]
	for _, old := range p.purges.list {
		if now.Sub(old.at) < purgeMemory {
			kept = append(kept, old)
		}
	}
	p.purges.list = append(kept, add...)
	p.purges.mu.Unlock()

	for _, pr := range add {
		if pr.tags != nil {
			removed += p.store.DeleteTagged(func(s string) bool {
				k, ok := parseCacheKey(s)
				return ok && k.dist == dist
			}, tags)
			continue
		}
		pr := pr
		removed += p.store.DeleteFunc(func(k string) bool { return pr.matchesKey(k) })
	}
	return removed
}

func (pr *purge) matchesPath(path string) bool {
	if pr.prefix {
		return strings.HasPrefix(path, pr.path)
	}
	return path == pr.path
}

// matchesKey reports whether a stored key (key.go) is of the purge's
// distribution and path.
func (pr *purge) matchesKey(s string) bool {
	k, ok := parseCacheKey(s)
	return ok && k.dist == pr.dist && pr.matchesPath(k.path)
}

// purgedSince reports whether an object of ex made by the origin at
// originTime was invalidated after that.
func (p *PoP) purgedSince(ex *exchange, h http.Header, originTime time.Time) bool {
	p.purges.mu.Lock()
	defer p.purges.mu.Unlock()
	if len(p.purges.list) == 0 {
		return false
	}
	var tags []string
	for i := range p.purges.list {
		pr := &p.purges.list[i]
		if pr.dist != ex.dist.cfg.ID || !originTime.Before(pr.at) {
			continue
		}
		if pr.tags == nil {
			if pr.matchesPath(ex.path) {
				return true
			}
			continue
		}
		if tags == nil {
			tags = cache.Tags(h)
		}
		for _, t := range tags {
			if pr.tags[t] {
				return true
			}
		}
	}
	return false
}

// originTime is when the origin made a response: the time a parent tier
// reports, else the response time minus the response's age.
func originTime(fromParent bool, h http.Header, reqTime, respTime time.Time) time.Time {
	if fromParent {
		if ms, err := strconv.ParseInt(h.Get(originTimeHeader), 10, 64); err == nil {
			return time.UnixMilli(ms)
		}
	}
	return respTime.Add(-cache.InitialAge(h, reqTime, respTime))
}

func (p *PoP) distByID(id string) *dist {
	s := p.snap.Load()
	if s == nil {
		return nil
	}
	for _, d := range s.all {
		if d.cfg.ID == id {
			return d
		}
	}
	return nil
}
