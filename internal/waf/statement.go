package waf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/corazawaf/libinjection-go"
)

// matcher is a compiled statement.
type matcher interface {
	match(c *evalCtx) bool
}

// compiler carries what compiling statements needs.
type compiler struct {
	opts      *Options
	acl       string // the web ACL's name (rate counter identity)
	bodyLimit int
	hasGeo    bool
	usesBody  bool // a statement inspects the body, or a managed group runs
}

// statement compiles s at path. top says s is a rule's own statement (the
// only place a rate-based or managed statement may be).
func (cp *compiler) statement(s *Statement, path string, top bool) (matcher, error) {
	var set []string
	var m matcher
	var err error
	one := func(name string, f func(string) (matcher, error)) {
		set = append(set, name)
		if len(set) == 1 {
			m, err = f(path + "." + name)
		}
	}
	if s.ByteMatchStatement != nil {
		one("ByteMatchStatement", func(p string) (matcher, error) { return cp.byteMatch(s.ByteMatchStatement, p) })
	}
	if s.SqliMatchStatement != nil {
		one("SqliMatchStatement", func(p string) (matcher, error) { return cp.sqli(s.SqliMatchStatement, p) })
	}
	if s.XssMatchStatement != nil {
		one("XssMatchStatement", func(p string) (matcher, error) { return cp.xss(s.XssMatchStatement, p) })
	}
	if s.SizeConstraintStatement != nil {
		one("SizeConstraintStatement", func(p string) (matcher, error) { return cp.size(s.SizeConstraintStatement, p) })
	}
	if s.GeoMatchStatement != nil {
		one("GeoMatchStatement", func(p string) (matcher, error) { return cp.geo(s.GeoMatchStatement, p) })
	}
	if s.IPSetReferenceStatement != nil {
		one("IPSetReferenceStatement", func(p string) (matcher, error) { return cp.ipSet(s.IPSetReferenceStatement, p) })
	}
	if s.RegexMatchStatement != nil {
		one("RegexMatchStatement", func(p string) (matcher, error) { return cp.regex(s.RegexMatchStatement, p) })
	}
	if s.RegexPatternSetReferenceStatement != nil {
		one("RegexPatternSetReferenceStatement", func(p string) (matcher, error) { return cp.regexSet(s.RegexPatternSetReferenceStatement, p) })
	}
	if s.LabelMatchStatement != nil {
		one("LabelMatchStatement", func(p string) (matcher, error) { return labelMatch(s.LabelMatchStatement, p) })
	}
	if s.AndStatement != nil {
		one("AndStatement", func(p string) (matcher, error) { return cp.list(s.AndStatement.Statements, p, true) })
	}
	if s.OrStatement != nil {
		one("OrStatement", func(p string) (matcher, error) { return cp.list(s.OrStatement.Statements, p, false) })
	}
	if s.NotStatement != nil {
		one("NotStatement", func(p string) (matcher, error) {
			inner, err := cp.statement(&s.NotStatement.Statement, p+".Statement", false)
			if err != nil {
				return nil, err
			}
			return notMatcher{inner}, nil
		})
	}
	if s.RateBasedStatement != nil {
		one("RateBasedStatement", func(p string) (matcher, error) {
			if !top {
				return nil, errorf(p, "a rate-based statement can only be a rule's own statement, not nested")
			}
			return nil, errorf(p, "internal: rate-based statements are compiled by the rule")
		})
	}
	if s.ManagedRuleGroupStatement != nil {
		one("ManagedRuleGroupStatement", func(p string) (matcher, error) {
			if !top {
				return nil, errorf(p, "a managed rule group statement can only be a rule's own statement, not nested")
			}
			return nil, errorf(p, "internal: managed statements are compiled by the rule")
		})
	}
	switch len(set) {
	case 0:
		return nil, errorf(path, "a statement is required")
	case 1:
		return m, err
	}
	return nil, errorf(path, "exactly one statement, not %d (%s)", len(set), strings.Join(set, ", "))
}

