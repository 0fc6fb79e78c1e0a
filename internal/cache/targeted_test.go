package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseTargeted(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    []string
		valid bool
		want  func(d Directives) bool
	}{
		{"max-age", []string{"max-age=600"}, true, func(d Directives) bool { return d.MaxAge == 600*time.Second }},
		{"several", []string{"max-age=60, stale-while-revalidate=30, must-revalidate"}, true, func(d Directives) bool {
			return d.MaxAge == time.Minute && d.StaleWhileRevalidate == 30*time.Second && d.MustRevalidate
		}},
		{"two lines", []string{"max-age=60", "no-store"}, true, func(d Directives) bool { return d.MaxAge == time.Minute && d.NoStore }},
		{"last duplicate wins", []string{"max-age=60, max-age=120"}, true, func(d Directives) bool { return d.MaxAge == 2*time.Minute }},
		{"string max-age ignored", []string{`max-age="60", public`}, true, func(d Directives) bool { return d.MaxAge == -1 && d.Public }},
		{"decimal max-age ignored", []string{"max-age=1.5"}, true, func(d Directives) bool { return d.MaxAge == -1 }},
		{"negative max-age ignored", []string{"max-age=-5"}, true, func(d Directives) bool { return d.MaxAge == -1 }},
		{"huge max-age clamps", []string{"max-age=999999999999999"}, true, func(d Directives) bool { return d.MaxAge == maxDelta*time.Second }},
		{"false boolean", []string{"no-store=?0, max-age=5"}, true, func(d Directives) bool { return !d.NoStore && d.MaxAge == 5*time.Second }},
		{"integer for a flag ignored", []string{"no-store=1"}, true, func(d Directives) bool { return !d.NoStore }},
		{"parameters ignored", []string{"max-age=60;foo=bar, private;x"}, true, func(d Directives) bool { return d.MaxAge == time.Minute && d.Private }},
		{"qualified no-cache string", []string{`no-cache="set-cookie, x-a"`}, true, func(d Directives) bool {
			return !d.NoCache && len(d.NoCacheFields) == 2 && d.NoCacheFields[0] == "Set-Cookie" && d.NoCacheFields[1] == "X-A"
		}},
		{"qualified private list", []string{`private=(set-cookie "x-b")`}, true, func(d Directives) bool {
			return !d.Private && len(d.PrivateFields) == 2 && d.PrivateFields[1] == "X-B"
		}},
		{"unknown extension", []string{"foo=bar, max-age=5"}, true, func(d Directives) bool { return d.MaxAge == 5*time.Second }},
		// Not a Dictionary: the whole field is ignored.
		{"empty", []string{""}, false, nil},
		{"uppercase key", []string{"Max-Age=60"}, false, nil},
		{"space in value", []string{"max-age=6 0"}, false, nil},
		{"trailing comma", []string{"max-age=60,"}, false, nil},
		{"unterminated string", []string{`no-cache="a`}, false, nil},
		{"bad token start", []string{"max-age=@"}, false, nil},
		{"sixteen digits", []string{"max-age=1234567890123456"}, false, nil},
		{"empty line between", []string{"max-age=60", ""}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := parseTargeted(tt.in)
			if ok != tt.valid {
				t.Fatalf("parseTargeted(%q) valid=%v, want %v", tt.in, ok, tt.valid)
			}
			if ok && !tt.want(d) {
				t.Errorf("parseTargeted(%q) = %+v", tt.in, d)
			}
		})
	}
}

// An invalid targeted field is as if absent: Cache-Control and Expires
// apply. A valid one replaces them, even when it says less.
func TestTargetedFallback(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ttl := TTLs{Default: time.Hour, Max: 2 * time.Hour}
	for _, tt := range []struct {
		name     string
		resp     http.Header
		store    bool
		lifetime time.Duration
	}{
		{"valid wins", http.Header{"Cache-Control": {"no-store"}, "Cdn-Cache-Control": {"max-age=50"}}, true, 50 * time.Second},
		{"invalid falls back", http.Header{"Cache-Control": {"max-age=20"}, "Cdn-Cache-Control": {"max-age=5 0"}}, true, 20 * time.Second},
		{"invalid strata field falls to cdn field", http.Header{"Strata-Cdn-Cache-Control": {"MAX-AGE=1"}, "Cdn-Cache-Control": {"max-age=70"}}, true, 70 * time.Second},
		{"empty falls back", http.Header{"Cache-Control": {"max-age=20"}, "Cdn-Cache-Control": {""}}, true, 20 * time.Second},
		{"valid ignores Expires", http.Header{"Cdn-Cache-Control": {"public"}, "Expires": {"0"}}, true, time.Hour},
		{"wrong type leaves the default", http.Header{"Cache-Control": {"max-age=20"}, "Cdn-Cache-Control": {`max-age="50"`}}, true, time.Hour},
		{"targeted no-store", http.Header{"Cache-Control": {"max-age=20"}, "Cdn-Cache-Control": {"no-store"}}, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(http.Header{}, 200, tt.resp, ttl, now, -1)
			if v.Store != tt.store || v.Lifetime != tt.lifetime {
				t.Errorf("store=%v lifetime=%v (%s), want %v %v", v.Store, v.Lifetime, v.Reason, tt.store, tt.lifetime)
			}
		})
	}
}

// FuzzParseTargeted: nothing panics, durations stay in range, and a field
// that parses still parses with a valid member appended (the Dictionary
// grammar is closed under that).
func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a, b", private`, "max-age=6 0", `private=(a "b");p=1`, "a=:aGk=:, b=?1",
		"x=1.5, y=-3", "*k=tok/en:x", "max-age=60,", `s="\"\\"`, ",,,", "max-age=999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseTargeted([]string{s})
		if d.MaxAge < -1 || d.MaxAge > maxDelta*time.Second || d.SMaxAge < -1 || d.StaleIfError > maxDelta*time.Second {
			t.Fatalf("parseTargeted(%q): out of range %+v", s, d)
		}
		if !ok {
			return
		}
		if d2, ok2 := parseTargeted([]string{s + ", max-age=7"}); !ok2 || d2.MaxAge != 7*time.Second {
			t.Fatalf("parseTargeted(%q) valid, but not with a member appended: %v %+v", s, ok2, d2)
		}
	})
}
