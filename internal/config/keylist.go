package config

import (
	"slices"
	"strings"
)

// What a KeyList means, in one place, so the PoP asks the list instead of
// comparing its behavior strings.
//
// Query string and cookie names are case-sensitive, as CloudFront treats
// them (Selects); header names are not (Names).

// None reports whether the list selects nothing: behavior none or unset.
func (l KeyList) None() bool {
	return l.Behavior == KeyNone || l.Behavior == ""
}

// Selects reports whether the list selects name, compared exactly: the
// query string parameters and cookies that go into a cache key or to the
// origin. The all* behaviors select every name, whitelist its items,
// allExcept every name but its items, none nothing.
func (l KeyList) Selects(name string) bool {
	switch l.Behavior {
	case KeyAll, KeyAllViewer, KeyAllViewerAndWhitelistCloudFront:
		return true
	case KeyWhitelist:
		return slices.Contains(l.Items, name)
	case KeyAllExcept:
		return !slices.Contains(l.Items, name)
	}
	return false
}

// Names reports whether the list is a whitelist naming name, in any case:
// a header the policy names explicitly.
func (l KeyList) Names(name string) bool {
	if l.Behavior != KeyWhitelist {
		return false
	}
	for _, it := range l.Items {
		if strings.EqualFold(it, name) {
			return true
		}
	}
	return false
}

// Named returns the items the list names to be included (whitelist and
// allViewerAndWhitelistCloudFront), nil for every other behavior.
func (l KeyList) Named() []string {
	switch l.Behavior {
	case KeyWhitelist, KeyAllViewerAndWhitelistCloudFront:
		return l.Items
	}
	return nil
}

// Union returns a list that selects a name when either list does (what an
// origin request policy adds to the cache key). Neither list is modified.
func (l KeyList) Union(other KeyList) KeyList {
	a, b := l, other
	if a.Behavior == KeyAll || b.Behavior == KeyAll {
		return KeyList{Behavior: KeyAll}
	}
	if a.None() {
		return b
	}
	if b.None() {
		return a
	}
	if a.Behavior == KeyWhitelist && b.Behavior == KeyWhitelist {
		return KeyList{Behavior: KeyWhitelist, Items: append(slices.Clone(a.Items), b.Items...)}
	}
	// At least one list selects every name but some: the union is an
	// allExcept of the names neither list selects.
	var out []string
	for _, l := range []KeyList{a, b} {
		for _, it := range l.Items {
			if !a.Selects(it) && !b.Selects(it) && !slices.Contains(out, it) {
				out = append(out, it)
			}
		}
	}
	return KeyList{Behavior: KeyAllExcept, Items: out}
}