func (cp *compiler) list(ss []Statement, path string, and bool) (matcher, error) {
	if len(ss) < 2 {
		return nil, errorf(path+".Statements", "at least two statements are required")
	}
	ms := make([]matcher, len(ss))
	for i := range ss {
		m, err := cp.statement(&ss[i], path+".Statements["+strconv.Itoa(i)+"]", false)
		if err != nil {
			return nil, err
		}
		ms[i] = m
	}
	if and {
		return andMatcher(ms), nil
	}
	return orMatcher(ms), nil
}

type andMatcher []matcher

func (a andMatcher) match(c *evalCtx) bool {
	for _, m := range a {
		if !m.match(c) {
			return false
		}
	}
	return true
}

type orMatcher []matcher

func (o orMatcher) match(c *evalCtx) bool {
	for _, m := range o {
		if m.match(c) {
			return true
		}
	}
	return false
}

type notMatcher struct{ m matcher }

func (n notMatcher) match(c *evalCtx) bool { return !n.m.match(c) }

// inspected is the part every field statement shares: a field and its
// transformations.
type inspected struct {
	f  *field
	ts []transform
}

func (cp *compiler) inspected(f FieldToMatch, tt []TextTransformation, path string) (inspected, error) {
	cf, err := compileField(f, path+".FieldToMatch")
	if err != nil {
		return inspected{}, err
	}
	if cf.kind == fBody {
		cp.usesBody = true
	}
	ts, err := compileTransforms(tt, path+".TextTransformations")
	if err != nil {
		return inspected{}, err
	}
	return inspected{cf, ts}, nil
}

func (in inspected) any(c *evalCtx, pred func(string) bool) bool {
	return in.f.inspect(c.r, func(v string) bool { return pred(applyTransforms(in.ts, v)) })
}

var positions = []string{"EXACTLY", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "CONTAINS_WORD"}

type byteMatcher struct {
	inspected
	search string
	pos    string
}

func (cp *compiler) byteMatch(s *ByteMatchStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	if !contains(positions, s.PositionalConstraint) {
		return nil, errorf(path+".PositionalConstraint", "%q is not one of %s", s.PositionalConstraint, strings.Join(positions, ", "))
	}
	if s.SearchString == "" || len(s.SearchString) > 200 {
		return nil, errorf(path+".SearchString", "1 to 200 bytes are required")
	}
	if s.PositionalConstraint == "CONTAINS_WORD" {
		for i := 0; i < len(s.SearchString); i++ {
			if !isWordChar(s.SearchString[i]) {
				return nil, errorf(path+".SearchString", "CONTAINS_WORD needs a word (A-Z, a-z, 0-9, _), not %q", s.SearchString)
			}
		}
	}
	return &byteMatcher{in, s.SearchString, s.PositionalConstraint}, nil
}

