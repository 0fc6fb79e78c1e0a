package cache

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/maypok86/otter/v2"

	"github.com/strata-cdn/strata/internal/cache/disk"
)

// Store is the in-memory object store, bounded in bytes. Eviction and
// admission are otter's (S3-FIFO with a frequency sketch), weighed by the
// size of each object.
//
// A response that carries Vary is kept under two keys: the primary key holds
// a marker naming the Vary fields, and the object sits under the primary key
// plus the request's values of those fields (RFC 9111 4.1).
type Store struct {
	c       *otter.Cache[string, *entry]
	disk    *disk.Store // optional second tier (tiered.go)
	promote int64
	log     *slog.Logger
}

type entry struct {
	obj  *Object
	vary []string // set on a Vary marker

	mu       sync.Mutex
	variants map[string]struct{} // on a marker: keys of its variants
}

// NewStore returns a store holding at most maxBytes of objects.
func NewStore(maxBytes int64) *Store {
	c := otter.Must(&otter.Options[string, *entry]{
		MaximumWeight: uint64(max(maxBytes, 1)),
		Weigher: func(k string, e *entry) uint32 {
			w := int64(len(k)) + 64
			if e.obj != nil {
				w += e.obj.Body.Size() + headerSize(e.obj.Header) + 128
			}
			return uint32(min(w, 1<<32-1))
		},
	})
	return &Store{c: c}
}

func headerSize(h http.Header) int64 {
	var n int64
	for k, vv := range h {
		for _, v := range vv {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// Get returns the stored object for a request, following a Vary marker.
// req is called only when the key holds a Vary marker; it returns the
// request header the variant is chosen by (the header sent to the origin).
//
// An object read from a disk file has a Body the caller owns: Release it
// when done (Release does nothing for in-memory bodies).
func (s *Store) Get(key string, req func() http.Header) *Object {
	e, ok := s.c.GetIfPresent(key)
	if !ok {
		if s.disk != nil {
			return s.getDisk(key, req)
		}
		return nil
	}
	if e.obj != nil {
		return e.obj
	}
	if v, ok := s.c.GetIfPresent(variantKey(key, e.vary, req())); ok {
		return v.obj
	}
	if s.disk != nil {
		return s.getDisk(key, req)
	}
	return nil
}

// putMemory admits an object read from disk into memory, under its
// variant key vkey when it varies.
func (s *Store) putMemory(key, vkey string, o *Object) {
	if vkey == key {
		s.c.Set(key, &entry{obj: o})
		return
	}
	marker, ok := s.c.GetIfPresent(key)
	if !ok || marker.obj != nil || !sameNames(marker.vary, o.VaryNames) {
		marker = &entry{vary: o.VaryNames, variants: map[string]struct{}{}}
		s.c.Set(key, marker)
	}
	marker.mu.Lock()
	marker.variants[vkey] = struct{}{}
	marker.mu.Unlock()
	s.c.Set(vkey, &entry{obj: o})
}

// Put stores o for a request with the given key and returns false when the
// object is too large to be admitted.
func (s *Store) Put(key string, req http.Header, o *Object) {
	if len(o.VaryNames) == 0 {
		s.c.Set(key, &entry{obj: o})
		return
	}
	marker, ok := s.c.GetIfPresent(key)
	if !ok || marker.obj != nil || !sameNames(marker.vary, o.VaryNames) {
		if ok && marker.obj == nil {
			s.dropVariants(marker)
		}
		marker = &entry{vary: o.VaryNames, variants: map[string]struct{}{}}
		s.c.Set(key, marker)
	}
	vk := variantKey(key, o.VaryNames, req)
	marker.mu.Lock()
	marker.variants[vk] = struct{}{}
	marker.mu.Unlock()
	s.c.Set(vk, &entry{obj: o})
}

// Delete removes the object (and all its variants) stored under key, in
// memory and on disk.
func (s *Store) Delete(key string) bool {
	e, ok := s.c.Invalidate(key)
	if ok && e.obj == nil {
		s.dropVariants(e)
	}
	// On disk, variants exist only under a marker stored at key.
	if s.disk != nil && s.disk.Delete(key) {
		ok = true
		prefix := key + variantSep
		s.disk.DeleteFunc(func(k string) bool { return strings.HasPrefix(k, prefix) })
	}
	return ok
}

// DeleteFunc removes every primary key for which match returns true and
// returns how many it removed.
func (s *Store) DeleteFunc(match func(key string) bool) int {
	var keys []string
	for k, e := range s.c.All() {
		if e.obj != nil && strings.Contains(k, variantSep) {
			continue // variants go with their marker
		}
		if match(k) {
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		if s.Delete(k) {
			n++
		}
	}
	if s.disk != nil {
		n += s.disk.DeleteFunc(func(k string) bool {
			primary, _, _ := strings.Cut(k, variantSep)
			return match(primary)
		})
	}
	return n
}

func (s *Store) dropVariants(marker *entry) {
	marker.mu.Lock()
	keys := make([]string, 0, len(marker.variants))
	for k := range marker.variants {
		keys = append(keys, k)
	}
	marker.mu.Unlock()
	for _, k := range keys {
		s.c.Invalidate(k)
	}
}

// Len is the number of entries (markers included).
func (s *Store) Len() int { return s.c.EstimatedSize() }

// Weight is the number of bytes accounted to stored entries.
func (s *Store) Weight() uint64 { return s.c.WeightedSize() }

const variantSep = "\x00vary\x00"

// variantKey appends the request's values of the Vary fields to key.
func variantKey(key string, names []string, req http.Header) string {
	var b strings.Builder
	b.WriteString(key)
	b.WriteString(variantSep)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(normalizeFieldValue(req[n]))
		b.WriteByte('\n')
	}
	return b.String()
}

// normalizeFieldValue joins a field's lines and folds white space around
// commas, so equivalent spellings select the same variant.
func normalizeFieldValue(vv []string) string {
	var parts []string
	for _, v := range vv {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, ",")
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SameVariant reports whether two requests select the same variant of a
// response that varies on names (used to hand a collapsed fetch to waiters).
func SameVariant(names []string, a, b http.Header) bool {
	for _, n := range names {
		if normalizeFieldValue(a[n]) != normalizeFieldValue(b[n]) {
			return false
		}
	}
	return true
}
