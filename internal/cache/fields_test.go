package cache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []string
		want int64
		ok   bool
	}{
		{"absent", nil, 0, false},
		{"zero", []string{"0"}, 0, true},
		{"plain", []string{"120"}, 120, true},
		{"leading zeros", []string{"007"}, 7, true},
		{"ows", []string{" 5\t"}, 5, true},
		{"sign", []string{"+5"}, 0, false},
		{"negative", []string{"-5"}, 0, false},
		{"fraction", []string{"1.5"}, 0, false},
		{"list on one line", []string{"5, 6"}, 0, false},
		{"list on two lines", []string{"5", "6"}, 0, false},
		{"space inside", []string{"1 2"}, 0, false},
		{"letters", []string{"10s"}, 0, false},
		{"empty", []string{""}, 0, false},
		{"2^31", []string{"2147483648"}, 1 << 31, true},
		{"overflow clamps", []string{"2147483649"}, 1 << 31, true},
		{"int64 overflow clamps", []string{"99999999999999999999999999"}, 1 << 31, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseAge(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseAge(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseHTTPDate(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, tt := range []struct {
		name string
		in   string
		want time.Time // zero: invalid
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want},
		{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", want},
		{"asctime", "Sun Nov  6 08:49:37 1994", want},
		{"asctime one space", "Sun Nov 6 08:49:37 1994", want},
		{"whitespace", "  Sun, 06 Nov 1994 08:49:37 GMT\t", want},
		{"UTC for GMT", "Sun, 06 Nov 1994 08:49:37 UTC", want},
		{"+0000 for GMT", "Sun, 06 Nov 1994 08:49:37 +0000", want},
		{"case", "SUN, 06 NOV 1994 08:49:37 gmt", want},
		// RFC 9110 5.6.7: a two-digit year at most 50 years ahead.
		{"rfc850 near future", "Thursday, 01-Jan-70 00:00:00 GMT", time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"rfc850 past century", "Saturday, 01-Jan-77 00:00:00 GMT", time.Date(1977, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"zero", "0", time.Time{}},
		{"minus one", "-1", time.Time{}},
		{"empty", "", time.Time{}},
		{"other zone", "Sun, 06 Nov 1994 08:49:37 EST", time.Time{}},
		{"rfc850 other zone", "Sunday, 06-Nov-94 08:49:37 EST", time.Time{}},
		{"unix seconds", "784111777", time.Time{}},
		{"garbage", "next tuesday", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseHTTPDate(tt.in, now)
			if ok != !tt.want.IsZero() || (ok && !got.Equal(tt.want)) {
				t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestExpiresAndAgeInFreshness(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ttl := TTLs{Default: time.Hour, Max: 2 * time.Hour}
	in := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tt := range []struct {
		name     string
		resp     http.Header
		lifetime time.Duration
	}{
		{"expires", http.Header{"Expires": {in(10 * time.Minute)}}, 10 * time.Minute},
		{"expires rfc850", http.Header{"Expires": {now.Add(10 * time.Minute).Format(time.RFC850)}}, 10 * time.Minute},
		{"expires relative to Date", http.Header{"Date": {in(-time.Minute)}, "Expires": {in(10 * time.Minute)}}, 11 * time.Minute},
		{"invalid Date: response time", http.Header{"Date": {"yesterday"}, "Expires": {in(10 * time.Minute)}}, 10 * time.Minute},
		{"expires 0 is expired", http.Header{"Expires": {"0"}, "Etag": {`"e"`}}, 0},
		{"expires in the past", http.Header{"Expires": {in(-time.Hour)}, "Etag": {`"e"`}}, 0},
		{"two different Expires", http.Header{"Expires": {in(10 * time.Minute), in(20 * time.Minute)}, "Etag": {`"e"`}}, 0},
		{"two equal Expires", http.Header{"Expires": {in(10 * time.Minute), in(10 * time.Minute)}}, 10 * time.Minute},
		{"max-age beats expires", http.Header{"Expires": {"0"}, "Cache-Control": {"max-age=60"}}, time.Minute},
		{"s-maxage beats expires", http.Header{"Expires": {in(time.Hour)}, "Cache-Control": {"s-maxage=60"}}, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(http.Header{}, 200, tt.resp, ttl, now, -1)
			if !v.Store || v.Lifetime != tt.lifetime {
				t.Errorf("store=%v lifetime=%v (%s), want %v", v.Store, v.Lifetime, v.Reason, tt.lifetime)
			}
		})
	}
	for _, tt := range []struct {
		name string
		age  []string
		want time.Duration
	}{
		{"valid Age", []string{"100"}, 101 * time.Second},
		{"non-digit Age ignored", []string{"100s"}, time.Second},
		{"list Age ignored", []string{"100, 200"}, time.Second},
		{"huge Age clamps", []string{"99999999999999999999"}, maxDelta * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Date": {in(0)}, "Age": tt.age}
			if got := InitialAge(h, now.Add(-time.Second), now); got != tt.want {
				t.Errorf("InitialAge with Age %q = %v, want %v", tt.age, got, tt.want)
			}
		})
	}
}

// NewObject and Refreshed store a copy without the fields a qualified
// no-cache or private names; the header given, which goes to the viewer
// whose request fetched it, keeps them.
func TestStoredCopyOmitsQualifiedFields(t *testing.T) {
	now := time.Now()
	h := http.Header{"Cache-Control": {`max-age=60, no-cache="Set-Cookie", private="X-User"`},
		"Set-Cookie": {"a=b"}, "X-User": {"u"}, "X-Other": {"o"}}
	v := Evaluate(http.Header{}, 200, h, TTLs{Default: time.Hour, Max: time.Hour}, now, -1)
	if !v.Store {
		t.Fatalf("not stored: %s", v.Reason)
	}
	o := NewObject(200, h, BodyFrom([]byte("x")), now, now, v)
	if o.Header.Get("Set-Cookie") != "" || o.Header.Get("X-User") != "" || o.Header.Get("X-Other") != "o" {
		t.Fatalf("stored header %v", o.Header)
	}
	if h.Get("Set-Cookie") != "a=b" || h.Get("X-User") != "u" {
		t.Fatalf("the forwarded header lost its fields: %v", h)
	}
	merged := MergeHeaders(o.Header, http.Header{"Set-Cookie": {"c=d"}, "Cache-Control": h["Cache-Control"]})
	r := o.Refreshed(merged, http.Header{}, now, now, v)
	if r.Header.Get("Set-Cookie") != "" || merged.Get("Set-Cookie") != "c=d" {
		t.Fatalf("refreshed: stored %v, forwarded %v", r.Header, merged)
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"0", "120", "+5", "-1", "1.5", "5, 6", "2147483649", "99999999999999999999", " 7 ", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseAge([]string{s})
		digits := strings.Trim(s, " \t")
		valid := digits != "" && strings.Trim(digits, "0123456789") == ""
		if ok != valid {
			t.Fatalf("ParseAge(%q) ok=%v, want %v", s, ok, valid)
		}
		if n < 0 || n > maxDelta || (!ok && n != 0) {
			t.Fatalf("ParseAge(%q) = %d", s, n)
		}
	})
}

// FuzzParseHTTPDate: nothing panics, and whatever parses is a date that
// reads back the same in every form an origin may send it.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"0", "-1", "Sun, 06 Nov 1994 08:49:37 UTC", "Thu, 01 Jan 1970 00:00:00 +0000", "Mon, 31 Feb 2026 25:61:61 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseHTTPDate(s, now)
		if !ok {
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Fatalf("ParseHTTPDate(%q) = %v: not whole seconds in UTC", s, got)
		}
		for _, layout := range []string{http.TimeFormat, time.ANSIC} {
			if again, ok := ParseHTTPDate(got.Format(layout), now); got.Year() >= 0 && got.Year() <= 9999 && (!ok || !again.Equal(got)) {
				t.Fatalf("ParseHTTPDate(%q) = %v, which reads back in %q as %v, %v", s, got, layout, again, ok)
			}
		}
	})
}
