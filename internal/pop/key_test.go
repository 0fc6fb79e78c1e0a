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
