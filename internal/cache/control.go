package cache

import (
	"net/http"
	"strings"
	"time"
)

// Directives is a parsed Cache-Control (or CDN-Cache-Control) field.
// Durations are -1 when the directive is absent.
type Directives struct {
	MaxAge               time.Duration
	SMaxAge              time.Duration
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	NoStore              bool
	NoCache              bool // unqualified no-cache: store, but revalidate every time
	NoCacheFields        []string
	Private              bool // unqualified private: never stored by a shared cache
	PrivateFields        []string
	Public               bool
	MustRevalidate       bool // also set by proxy-revalidate
	Immutable            bool
	NoTransform          bool // intermediaries must not change the content (RFC 9111 5.2.2.6): no compression
	OnlyIfCached         bool // request directive
	Present              bool // at least one directive was seen
}

func noDirectives() Directives {
	return Directives{MaxAge: -1, SMaxAge: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
}

// ParseCacheControl parses every Cache-Control line in values. Unknown
// directives are ignored; a malformed delta-seconds makes the directive count
// as stale (RFC 9111 section 4.2.1: treat an invalid max-age as 0).
func ParseCacheControl(values []string) Directives {
	d := noDirectives()
	for _, v := range values {
		for len(v) > 0 {
			var item string
			item, v = nextItem(v)
			if item == "" {
				continue
			}
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.TrimSpace(arg)
			if hasArg && len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = arg[1 : len(arg)-1]
			}
			d.Present = true
			switch name {
			case "max-age":
				d.MaxAge = firstDelta(d.MaxAge, arg)
			case "s-maxage":
				d.SMaxAge = firstDelta(d.SMaxAge, arg)
			case "stale-while-revalidate":
				d.StaleWhileRevalidate = firstDelta(d.StaleWhileRevalidate, arg)
			case "stale-if-error":
				d.StaleIfError = firstDelta(d.StaleIfError, arg)
			case "no-store":
				d.NoStore = true
			case "no-cache":
				if hasArg && arg != "" {
					d.NoCacheFields = append(d.NoCacheFields, splitFields(arg)...)
				} else {
					d.NoCache = true
				}
			case "private":
				if hasArg && arg != "" {
					d.PrivateFields = append(d.PrivateFields, splitFields(arg)...)
				} else {
					d.Private = true
				}
			case "public":
				d.Public = true
			case "must-revalidate", "proxy-revalidate":
				d.MustRevalidate = true
			case "immutable":
				d.Immutable = true
			case "no-transform":
				d.NoTransform = true
			case "only-if-cached":
				d.OnlyIfCached = true
			}
		}
	}
	return d
}

// nextItem splits off one comma-separated item, honouring quoted strings
// (no-cache="a, b").
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				return strings.TrimSpace(s[:i]), s[i+1:]
			}
		}
	}
	return strings.TrimSpace(s), ""
}

func splitFields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// firstDelta keeps the first occurrence of a duplicated directive; an invalid
// or negative value counts as 0.
func firstDelta(cur time.Duration, arg string) time.Duration {
	if cur >= 0 {
		return cur
	}
	return time.Duration(parseDelta(arg)) * time.Second
}

// parseDelta parses delta-seconds; invalid → 0, overflow → 2^31 (RFC 9111 1.2.2).
func parseDelta(s string) int64 {
	if s == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
		if n > 1<<31 {
			return 1 << 31
		}
	}
	return n
}

// Targeted field names, most specific first (RFC 9213): Strata's target
// list. The first one present, valid and non-empty in a response replaces
// Cache-Control and Expires for Strata (targeted.go).
var TargetedFields = []string{"Strata-Cdn-Cache-Control", "Cdn-Cache-Control"}

// ResponseDirectives returns the directives Strata obeys for a response and
// whether they came from a targeted field.
func ResponseDirectives(h http.Header) (Directives, bool) {
	for _, f := range TargetedFields {
		if v := h[f]; len(v) > 0 {
			if d, ok := parseTargeted(v); ok {
				return d, true
			}
		}
	}
	return ParseCacheControl(h["Cache-Control"]), false
}
