package cache

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Tags returns the cache tags of a response: Cache-Tag (comma-separated)
// and Surrogate-Key (space-separated).
func Tags(h http.Header) []string {
	var tags []string
	for _, v := range h["Cache-Tag"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	for _, v := range h["Surrogate-Key"] {
		tags = append(tags, strings.Fields(v)...)
	}
	return tags
}

func hasAnyTag(h http.Header, tags map[string]bool) bool {
	for _, t := range Tags(h) {
		if tags[t] {
			return true
		}
	}
	return false
}

// PrimaryKey is the key an object was stored under, without its Vary
// variant part.
func PrimaryKey(key string) string {
	primary, _, _ := strings.Cut(key, variantSep)
	return primary
}

// DeleteTagged removes every object, in memory and on disk, whose primary
// key satisfies keyMatch and that carries one of tags. It reads the
// metadata of every disk entry of those keys: an invalidation by tag costs a
// scan, a lookup costs nothing.
func (s *Store) DeleteTagged(keyMatch func(string) bool, tags []string) int {
	want := map[string]bool{}
	for _, t := range tags {
		want[t] = true
	}
	var victims []string
	for k, e := range s.c.All() {
		if e.obj != nil && keyMatch(PrimaryKey(k)) && hasAnyTag(e.obj.Header, want) {
			victims = append(victims, k)
		}
	}
	n := 0
	for _, k := range victims {
		if _, ok := s.c.Invalidate(k); ok {
			n++
		}
	}
	if s.disk == nil {
		return n
	}
	for _, k := range s.disk.Keys() {
		if !keyMatch(PrimaryKey(k)) {
			continue
		}
		e, err := s.disk.Get(k)
		if err != nil {
			continue
		}
		var m diskMeta
		err = json.Unmarshal(e.Meta, &m)
		e.Close()
		if err == nil && !m.Marker && hasAnyTag(m.Header, want) && s.disk.Delete(k) {
			n++
		}
	}
	return n
}
