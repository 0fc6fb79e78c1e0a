package waf

import (
	"sort"
	"strings"
)

// Inspection limits of headers and cookies (AWS: the first 8 KB or 200
// items); beyond them OversizeHandling decides.
const (
	maxInspectBytes = 8 * 1024
	maxInspectItems = 200
)

type fieldKind int

const (
	fUriPath fieldKind = iota
	fQueryString
	fMethod
	fAllQueryArguments
	fSingleHeader
	fSingleQueryArgument
	fBody
	fHeaders
	fCookies
)

// field is a compiled FieldToMatch.
type field struct {
	kind     fieldKind
	name     string // SingleHeader / SingleQueryArgument (lowercase)
	oversize string // CONTINUE | MATCH | NO_MATCH
	scope    string // Headers / Cookies: ALL | KEY | VALUE
	include  map[string]bool
	exclude  map[string]bool
}

var oversizeValues = []string{"CONTINUE", "MATCH", "NO_MATCH"}
var scopeValues = []string{"ALL", "KEY", "VALUE"}

func compileField(f FieldToMatch, path string) (*field, error) {
	var out []*field
	var err error
	set := func(c *field) { out = append(out, c) }
	if f.UriPath != nil {
		set(&field{kind: fUriPath})
	}
	if f.QueryString != nil {
		set(&field{kind: fQueryString})
	}
	if f.Method != nil {
		set(&field{kind: fMethod})
	}
	if f.AllQueryArguments != nil {
		set(&field{kind: fAllQueryArguments})
	}
	if f.SingleHeader != nil {
		if f.SingleHeader.Name == "" {
			return nil, errorf(path+".SingleHeader.Name", "a header name is required")
		}
		set(&field{kind: fSingleHeader, name: strings.ToLower(f.SingleHeader.Name)})
	}
	if f.SingleQueryArgument != nil {
		n := f.SingleQueryArgument.Name
		if n == "" || len(n) > 30 {
			return nil, errorf(path+".SingleQueryArgument.Name", "an argument name of 1 to 30 characters is required")
		}
		set(&field{kind: fSingleQueryArgument, name: strings.ToLower(n)})
	}
	if f.Body != nil {
		c := &field{kind: fBody, oversize: f.Body.OversizeHandling}
		if c.oversize == "" {
			c.oversize = "CONTINUE"
		}
		if !contains(oversizeValues, c.oversize) {
			return nil, errorf(path+".Body.OversizeHandling", "%q is not one of %s", c.oversize, strings.Join(oversizeValues, ", "))
		}
		set(c)
	}
	if f.Headers != nil {
		c := &field{kind: fHeaders, oversize: f.Headers.OversizeHandling, scope: f.Headers.MatchScope}
		p := path + ".Headers"
		if c.include, c.exclude, err = matchPattern(f.Headers.MatchPattern.All != nil, f.Headers.MatchPattern.IncludedHeaders,
			f.Headers.MatchPattern.ExcludedHeaders, true, p+".MatchPattern"); err != nil {
			return nil, err
		}
		if err := checkScope(c, p); err != nil {
			return nil, err
		}
		set(c)
	}
	if f.Cookies != nil {
		c := &field{kind: fCookies, oversize: f.Cookies.OversizeHandling, scope: f.Cookies.MatchScope}
		p := path + ".Cookies"
		if c.include, c.exclude, err = matchPattern(f.Cookies.MatchPattern.All != nil, f.Cookies.MatchPattern.IncludedCookies,
			f.Cookies.MatchPattern.ExcludedCookies, false, p+".MatchPattern"); err != nil {
			return nil, err
		}
		if err := checkScope(c, p); err != nil {
			return nil, err
		}
		set(c)
	}
	if f.JA3Fingerprint != nil {
		return nil, errorf(path+".JA3Fingerprint", "not supported by Strata (TLS fingerprints are not computed)")
	}
	switch len(out) {
	case 0:
		return nil, errorf(path, "one field to match is required (UriPath, QueryString, Method, AllQueryArguments, SingleHeader, SingleQueryArgument, Body, Headers or Cookies)")
	case 1:
		return out[0], nil
	}
	return nil, errorf(path, "exactly one field to match, not %d", len(out))
}

