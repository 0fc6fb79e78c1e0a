package config

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"*", "/", true},
		{"*", "/anything/at/all.html", true},
		{"*", "", true},
		{"/*", "", true},
		{"", "/whatever", true}, // the default behavior's empty pattern
		{"/", "/", true},
		{"/", "", true},
		{"/", "/a", false},
		{"*.jpg", "/a.jpg", true},
		{"*.jpg", "/images/deep/a.jpg", true}, // '*' crosses '/'
		{"*.jpg", "/a.jpeg", false},
		{"*.jpg", "/a.JPG", false}, // case-sensitive
		{"*.jpg", "/a.jpg.png", false},
		{"/images/*", "/images/", true},
		{"/images/*", "/images/a/b/c.png", true},
		{"/images/*", "/images", false},
		{"/images/*", "/Images/a.png", false},
		{"/images/*", "/img/images/a.png", false},
		{"images/*", "/images/a.png", true}, // pattern without leading '/'
		{"/images/*", "images/a.png", true}, // path without leading '/'
		{"images/*", "images/a.png", true},  // neither
		{"images/*", "/x/images/a", false},
		{"/a*b*c", "/abc", true},
		{"/a*b*c", "/aXbYc", true},
		{"/a*b*c", "/a/b/c", true},
		{"/a*b*c", "/aXbYcZ", false},
		{"/a*b*c", "/acb", false},
		{"/a*b*c", "/abcbc", true},
		{"/a?c", "/abc", true},
		{"/a?c", "/ac", false},
		{"/a?c", "/abbc", false},
		{"/a?c", "/a/c", true}, // '?' matches '/' too
		{"/?", "/é", true},     // one character, not one byte
		{"/??", "/é", false},
		{"/*?", "/€", true},
		{"/*??", "/€", false},
		{"/file?.txt", "/file1.txt", true},
		{"/api/v?/*", "/api/v2/users", true},
		{"/api/v?/*", "/api/v10/users", false},
		{"*/", "/dir/", true},
		{"*/", "/dir/file", false},
		{"/**", "/x", true},
		{"/*a*", "/bbb", false},
		{"/exact.html", "/exact.html", true},
		{"/exact.html", "/exact.htm", false},
		{"/exact.html", "/exact.html/", false},
		{"/a*", "/a", true},
		{"/*a", "/a", true},
		{"/*a", "/", false},
	}
	for _, tt := range tests {
		if got := MatchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
		if ref := refMatch(tt.pattern, tt.path); ref != tt.want {
			t.Errorf("reference(%q, %q) = %v, want %v (the table or the reference is wrong)", tt.pattern, tt.path, ref, tt.want)
		}
	}
}

// refMatch is the specification of MatchPath written the obvious way: a
// regular expression built from the pattern.
func refMatch(pattern, path string) bool {
	if pattern == "" {
		return true
	}
	var b strings.Builder
	b.WriteString(`(?s)^/`)
	for _, r := range strings.TrimPrefix(pattern, "/") {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString("/" + strings.TrimPrefix(path, "/"))
}

func FuzzMatchPath(f *testing.F) {
	for _, s := range [][2]string{
		{"*", "/"}, {"/images/*", "/images/a.png"}, {"*.jpg", "/a/b.jpg"}, {"/a*b*c", "/aXbYc"},
		{"/a?c", "/abc"}, {"images/*", "images/x"}, {"", ""}, {"/*?", "/€"}, {"**?*?**", "/ab"},
		{"/a*a*a*a*a*a*a*b", "/" + strings.Repeat("a", 200)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		got := MatchPath(pattern, path)
		// The regexp reference reads runes, so compare on valid UTF-8 only
		// (an invalid byte and U+FFFD look alike to it).
		if !utf8.ValidString(pattern) || !utf8.ValidString(path) || strings.ContainsRune(pattern+path, utf8.RuneError) ||
			len(pattern) > 300 || len(path) > 1000 {
			return
		}
		if want := refMatch(pattern, path); got != want {
			t.Fatalf("MatchPath(%q, %q) = %v, reference says %v", pattern, path, got, want)
		}
	})
}

func TestMatchPathAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		MatchPath("/static/*/img-??.*", "/static/a/b/img-01.webp")
		MatchPath("*.jpg", "/images/a.png")
	})
	if allocs != 0 {
		t.Errorf("MatchPath allocates %v times per call", allocs)
	}
}

// TestMatchPathWorstCase makes sure a hostile pattern cannot blow up:
// the two-pointer algorithm is quadratic at worst, never exponential.
func TestMatchPathWorstCase(t *testing.T) {
	pattern := strings.Repeat("*a", 120) + "b"
	path := "/" + strings.Repeat("a", 4000)
	if MatchPath(pattern, path) {
		t.Fatal("matched")
	}
}

func BenchmarkMatchPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		MatchPath("/static/*/img-??.*", "/static/a/b/img-01.webp")
	}
}

func BenchmarkBehavior(b *testing.B) {
	c := mustLoad(b, "testdata/full.yaml")
	d := &c.Distributions[0]
	b.ReportAllocs()
	for b.Loop() {
		d.Behavior("/videos/2025/intro.mp4")
	}
}
