package cache

import (
	"net/http"
	"strings"
	"time"
)

// Parsing of the response fields freshness depends on besides
// Cache-Control: Age (RFC 9111 5.1), Expires (5.3) and Date, as leniently
// as the RFCs allow and no more.

// maxDelta is the greatest delta-seconds a cache must represent; a larger
// value, or a calculation that overflows, counts as this (RFC 9111 1.2.2).
const maxDelta = 1 << 31

// ParseAge parses the Age field values of a response. Age is one
// delta-seconds: a list, a sign, a fraction, an empty value or any other
// non-digit makes it invalid, and an invalid Age is ignored (ok false); a
// value beyond 2^31 seconds counts as 2^31.
func ParseAge(values []string) (seconds int64, ok bool) {
	if len(values) != 1 {
		return 0, false // absent, or a list spread over several lines
	}
	s := strings.Trim(values[0], " \t")
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

// ParseHTTPDate parses an HTTP-date (RFC 9110 5.6.7): the IMF-fixdate, and
// the obsolete RFC 850 and asctime forms recipients must accept. Within
// what those allow it is lenient: surrounding whitespace, any letter case in
// names, and "UTC" or "+0000" for "GMT". An RFC 850 two-digit year is the
// one that puts the date no more than 50 years after now (RFC 9110 5.6.7),
// not Go's fixed 1969 pivot. ok is false for anything else: for Expires
// that means already expired (RFC 9111 5.3).
func ParseHTTPDate(s string, now time.Time) (t time.Time, ok bool) {
	s = strings.Trim(s, " \t")
	for _, zone := range []string{" UTC", " +0000", " utc", " gmt"} {
		if strings.HasSuffix(s, zone) {
			s = s[:len(s)-len(zone)] + " GMT"
			break
		}
	}
	if t, err := time.Parse(http.TimeFormat, s); err == nil {
		return t, true
	}
	if strings.HasSuffix(s, " GMT") {
		if t, err := time.Parse(time.RFC850, s); err == nil {
			return fixCentury(t.UTC(), now), true
		}
	}
	if t, err := time.Parse(time.ANSIC, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// fixCentury moves a date parsed from a two-digit year into the century
// that puts it at most 50 years after now.
func fixCentury(t, now time.Time) time.Time {
	if now.IsZero() {
		now = time.Now()
	}
	year := now.Year()/100*100 + t.Year()%100
	if year > now.Year()+50 {
		year -= 100
	}
	return time.Date(year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// parseExpires returns the Expires time of a response; ok false means the
// field is invalid (several different values, or not an HTTP-date), which
// a cache must read as a time in the past.
func parseExpires(h http.Header, now time.Time) (time.Time, bool) {
	vv := h["Expires"]
	for _, v := range vv[1:] {
		if v != vv[0] {
			return time.Time{}, false
		}
	}
	return ParseHTTPDate(vv[0], now)
}