func isWordChar(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (m *byteMatcher) match(c *evalCtx) bool {
	return m.any(c, func(v string) bool { return positional(m.pos, v, m.search) })
}

func positional(pos, v, s string) bool {
	switch pos {
	case "EXACTLY":
		return v == s
	case "STARTS_WITH":
		return strings.HasPrefix(v, s)
	case "ENDS_WITH":
		return strings.HasSuffix(v, s)
	case "CONTAINS":
		return strings.Contains(v, s)
	case "CONTAINS_WORD":
		for off := 0; ; {
			i := strings.Index(v[off:], s)
			if i < 0 {
				return false
			}
			i += off
			end := i + len(s)
			if (i == 0 || !isWordChar(v[i-1])) && (end == len(v) || !isWordChar(v[end])) {
				return true
			}
			off = i + 1
		}
	}
	return false
}

type sqliMatcher struct{ inspected }

func (cp *compiler) sqli(s *SqliMatchStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	if s.SensitivityLevel != "" && s.SensitivityLevel != "LOW" && s.SensitivityLevel != "HIGH" {
		return nil, errorf(path+".SensitivityLevel", "%q is not LOW or HIGH", s.SensitivityLevel)
	}
	return &sqliMatcher{in}, nil
}

// match uses libinjection's SQL tokenizer and fingerprints at both
// sensitivity levels (libinjection has one).
func (m *sqliMatcher) match(c *evalCtx) bool {
	return m.any(c, func(v string) bool { ok, _ := libinjection.IsSQLi(v); return ok })
}

type xssMatcher struct{ inspected }

func (cp *compiler) xss(s *XssMatchStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	return &xssMatcher{in}, nil
}

func (m *xssMatcher) match(c *evalCtx) bool {
	return m.any(c, libinjection.IsXSS)
}

var comparisons = []string{"EQ", "NE", "LE", "LT", "GE", "GT"}

type sizeMatcher struct {
	inspected
	op   string
	size int64
}

func (cp *compiler) size(s *SizeConstraintStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	if !contains(comparisons, s.ComparisonOperator) {
		return nil, errorf(path+".ComparisonOperator", "%q is not one of %s", s.ComparisonOperator, strings.Join(comparisons, ", "))
	}
	if s.Size < 0 || s.Size > 21474836480 {
		return nil, errorf(path+".Size", "%d is out of 0..21474836480", s.Size)
	}
	return &sizeMatcher{in, s.ComparisonOperator, s.Size}, nil
}

func (m *sizeMatcher) match(c *evalCtx) bool {
	if m.f.kind == fBody && len(m.ts) == 0 {
		// the whole body's size, not the inspected prefix's
		if c.r.BodyOversize {
			switch m.f.oversize {
			case "MATCH":
				return true
			case "NO_MATCH":
				return false
			}
		}
		n, ok := m.f.bodySize(c.r)
		return ok && compare(m.op, n, m.size)
	}
	return m.any(c, func(v string) bool { return compare(m.op, int64(len(v)), m.size) })
}

func compare(op string, a, b int64) bool {
	switch op {
	case "EQ":
		return a == b
	case "NE":
		return a != b
	case "LE":
		return a <= b
	case "LT":
		return a < b
	case "GE":
		return a >= b
	case "GT":
		return a > b
	}
	return false
}

// forwarded is a compiled ForwardedIPConfig.
type forwarded struct {
	header   string
	fallback bool   // FallbackBehavior MATCH
	position string // FIRST | LAST | ANY (IP sets); FIRST otherwise
}

func compileForwarded(header, fallback, position, path string) (*forwarded, error) {
	if header == "" {
		return nil, errorf(path+".HeaderName", "a header name is required")
	}
	if fallback != "MATCH" && fallback != "NO_MATCH" {
		return nil, errorf(path+".FallbackBehavior", "%q is not MATCH or NO_MATCH", fallback)
	}
	if position == "" {
		position = "FIRST"
	}
	if position != "FIRST" && position != "LAST" && position != "ANY" {
		return nil, errorf(path+".Position", "%q is not FIRST, LAST or ANY", position)
	}
	return &forwarded{header: header, fallback: fallback == "MATCH", position: position}, nil
}

// addrs returns the addresses the header names (at most 10, AWS's limit
// for ANY); ok is false when the header is missing or an address in it is
// not valid.
func (f *forwarded) addrs(r *Request) ([]netip.Addr, bool) {
	vv, ok := r.header(f.header)
	if !ok || len(vv) == 0 {
		return nil, false
	}
	parts := strings.Split(strings.Join(vv, ","), ",")
	switch f.position {
	case "FIRST":
		parts = parts[:1]
	case "LAST":
		parts = parts[len(parts)-1:]
	default:
		if len(parts) > 10 {
			parts = parts[:10]
		}
	}
	out := make([]netip.Addr, 0, len(parts))
	for _, p := range parts {
		a, err := netip.ParseAddr(strings.TrimSpace(p))
		if err != nil {
			return nil, false
		}
		out = append(out, a.Unmap())
	}
	return out, true
}

type geoMatcher struct {
	codes map[string]bool
	fwd   *forwarded
	of    func(netip.Addr) string
}

func (cp *compiler) geo(s *GeoMatchStatement, path string) (matcher, error) {
	if len(s.CountryCodes) == 0 {
		return nil, errorf(path+".CountryCodes", "at least one country code is required")
	}
	g := &geoMatcher{codes: map[string]bool{}}
	for i, cc := range s.CountryCodes {
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			return nil, errorf(fmt.Sprintf("%s.CountryCodes[%d]", path, i), "%q is not an ISO 3166-1 alpha-2 code", cc)
		}
		g.codes[cc] = true
	}
	if f := s.ForwardedIPConfig; f != nil {
		fw, err := compileForwarded(f.HeaderName, f.FallbackBehavior, "", path+".ForwardedIPConfig")
		if err != nil {
			return nil, err
		}
		if cp.opts.CountryOf == nil {
			return nil, errorf(path+".ForwardedIPConfig", "needs a geo database on the PoP to look up forwarded addresses")
		}
		g.fwd, g.of = fw, cp.opts.CountryOf
	}
	cp.hasGeo = true
	return g, nil
}

