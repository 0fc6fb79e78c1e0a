package config

import "unicode/utf8"

// Behavior returns the first cache behavior whose path pattern matches the
// URL path, else the default cache behavior.
func (d *Distribution) Behavior(path string) *CacheBehavior {
	for i := range d.CacheBehaviors {
		if MatchPath(d.CacheBehaviors[i].PathPattern, path) {
			return &d.CacheBehaviors[i]
		}
	}
	return &d.DefaultCacheBehavior
}

// MatchPath reports whether a URL path matches a CloudFront path pattern:
// '*' matches zero or more characters, '/' included; '?' matches exactly one
// character; everything else matches itself, case-sensitively. A pattern or
// a path without a leading '/' is treated as if it had one, and the empty
// path as "/". The empty pattern matches every path (it is the default
// behavior's).
//
// It does not allocate, and runs in O(len(pattern)·len(path)) at worst (the
// greedy two-pointer algorithm, which never backtracks further than the last
// '*').
func MatchPath(pattern, path string) bool {
	if pattern == "" {
		return true
	}
	// Strip the leading '/' from both, adding the one that is missing.
	if pattern[0] == '/' {
		pattern = pattern[1:]
	}
	if path != "" && path[0] == '/' {
		path = path[1:]
	}
	p, s := 0, 0
	starP, starS := -1, 0 // position after the last '*', and where it started matching
	for s < len(path) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				p++
				starP, starS = p, s
				continue
			case '?':
				p++
				s += runeLen(path, s)
				continue
			default:
				if c == path[s] {
					p++
					s++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry after it.
		starS += runeLen(path, starS)
		p, s = starP, starS
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen is the length of the UTF-8 sequence at s[i] (1 for invalid bytes,
// as range and regexp count them).
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}
