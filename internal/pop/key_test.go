package pop

import (
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

func TestKeyQuery(t *testing.T) {
	all := config.KeyList{Behavior: "all"}
	tests := []struct {
		raw  string
		l    config.KeyList
		want string
	}{
		{"b=2&a=1", all, "a=1&b=2"},
		{"a=%41&a=B", all, "a=A&a=B"},
		{"a=1&&b", all, "a=1&b="},
		{"x=1&v=2", config.KeyList{Behavior: "whitelist", Items: []string{"v"}}, "v=2"},
		{"x=1&v=2", config.KeyList{Behavior: "allExcept", Items: []string{"v"}}, "x=1"},
		{"x=1", config.KeyList{Behavior: "none"}, ""},
		{"q=a+b&q=a%20b", all, "q=a+b&q=a+b"},
		{"bad=%zz", all, "bad=%25zz"},
	}
	for _, tt := range tests {
		if got := keyQuery(tt.raw, tt.l); got != tt.want {
			t.Errorf("keyQuery(%q, %v) = %q, want %q", tt.raw, tt.l.Behavior, got, tt.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/../../b", "/b"},
		{"/a/%2e%2E/b", "/b"},
		{"/a/%2E/", "/a/"},
		{"/a/..", "/"},
		{"/a/b/", "/a/b/"},
		{"/%41%7e", "/A~"},
		{"/a%2fb", "/a%2Fb"},
		{"//double//slash", "//double//slash"},
	}
	for _, tt := range tests {
		got, ok := cleanPath(tt.in)
		if !ok || got != tt.want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"relative", "/%zz", "/%4", "/public/..%2fprivate/x", "/a/..%5Cb", "/a%2F..%2Fb"} {
		if _, ok := cleanPath(bad); ok {
			t.Errorf("cleanPath(%q) accepted", bad)
		}
	}
}

// Normalizing a normalized key component changes nothing.
func FuzzKeyQueryIdempotent(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "b=%41&a", "x=%zz&&y=+", "a=1;b=2", "%00=%ff"} {
		f.Add(s)
	}
	all := config.KeyList{Behavior: "all"}
	f.Fuzz(func(t *testing.T, raw string) {
		once := keyQuery(raw, all)
		if twice := keyQuery(once, all); twice != once {
			t.Fatalf("keyQuery not idempotent: %q -> %q -> %q", raw, once, twice)
		}
	})
}

func FuzzCleanPathIdempotent(f *testing.F) {
	for _, s := range []string{"/a/../b", "/%2e%2e/x", "/a/./b/", "/..", "/a%2F..%2Fb", "/%2e./x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		once, ok := cleanPath(p)
		if !ok {
			return
		}
		twice, ok := cleanPath(once)
		if !ok || twice != once {
			t.Fatalf("cleanPath not idempotent: %q -> %q -> %q", p, once, twice)
		}
		for _, seg := range strings.Split(once, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("dot segment left in %q (from %q)", once, p)
			}
		}
	})
}

// The key's wire form is what the store holds and the disk tier persists:
// these strings are pinned, a change here orphans every stored object.
func TestCacheKeyString(t *testing.T) {
	tests := []struct {
		name string
		k    cacheKey
		want string
	}{
		{"bare", cacheKey{dist: "E1", path: "/"},
			"E1\x1f\x1f/\x1f\x1f\x1f\x1f"},
		{"compressed", cacheKey{dist: "E1", path: "/a.html", enc: "enc=gzip"},
			"E1\x1f\x1f/a.html\x1f\x1f\x1f\x1fenc=gzip"},
		{"options", cacheKey{dist: "E1", method: "OPTIONS", path: "/api", enc: "br,gzip"},
			"E1\x1fOPTIONS\x1f/api\x1f\x1f\x1f\x1fbr,gzip"},
		{"every field", cacheKey{dist: "EDFDVBD6EXAMPLE", path: "/p%20q", query: "a=1&b=2",
			headers: "origin=https://a.example\nhost=cdn.example\n", cookies: "s=1; t=2", enc: "enc=identity"},
			"EDFDVBD6EXAMPLE\x1f\x1f/p%20q\x1fa=1&b=2\x1forigin=https://a.example\nhost=cdn.example\n\x1fs=1; t=2\x1fenc=identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.k.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			if got, want := tt.k.base(), tt.want[:strings.LastIndexByte(tt.want, 0x1f)]; got != want {
				t.Errorf("base() = %q, want %q", got, want)
			}
			k, ok := parseCacheKey(tt.want)
			if !ok || k != tt.k {
				t.Errorf("parseCacheKey(%q) = %+v, %v; want %+v", tt.want, k, ok, tt.k)
			}
		})
	}
}

func TestParseCacheKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want cacheKey
	}{
		{"too few fields", "E1\x1f\x1f/a\x1f\x1f\x1f", false, cacheKey{}},
		{"empty", "", false, cacheKey{}},
		{"no separator", "E1", false, cacheKey{}},
		// A Vary variant (cache.variantKey): the leading fields stay exact.
		{"vary variant", "E1\x1f\x1f/a\x1fq=1\x1f\x1f\x1fenc=br\x00vary\x00origin=x\x1fy", true,
			cacheKey{dist: "E1", path: "/a", query: "q=1", headers: "\x1f", cookies: "enc=br\x00vary\x00origin=x", enc: "y"}},
		// A keyed header's value holding the separator stays in headers.
		{"separator in a header", "E1\x1f\x1f/a\x1f\x1fx-h=a\x1fb\n\x1fc=1\x1fgzip", true,
			cacheKey{dist: "E1", path: "/a", headers: "x-h=a\x1fb\n", cookies: "c=1", enc: "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := parseCacheKey(tt.in)
			if ok != tt.ok || k != tt.want {
				t.Fatalf("parseCacheKey(%q) = %+v, %v; want %+v, %v", tt.in, k, ok, tt.want, tt.ok)
			}
			if ok && k.String() != tt.in {
				t.Errorf("String() = %q, want %q", k.String(), tt.in)
			}
		})
	}
}

// Invalidation reads distribution and path back from stored keys, Vary
// variants included.
func TestPurgeMatchesKey(t *testing.T) {
	k := cacheKey{dist: "E1", path: "/img/a.png", query: "v=2", enc: "enc=identity"}.String()
	variant := k + "\x00vary\x00origin=https://x.example"
	tests := []struct {
		name string
		pr   purge
		key  string
		want bool
	}{
		{"exact", purge{dist: "E1", path: "/img/a.png"}, k, true},
		{"exact, variant", purge{dist: "E1", path: "/img/a.png"}, variant, true},
		{"prefix", purge{dist: "E1", path: "/img/", prefix: true}, variant, true},
		{"other path", purge{dist: "E1", path: "/img/a"}, k, false},
		{"other distribution", purge{dist: "E2", path: "/img/a.png"}, k, false},
		{"not a key", purge{dist: "E1", path: "/img/a.png"}, "E1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pr.matchesKey(tt.key); got != tt.want {
				t.Errorf("matchesKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// FuzzCacheKeyRoundTrip: a key's fields survive String and parseCacheKey
// (headers even when a value holds the separator), and any string that
// parses is given back unchanged by String.
func FuzzCacheKeyRoundTrip(f *testing.F) {
	f.Add("E1", "", "/a", "q=1", "host=x\n", "c=1", "enc=br", "E1\x1f\x1f/\x1f\x1f\x1f\x1f")
	f.Add("E1", "OPTIONS", "/", "", "x=a\x1fb\n", "", "", "\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f")
	f.Fuzz(func(t *testing.T, dist, method, path, query, headers, cookies, enc, raw string) {
		clean := func(s string) string { return strings.ReplaceAll(s, "\x1f", "") }
		k := cacheKey{dist: clean(dist), method: clean(method), path: clean(path), query: clean(query),
			headers: headers, cookies: clean(cookies), enc: clean(enc)}
		s := k.String()
		back, ok := parseCacheKey(s)
		if !ok || back != k {
			t.Fatalf("%+v -> %q -> %+v, %v", k, s, back, ok)
		}
		if b := k.base(); s != b+"\x1f"+k.enc {
			t.Fatalf("base %q of %q", b, s)
		}
		if p, ok := parseCacheKey(raw); ok && p.String() != raw {
			t.Fatalf("%q -> %+v -> %q", raw, p, p.String())
		}
	})
}