func (g *geoMatcher) match(c *evalCtx) bool {
	if g.fwd == nil {
		c.geo = true
		return g.codes[c.r.Country]
	}
	as, ok := g.fwd.addrs(c.r)
	if !ok {
		return g.fwd.fallback
	}
	cc := g.of(as[0])
	c.fwdCountry = cc
	if cc == "" {
		cc = "XX"
	}
	c.fwdGeo = true
	return g.codes[cc]
}

type ipSetMatcher struct {
	trie *ipTrie
	fwd  *forwarded
}

func (cp *compiler) ipSet(s *IPSetReferenceStatement, path string) (matcher, error) {
	if s.ARN == "" {
		return nil, errorf(path+".ARN", "the IP set's ARN (or id) is required")
	}
	if cp.opts.Resolver == nil {
		return nil, errorf(path+".ARN", "no IP sets are defined")
	}
	set, err := cp.opts.Resolver.IPSet(s.ARN)
	if err != nil {
		return nil, errorf(path+".ARN", "%v", err)
	}
	trie, err := CompileIPSet(set)
	if err != nil {
		return nil, errorf(path+".ARN", "IP set %q: %v", s.ARN, err)
	}
	m := &ipSetMatcher{trie: trie}
	if f := s.IPSetForwardedIPConfig; f != nil {
		if m.fwd, err = compileForwarded(f.HeaderName, f.FallbackBehavior, f.Position, path+".IPSetForwardedIPConfig"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CompileIPSet checks an IP set and builds its trie. Addresses must all be
// of the set's IPAddressVersion; /0 is refused (as by AWS).
func CompileIPSet(s *IPSet) (*ipTrie, error) {
	if s.IPAddressVersion != "IPV4" && s.IPAddressVersion != "IPV6" {
		return nil, errorf("IPAddressVersion", "%q is not IPV4 or IPV6", s.IPAddressVersion)
	}
	if len(s.Addresses) > 10000 {
		return nil, errorf("Addresses", "%d addresses, at most 10000", len(s.Addresses))
	}
	t := newIPTrie()
	for i, a := range s.Addresses {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, errorf(fmt.Sprintf("Addresses[%d]", i), "%q is not an address or CIDR", a)
		}
		if p.Bits() == 0 {
			return nil, errorf(fmt.Sprintf("Addresses[%d]", i), "%q: /0 is not allowed", a)
		}
		if p.Addr().Is4() != (s.IPAddressVersion == "IPV4") {
			return nil, errorf(fmt.Sprintf("Addresses[%d]", i), "%q is not an %s address", a, s.IPAddressVersion)
		}
		t.insert(p)
	}
	return t, nil
}

func (m *ipSetMatcher) match(c *evalCtx) bool {
	if m.fwd == nil {
		return m.trie.contains(c.r.ClientIP)
	}
	as, ok := m.fwd.addrs(c.r)
	if !ok {
		return m.fwd.fallback
	}
	for _, a := range as {
		if m.trie.contains(a) {
			return true
		}
	}
	return false
}

type regexMatcher struct {
	inspected
	res []*regexp.Regexp
}

func (cp *compiler) regex(s *RegexMatchStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	re, err := compileRegex(s.RegexString, path+".RegexString")
	if err != nil {
		return nil, err
	}
	return &regexMatcher{in, []*regexp.Regexp{re}}, nil
}

func compileRegex(s, path string) (*regexp.Regexp, error) {
	if s == "" || len(s) > 512 {
		return nil, errorf(path, "1 to 512 characters are required")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, errorf(path, "%v (Strata uses Go's RE2 syntax: no backreferences, lookarounds or possessive quantifiers)", err)
	}
	return re, nil
}

func (cp *compiler) regexSet(s *RegexPatternSetReferenceStatement, path string) (matcher, error) {
	in, err := cp.inspected(s.FieldToMatch, s.TextTransformations, path)
	if err != nil {
		return nil, err
	}
	if s.ARN == "" {
		return nil, errorf(path+".ARN", "the regex pattern set's ARN (or id) is required")
	}
	if cp.opts.Resolver == nil {
		return nil, errorf(path+".ARN", "no regex pattern sets are defined")
	}
	set, err := cp.opts.Resolver.RegexPatternSet(s.ARN)
	if err != nil {
		return nil, errorf(path+".ARN", "%v", err)
	}
	res, err := CompileRegexPatternSet(set)
	if err != nil {
		return nil, errorf(path+".ARN", "regex pattern set %q: %v", s.ARN, err)
	}
	return &regexMatcher{in, res}, nil
}

// CompileRegexPatternSet checks a pattern set and compiles its expressions.
func CompileRegexPatternSet(s *RegexPatternSet) ([]*regexp.Regexp, error) {
	if len(s.RegularExpressionList) == 0 || len(s.RegularExpressionList) > 10 {
		return nil, errorf("RegularExpressionList", "1 to 10 expressions are required, not %d", len(s.RegularExpressionList))
	}
	out := make([]*regexp.Regexp, len(s.RegularExpressionList))
	for i, r := range s.RegularExpressionList {
		re, err := compileRegex(r.RegexString, fmt.Sprintf("RegularExpressionList[%d].RegexString", i))
		if err != nil {
			return nil, err
		}
		out[i] = re
	}
	return out, nil
}

func (m *regexMatcher) match(c *evalCtx) bool {
	return m.any(c, func(v string) bool {
		for _, re := range m.res {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	})
}

type labelMatcher struct {
	namespace bool
	key       string
}

func labelMatch(s *LabelMatchStatement, path string) (matcher, error) {
	if s.Scope != "LABEL" && s.Scope != "NAMESPACE" {
		return nil, errorf(path+".Scope", "%q is not LABEL or NAMESPACE", s.Scope)
	}
	if s.Key == "" || len(s.Key) > 1024 {
		return nil, errorf(path+".Key", "1 to 1024 characters are required")
	}
	k := s.Key
	if s.Scope == "NAMESPACE" && !strings.HasSuffix(k, ":") {
		k += ":"
	}
	return &labelMatcher{namespace: s.Scope == "NAMESPACE", key: k}, nil
}

// match: a LABEL key is the label's name with any number of the
// namespaces before it, up to the fully qualified label; a NAMESPACE key
// is a run of whole namespaces of a label, up to its full prefix.
func (m *labelMatcher) match(c *evalCtx) bool {
	for _, l := range c.labels {
		if m.namespace {
			i := strings.LastIndexByte(l, ':')
			ns := l[:i+1] // the label's namespaces, with the final ':'
			if ns == m.key || strings.HasSuffix(ns, ":"+m.key) || strings.HasPrefix(ns, m.key) || strings.Contains(ns, ":"+m.key) {
				return true
			}
			continue
		}
		if l == m.key || strings.HasSuffix(l, ":"+m.key) {
			return true
		}
	}
	return false
}

// rateMatcher is a rate-based statement: it counts every request in scope
// (those its scope-down statement matches) under its aggregate key, and
// matches while the key's count within the window is above the limit.
type rateMatcher struct {
	limit     int64
	scopeDown matcher
	keyType   string
	fwd       *forwarded
	keys      []keyPart
	counter   RateCounter
}

type keyPart func(c *evalCtx) (string, bool)

var windows = []int64{60, 120, 300, 600}

func (cp *compiler) rate(s *RateBasedStatement, rule, path string) (*rateMatcher, error) {
	m := &rateMatcher{limit: s.Limit, keyType: s.AggregateKeyType}
	if s.Limit < 10 || s.Limit > 2000000000 {
		return nil, errorf(path+".Limit", "%d is out of 10..2000000000", s.Limit)
	}
	w := s.EvaluationWindowSec
	if w == 0 {
		w = 300
	}
	if !containsInt(windows, w) {
		return nil, errorf(path+".EvaluationWindowSec", "%d is not one of 60, 120, 300, 600", w)
	}
	if s.ScopeDownStatement != nil {
		sd, err := cp.statement(s.ScopeDownStatement, path+".ScopeDownStatement", false)
		if err != nil {
			return nil, err
		}
		m.scopeDown = sd
	}
	if s.ForwardedIPConfig != nil {
		fw, err := compileForwarded(s.ForwardedIPConfig.HeaderName, s.ForwardedIPConfig.FallbackBehavior, "", path+".ForwardedIPConfig")
		if err != nil {
			return nil, err
		}
		m.fwd = fw
	}
	switch s.AggregateKeyType {
	case "IP":
	case "FORWARDED_IP":
		if m.fwd == nil {
			return nil, errorf(path+".ForwardedIPConfig", "FORWARDED_IP needs a ForwardedIPConfig")
		}
	case "CONSTANT":
		if m.scopeDown == nil {
			return nil, errorf(path+".ScopeDownStatement", "CONSTANT needs a scope-down statement")
		}
	case "CUSTOM_KEYS":
		if len(s.CustomKeys) == 0 || len(s.CustomKeys) > 5 {
			return nil, errorf(path+".CustomKeys", "1 to 5 keys are required")
		}
		ipOnly := true
		for i := range s.CustomKeys {
			kp, isIP, err := cp.keyPart(&s.CustomKeys[i], m.fwd, fmt.Sprintf("%s.CustomKeys[%d]", path, i))
			if err != nil {
				return nil, err
			}
			ipOnly = ipOnly && isIP
			m.keys = append(m.keys, kp)
		}
		if ipOnly && len(m.keys) == 1 {
			return nil, errorf(path+".CustomKeys", "IP or ForwardedIP alone is not a custom key: use AggregateKeyType IP or FORWARDED_IP")
		}
	default:
		return nil, errorf(path+".AggregateKeyType", "%q is not one of IP, FORWARDED_IP, CUSTOM_KEYS, CONSTANT", s.AggregateKeyType)
	}
	if s.AggregateKeyType != "CUSTOM_KEYS" && len(s.CustomKeys) > 0 {
		return nil, errorf(path+".CustomKeys", "only with AggregateKeyType CUSTOM_KEYS")
	}
	mk := cp.opts.RateCounter
	if mk == nil {
		now := cp.opts.Now
		mk = func(r RateRule) RateCounter { return NewSlidingWindow(r.Window, now) }
	}
	js, _ := json.Marshal(s)
	sum := sha256.Sum256(js)
	m.counter = mk(RateRule{ACL: cp.acl, Rule: rule, Window: time.Duration(w) * time.Second, Fingerprint: hex.EncodeToString(sum[:16])})
	return m, nil
}

func containsInt(list []int64, v int64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (cp *compiler) keyPart(k *RateBasedKey, fwd *forwarded, path string) (keyPart, bool, error) {
	var parts []string
	var kp keyPart
	isIP := false
	named := func(name string, n *NamedTransformedKey, get func(c *evalCtx, name string) (string, bool)) error {
		parts = append(parts, name)
		if n.Name == "" {
			return errorf(path+"."+name+".Name", "a name is required")
		}
		ts, err := compileTransforms(n.TextTransformations, path+"."+name+".TextTransformations")
		if err != nil {
			return err
		}
		kp = func(c *evalCtx) (string, bool) {
			v, ok := get(c, n.Name)
			return applyTransforms(ts, v), ok
		}
		return nil
	}
	plain := func(name string, t *TransformedKey, get func(c *evalCtx) (string, bool)) error {
		parts = append(parts, name)
		ts, err := compileTransforms(t.TextTransformations, path+"."+name+".TextTransformations")
		if err != nil {
			return err
		}
		kp = func(c *evalCtx) (string, bool) {
			v, ok := get(c)
			return applyTransforms(ts, v), ok
		}
		return nil
	}
	var err error
	if k.Cookie != nil {
		err = named("Cookie", k.Cookie, func(c *evalCtx, name string) (string, bool) {
			for _, kv := range cookies(c.r.Header) {
				if kv[0] == name {
					return kv[1], true
				}
			}
			return "", false
		})
	}
	if k.Header != nil && err == nil {
		err = named("Header", k.Header, func(c *evalCtx, name string) (string, bool) {
			vv, ok := c.r.header(name)
			if !ok || len(vv) == 0 {
				return "", false
			}
			return vv[0], true
		})
	}
	if k.QueryArgument != nil && err == nil {
		err = named("QueryArgument", k.QueryArgument, func(c *evalCtx, name string) (string, bool) {
			for _, kv := range queryArgs(c.r.RawQuery) {
				if strings.EqualFold(kv[0], name) {
					return kv[1], true
				}
			}
			return "", false
		})
	}
	if k.QueryString != nil && err == nil {
		err = plain("QueryString", k.QueryString, func(c *evalCtx) (string, bool) { return c.r.RawQuery, c.r.RawQuery != "" })
	}
	if k.UriPath != nil && err == nil {
		err = plain("UriPath", k.UriPath, func(c *evalCtx) (string, bool) { return c.r.Path, true })
	}
	if err != nil {
		return nil, false, err
	}
	if k.HTTPMethod != nil {
		parts = append(parts, "HTTPMethod")
		kp = func(c *evalCtx) (string, bool) { return c.r.Method, true }
	}
	if k.IP != nil {
		parts = append(parts, "IP")
		isIP = true
		kp = func(c *evalCtx) (string, bool) { return c.r.ClientIP.String(), c.r.ClientIP.IsValid() }
	}
	if k.ForwardedIP != nil {
		parts = append(parts, "ForwardedIP")
		isIP = true
		if fwd == nil {
			return nil, false, errorf(path+".ForwardedIP", "needs the statement's ForwardedIPConfig")
		}
		kp = func(c *evalCtx) (string, bool) {
			as, ok := fwd.addrs(c.r)
			if !ok {
				return "", false
			}
			return as[0].String(), true
		}
	}
	if k.LabelNamespace != nil {
		parts = append(parts, "LabelNamespace")
		ns := k.LabelNamespace.Namespace
		if ns == "" {
			return nil, false, errorf(path+".LabelNamespace.Namespace", "a namespace is required")
		}
		if !strings.HasSuffix(ns, ":") {
			ns += ":"
		}
		kp = func(c *evalCtx) (string, bool) {
			var names []string
			for _, l := range c.labels {
				if strings.HasPrefix(l, ns) || strings.Contains(l, ":"+ns) {
					names = append(names, l)
				}
			}
			return strings.Join(names, ","), len(names) > 0
		}
	}
	if len(parts) != 1 {
		return nil, false, errorf(path, "exactly one key kind, not %d", len(parts))
	}
	return kp, isIP, nil
}

// key computes the request's aggregate key; ok is false when a component
// is missing (the request is not counted). fallback reports a missing
// forwarded address whose FallbackBehavior is MATCH.
func (m *rateMatcher) key(c *evalCtx) (key string, ok, fallback bool) {
	switch m.keyType {
	case "IP":
		return c.r.ClientIP.String(), c.r.ClientIP.IsValid(), false
	case "FORWARDED_IP":
		as, ok := m.fwd.addrs(c.r)
		if !ok {
			return "", false, m.fwd.fallback
		}
		return as[0].String(), true, false
	case "CONSTANT":
		return "", true, false
	}
	var b strings.Builder
	for i, kp := range m.keys {
		v, ok := kp(c)
		if !ok {
			return "", false, false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(v)
	}
	return b.String(), true, false
}

func (m *rateMatcher) match(c *evalCtx) bool {
	if m.scopeDown != nil && !m.scopeDown.match(c) {
		return false
	}
	key, ok, fallback := m.key(c)
	if !ok {
		return fallback
	}
	m.counter.Add(key)
	if m.counter.Count(key) > m.limit {
		c.rateKey = key
		return true
	}
	return false
}