func checkScope(c *field, p string) error {
	if !contains(scopeValues, c.scope) {
		return errorf(p+".MatchScope", "%q is not one of %s", c.scope, strings.Join(scopeValues, ", "))
	}
	if !contains(oversizeValues, c.oversize) {
		return errorf(p+".OversizeHandling", "%q is not one of %s", c.oversize, strings.Join(oversizeValues, ", "))
	}
	return nil
}

func matchPattern(all bool, inc, exc []string, fold bool, path string) (map[string]bool, map[string]bool, error) {
	n := 0
	if all {
		n++
	}
	if len(inc) > 0 {
		n++
	}
	if len(exc) > 0 {
		n++
	}
	if n != 1 {
		return nil, nil, errorf(path, "exactly one of All, Included…, Excluded… is required")
	}
	mk := func(names []string) map[string]bool {
		if len(names) == 0 {
			return nil
		}
		m := make(map[string]bool, len(names))
		for _, s := range names {
			if fold {
				s = strings.ToLower(s)
			}
			m[s] = true
		}
		return m
	}
	return mk(inc), mk(exc), nil
}

// inspect calls fn on each value of the field until fn returns true, and
// reports whether the field matched: a missing component never matches;
// an oversize one matches or not as OversizeHandling says, or (CONTINUE)
// has what is within the limit inspected.
func (f *field) inspect(r *Request, fn func(string) bool) bool {
	switch f.kind {
	case fUriPath:
		return fn(r.Path)
	case fQueryString:
		return fn(r.RawQuery)
	case fMethod:
		return fn(r.Method)
	case fAllQueryArguments:
		for _, kv := range queryArgs(r.RawQuery) {
			if fn(kv[1]) {
				return true
			}
		}
		return false
	case fSingleQueryArgument:
		for _, kv := range queryArgs(r.RawQuery) {
			if strings.EqualFold(kv[0], f.name) && fn(kv[1]) {
				return true
			}
		}
		return false
	case fSingleHeader:
		vv, ok := r.header(f.name)
		if !ok {
			return false
		}
		for _, v := range vv {
			if fn(v) {
				return true
			}
		}
		return false
	case fBody:
		if r.BodyOversize {
			switch f.oversize {
			case "MATCH":
				return true
			case "NO_MATCH":
				return false
			}
		}
		if len(r.Body) == 0 && !r.BodyOversize {
			return false
		}
		return fn(string(r.Body))
	case fHeaders:
		return f.inspectPairs(headerPairs(r), fn)
	case fCookies:
		return f.inspectPairs(cookies(r.Header), fn)
	}
	return false
}

func (f *field) inspectPairs(pairs [][2]string, fn func(string) bool) bool {
	size, items := 0, 0
	for _, kv := range pairs {
		name := kv[0]
		if f.kind == fHeaders {
			name = strings.ToLower(name)
		}
		if f.include != nil && !f.include[name] || f.exclude[name] {
			continue
		}
		size += len(kv[0]) + len(kv[1])
		items++
		if size > maxInspectBytes || items > maxInspectItems {
			switch f.oversize {
			case "MATCH":
				return true
			case "NO_MATCH":
				return false
			}
			return false // CONTINUE: what was within the limit did not match
		}
		if (f.scope == "ALL" || f.scope == "KEY") && fn(kv[0]) {
			return true
		}
		if (f.scope == "ALL" || f.scope == "VALUE") && fn(kv[1]) {
			return true
		}
	}
	return false
}

// headerPairs lists the request's headers (Host first, then by name, as
// Go's header map keeps no order), lowercase names.
func headerPairs(r *Request) [][2]string {
	out := make([][2]string, 0, len(r.Header)+1)
	if r.Host != "" {
		out = append(out, [2]string{"host", r.Host})
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			out = append(out, [2]string{strings.ToLower(k), v})
		}
	}
	return out
}

// size is the field's size for SizeConstraint (before transformations
// only the body differs: its whole size when known).
func (f *field) bodySize(r *Request) (int64, bool) {
	n := int64(len(r.Body))
	if r.BodySize > n {
		n = r.BodySize
	}
	return n, n > 0 || r.BodySize == 0
}
