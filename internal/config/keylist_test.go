package config

import (
	"strings"
	"testing"
)

func TestKeyListSelects(t *testing.T) {
	for _, tc := range []struct {
		l    KeyList
		name string
		want bool
	}{
		{KeyList{}, "a", false},
		{KeyList{Behavior: KeyNone}, "a", false},
		{KeyList{Behavior: KeyAll}, "a", true},
		{KeyList{Behavior: KeyAllViewer}, "a", true},
		{KeyList{Behavior: KeyAllViewerAndWhitelistCloudFront, Items: []string{"b"}}, "a", true},
		{KeyList{Behavior: KeyWhitelist, Items: []string{"a", "b"}}, "b", true},
		{KeyList{Behavior: KeyWhitelist, Items: []string{"a"}}, "A", false}, // query strings and cookies: case-sensitive
		{KeyList{Behavior: KeyWhitelist, Items: []string{"a"}}, "c", false},
		{KeyList{Behavior: KeyAllExcept, Items: []string{"a"}}, "a", false},
		{KeyList{Behavior: KeyAllExcept, Items: []string{"a"}}, "A", true},
		{KeyList{Behavior: KeyAllExcept, Items: []string{"a"}}, "c", true},
		{KeyList{Behavior: "bogus", Items: []string{"a"}}, "a", false},
	} {
		if got := tc.l.Selects(tc.name); got != tc.want {
			t.Errorf("%+v.Selects(%q) = %v, want %v", tc.l, tc.name, got, tc.want)
		}
	}
}

func TestKeyListNames(t *testing.T) {
	for _, tc := range []struct {
		l    KeyList
		name string
		want bool
	}{
		{KeyList{Behavior: KeyWhitelist, Items: []string{"Host"}}, "host", true},
		{KeyList{Behavior: KeyWhitelist, Items: []string{"x-custom"}}, "X-Custom", true},
		{KeyList{Behavior: KeyWhitelist, Items: []string{"X-Custom"}}, "X_Custom", false},
		{KeyList{Behavior: KeyWhitelist, Items: []string{"X-Custom"}}, "X-Other", false},
		// Only a whitelist names a header explicitly.
		{KeyList{Behavior: KeyAllViewer}, "Host", false},
		{KeyList{Behavior: KeyAllViewerAndWhitelistCloudFront, Items: []string{"CloudFront-Viewer-Country"}}, "CloudFront-Viewer-Country", false},
		{KeyList{Behavior: KeyAllExcept, Items: []string{"Host"}}, "Host", false},
		{KeyList{}, "Host", false},
	} {
		if got := tc.l.Names(tc.name); got != tc.want {
			t.Errorf("%+v.Names(%q) = %v, want %v", tc.l, tc.name, got, tc.want)
		}
	}
}

func TestKeyListNamed(t *testing.T) {
	items := []string{"A", "B"}
	for _, tc := range []struct {
		behavior string
		want     int
	}{
		{KeyWhitelist, 2}, {KeyAllViewerAndWhitelistCloudFront, 2},
		{KeyAllExcept, 0}, {KeyAll, 0}, {KeyAllViewer, 0}, {KeyNone, 0}, {"", 0},
	} {
		if got := len(KeyList{Behavior: tc.behavior, Items: items}.Named()); got != tc.want {
			t.Errorf("%q: Named() has %d items, want %d", tc.behavior, got, tc.want)
		}
	}
}

func TestKeyListUnion(t *testing.T) {
	wl := func(items ...string) KeyList { return KeyList{Behavior: KeyWhitelist, Items: items} }
	ae := func(items ...string) KeyList { return KeyList{Behavior: KeyAllExcept, Items: items} }
	for _, tc := range []struct {
		a, b     KeyList
		selected string // names the union selects
		dropped  string // names it does not
	}{
		{KeyList{}, KeyList{}, "", "a b"},
		{KeyList{}, wl("a"), "a", "b"},
		{wl("a"), KeyList{Behavior: KeyNone}, "a", "b"},
		{wl("a"), wl("b"), "a b", "c"},
		{wl("a"), KeyList{Behavior: KeyAll}, "a b c", ""},
		{ae("a"), wl("a"), "a b", ""},
		{ae("a", "b"), wl("a"), "a c", "b"},
		{wl("b"), ae("a"), "b c", "a"},
		// Both exclude: a name is dropped only when both lists drop it.
		{ae("a", "b"), ae("b", "c"), "a c d", "b"},
		{ae("a"), ae("b"), "a b c", ""},
	} {
		u := tc.a.Union(tc.b)
		for _, n := range strings.Fields(tc.selected) {
			if !u.Selects(n) {
				t.Errorf("%+v ∪ %+v = %+v: does not select %q", tc.a, tc.b, u, n)
			}
		}
		for _, n := range strings.Fields(tc.dropped) {
			if u.Selects(n) {
				t.Errorf("%+v ∪ %+v = %+v: selects %q", tc.a, tc.b, u, n)
			}
		}
	}
}

func TestKeyListUnionLeavesItsInputs(t *testing.T) {
	a := KeyList{Behavior: KeyWhitelist, Items: make([]string, 1, 4)}
	a.Items[0] = "a"
	b := KeyList{Behavior: KeyWhitelist, Items: []string{"b"}}
	u := a.Union(b)
	u.Items[0] = "changed"
	if a.Items[0] != "a" || len(a.Items) != 1 || a.Items[:2][1] == "b" {
		t.Fatalf("Union changed its receiver: %q", a.Items[:2])
	}
}

// FuzzKeyListUnion: the union selects exactly the names either list
// selects, for every pair of behaviors a cache key and an origin request
// policy can hold for query strings and cookies.
func FuzzKeyListUnion(f *testing.F) {
	f.Add(uint8(3), "a,b", uint8(3), "b,c", "a")
	f.Add(uint8(2), "a", uint8(3), "a", "a")
	f.Add(uint8(0), "", uint8(4), "", "x")
	behaviors := []string{"", KeyNone, KeyWhitelist, KeyAllExcept, KeyAll}
	f.Fuzz(func(t *testing.T, ba uint8, ia string, bb uint8, ib string, name string) {
		items := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		a := KeyList{Behavior: behaviors[int(ba)%len(behaviors)], Items: items(ia)}
		b := KeyList{Behavior: behaviors[int(bb)%len(behaviors)], Items: items(ib)}
		u := a.Union(b)
		probes := append(append([]string{name}, a.Items...), b.Items...)
		for _, n := range probes {
			if got, want := u.Selects(n), a.Selects(n) || b.Selects(n); got != want {
				t.Fatalf("%+v ∪ %+v = %+v: Selects(%q) = %v, want %v", a, b, u, n, got, want)
			}
		}
	})
}
