package config

import (
	"reflect"
	"slices"
	"testing"
)

// Every list section of Config is a kind of the table, and every kind is a
// section: adding a section without its table entry fails here.
func TestKindsCoverConfig(t *testing.T) {
	var sections []string
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if f := ct.Field(i); f.Type.Kind() == reflect.Slice {
			sections = append(sections, jsonName(f))
		}
	}
	var fields []string
	seen := map[string]bool{}
	for i, k := range Kinds {
		fields = append(fields, k.Field)
		for _, r := range k.Refs() {
			if !seen[r] {
				t.Errorf("kind %s refers to %s, which is not before it in the table", k.Field, r)
			}
		}
		seen[k.Field] = true
		c := &Config{}
		if k.Len(c) != 0 {
			t.Errorf("%s: Len of the empty config = %d", k.Field, k.Len(c))
		}
		if got, ok := KindByName(k.Name); !ok || got != k {
			t.Errorf("KindByName(%q) = %v, %v", k.Name, got.Field, ok)
		}
		if got, ok := KindByField(k.Field); !ok || got != Kinds[i] {
			t.Errorf("KindByField(%q) = %v, %v", k.Field, got.Field, ok)
		}
	}
	slices.Sort(sections)
	slices.Sort(fields)
	if !slices.Equal(sections, fields) {
		t.Errorf("Config's list sections %q, the table's kinds %q", sections, fields)
	}
}

func TestKindPutRemoveMerge(t *testing.T) {
	k, _ := KindByField("cachePolicies")
	c := &Config{}
	k.Put(c, &CachePolicy{ID: "a", Comment: "1"})
	k.Put(c, &CachePolicy{ID: "b"})
	if i := k.Put(c, &CachePolicy{ID: "a", Comment: "2"}); i != 0 || len(c.CachePolicies) != 2 || c.CachePolicies[0].Comment != "2" {
		t.Fatalf("Put replaced at %d: %+v", i, c.CachePolicies)
	}
	if got, ok := KindOf(&c.CachePolicies[1]); !ok || got != k {
		t.Errorf("KindOf(*CachePolicy) = %s", got.Field)
	}
	if !k.Remove(c, "a") || k.Remove(c, "a") || len(c.CachePolicies) != 1 || k.Item(c, 0).ResourceID() != "b" {
		t.Fatalf("after Remove: %+v", c.CachePolicies)
	}

	base := &Config{PoP: PoP{ID: "FRA1"}, CachePolicies: []CachePolicy{{ID: "x", Comment: "old"}, {ID: "y"}}, KeyGroups: []KeyGroup{{ID: "g"}}}
	add := &Config{PoP: PoP{ID: "other"}, CachePolicies: []CachePolicy{{ID: "x", Comment: "new"}}}
	m := Merge(base, add)
	if m.PoP.ID != "FRA1" || len(m.CachePolicies) != 2 || m.CachePolicies[0].Comment != "new" || m.CachePolicies[1].ID != "y" ||
		len(m.KeyGroups) != 1 {
		t.Errorf("Merge = %+v", m)
	}
	if base.CachePolicies[0].Comment != "old" {
		t.Error("Merge wrote to base")
	}
}

func TestAppendWrongKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Append of a key group to the cache policies did not panic")
		}
	}()
	k, _ := KindByField("cachePolicies")
	k.Append(&Config{}, &KeyGroup{ID: "g"})
}
