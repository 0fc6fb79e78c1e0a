package cache

import (
	"strings"
	"time"
)

// Targeted cache control (RFC 9213). A targeted field such as
// CDN-Cache-Control is a Dictionary Structured Field (RFC 8941), not
// Cache-Control's looser syntax: a field that does not parse as one, or is
// empty, is ignored as if absent, and Cache-Control and Expires apply. In a
// valid field, a directive whose value has the wrong type (max-age="60",
// max-age=1.5, no-store=5) is ignored, parameters are ignored, and a
// repeated key takes its last value (RFC 8941 4.2.2).

// sfItem is a parsed bare item: an Integer, a String, a Boolean, or
// anything else (Decimal, Token, Byte Sequence, Inner List), which no cache
// directive takes.
type sfItem struct {
	kind    byte // 'i' Integer, 's' String, 'b' Boolean, 'l' Inner List, 'o' other
	n       int64
	s       string
	b       bool
	strings []string // the Strings and Tokens of an Inner List
}

// parseTargeted parses the lines of a targeted field. ok is false when
// the field is empty or not a valid Dictionary.
func parseTargeted(values []string) (Directives, bool) {
	dict, ok := parseSFDictionary(strings.Join(values, ","))
	if !ok || len(dict) == 0 {
		return noDirectives(), false
	}
	d := noDirectives()
	d.Present = true
	for _, m := range dict {
		switch m.key {
		case "max-age":
			setDelta(&d.MaxAge, m.item)
		case "s-maxage":
			setDelta(&d.SMaxAge, m.item)
		case "stale-while-revalidate":
			setDelta(&d.StaleWhileRevalidate, m.item)
		case "stale-if-error":
			setDelta(&d.StaleIfError, m.item)
		case "no-store":
			setFlag(&d.NoStore, m.item)
		case "public":
			setFlag(&d.Public, m.item)
		case "must-revalidate", "proxy-revalidate":
			if m.item.kind == 'b' && m.item.b {
				d.MustRevalidate = true
			}
		case "immutable":
			setFlag(&d.Immutable, m.item)
		case "no-transform":
			setFlag(&d.NoTransform, m.item)
		case "no-cache":
			setQualified(&d.NoCache, &d.NoCacheFields, m.item)
		case "private":
			setQualified(&d.Private, &d.PrivateFields, m.item)
		}
	}
	return d, true
}

func setDelta(dst *time.Duration, it sfItem) {
	if it.kind == 'i' && it.n >= 0 {
		*dst = time.Duration(min(it.n, maxDelta)) * time.Second
	}
}

func setFlag(dst *bool, it sfItem) {
	if it.kind == 'b' {
		*dst = it.b
	}
}

// setQualified: no-cache and private are a Boolean, or name fields in a
// String ("a, b") or an Inner List of Strings or Tokens.
func setQualified(flag *bool, fields *[]string, it sfItem) {
	switch it.kind {
	case 'b':
		*flag = it.b
	case 's':
		*fields = append(*fields, splitFields(it.s)...)
	case 'l':
		for _, s := range it.strings {
			*fields = append(*fields, splitFields(s)...)
		}
	}
}

type sfMember struct {
	key  string
	item sfItem
}

// parseSFDictionary parses a Dictionary (RFC 8941 4.2.2). Members come out
// in order with later duplicates replacing earlier ones in place.
func parseSFDictionary(s string) ([]sfMember, bool) {
	p := sfParser{s: strings.Trim(s, " ")}
	var out []sfMember
	for p.i < len(p.s) {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		it := sfItem{kind: 'b', b: true}
		if p.peek() == '=' {
			p.i++
			if it, ok = p.itemOrList(); !ok {
				return nil, false
			}
		} else if !p.params() {
			return nil, false
		}
		replaced := false
		for j := range out {
			if out[j].key == key {
				out[j].item, replaced = it, true
			}
		}
		if !replaced {
			out = append(out, sfMember{key, it})
		}
		p.ows()
		if p.i == len(p.s) {
			return out, true
		}
		if p.s[p.i] != ',' {
			return nil, false
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, false // a trailing comma
		}
	}
	return out, true
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || (c >= 'A' && c <= 'Z') }

// isTChar is RFC 9110's tchar.
func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", false
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		for p.peek() == ' ' {
			p.i++
		}
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) itemOrList() (sfItem, bool) {
	if p.peek() != '(' {
		it, ok := p.bareItem()
		return it, ok && p.params()
	}
	p.i++
	it := sfItem{kind: 'l'}
	for {
		for p.peek() == ' ' {
			p.i++
		}
		if p.peek() == ')' {
			p.i++
			return it, p.params()
		}
		m, ok := p.bareItem()
		if !ok || !p.params() {
			return it, false
		}
		if m.kind == 's' || m.kind == 't' {
			it.strings = append(it.strings, m.s)
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return it, false
		}
	}
}

// bareItem parses an Integer, Decimal, String, Token, Byte Sequence or
// Boolean. Tokens are kind 't' (kept for Inner Lists of field names).
func (p *sfParser) bareItem() (sfItem, bool) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return sfItem{kind: 'b', b: p.s[p.i-1] == '1'}, true
		}
		return sfItem{}, false
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return sfItem{}, false
		}
		for _, b := range []byte(p.s[p.i+1 : p.i+1+end]) {
			if !isAlpha(b) && !isDigit(b) && b != '+' && b != '/' && b != '=' {
				return sfItem{}, false
			}
		}
		p.i += end + 2
		return sfItem{kind: 'o'}, true
	case isAlpha(c) || c == '*':
		start := p.i
		for p.i < len(p.s) && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfItem{kind: 't', s: p.s[start:p.i]}, true
	}
	return sfItem{}, false
}

func (p *sfParser) number() (sfItem, bool) {
	neg := p.peek() == '-'
	if neg {
		p.i++
	}
	if !isDigit(p.peek()) {
		return sfItem{}, false
	}
	var n int64
	digits, dot := 0, -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' && dot < 0 {
			if digits > 12 {
				return sfItem{}, false
			}
			dot = digits
			p.i++
			continue
		}
		if !isDigit(c) {
			break
		}
		digits++
		if (dot < 0 && digits > 15) || (dot >= 0 && digits-dot > 3) {
			return sfItem{}, false
		}
		if dot < 0 {
			n = n*10 + int64(c-'0')
		}
		p.i++
	}
	if dot >= 0 {
		if digits == dot {
			return sfItem{}, false // "1." has no fraction
		}
		return sfItem{kind: 'o'}, true // a Decimal: no directive takes one
	}
	if neg {
		n = -n
	}
	return sfItem{kind: 'i', n: n}, true
}

func (p *sfParser) str() (sfItem, bool) {
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i == len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfItem{}, false
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{kind: 's', s: b.String()}, true
		case c < 0x20 || c > 0x7e:
			return sfItem{}, false
		default:
			b.WriteByte(c)
		}
	}
	return sfItem{}, false // no closing quote
}
