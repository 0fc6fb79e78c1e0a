package waf

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Action is a rule's or a request's action.
type Action string

// The actions Strata evaluates. Captcha and Challenge are refused by
// Compile.
const (
	Allow Action = "ALLOW"
	Block Action = "BLOCK"
	Count Action = "COUNT"
)

// Rule types, as AWS WAF logs name them (terminatingRuleType).
const (
	TypeRegular   = "REGULAR"
	TypeRateBased = "RATE_BASED"
	TypeManaged   = "MANAGED_RULE_GROUP"
)

// DefaultActionRule is the TerminatingRule of a request no rule ended.
const DefaultActionRule = "Default_Action"

// Resolver finds the IP sets and regex pattern sets that statements refer
// to by ARN.
type Resolver interface {
	IPSet(arn string) (*IPSet, error)
	RegexPatternSet(arn string) (*RegexPatternSet, error)
}

// MapResolver resolves references from maps keyed by id. A reference may be
// the id, the set's Name, or a full AWS ARN
// (arn:aws:wafv2:…:global/ipset/<name>/<id>), whose id or name is used.
type MapResolver struct {
	IPSets           map[string]*IPSet
	RegexPatternSets map[string]*RegexPatternSet
}

func lookup[T any](m map[string]*T, ref, kind string, name func(*T) string, arn func(*T) string) (*T, error) {
	if v, ok := m[ref]; ok {
		return v, nil
	}
	for _, v := range m {
		if arn(v) == ref && ref != "" {
			return v, nil
		}
	}
	id, nm := ref, ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.Split(ref, "/")
		if len(parts) >= 3 {
			nm, id = parts[len(parts)-2], parts[len(parts)-1]
		}
		if v, ok := m[id]; ok {
			return v, nil
		}
	}
	var found *T
	for _, v := range m {
		if name(v) == nm {
			if found != nil {
				return nil, fmt.Errorf("%s %q is ambiguous: two sets are named so", kind, ref)
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no %s %q", kind, ref)
	}
	return found, nil
}

// IPSet implements Resolver.
func (r MapResolver) IPSet(ref string) (*IPSet, error) {
	return lookup(r.IPSets, ref, "IP set", func(s *IPSet) string { return s.Name }, func(s *IPSet) string { return s.ARN })
}

// RegexPatternSet implements Resolver.
func (r MapResolver) RegexPatternSet(ref string) (*RegexPatternSet, error) {
	return lookup(r.RegexPatternSets, ref, "regex pattern set", func(s *RegexPatternSet) string { return s.Name },
		func(s *RegexPatternSet) string { return s.ARN })
}

// ManagedGroup is a managed rule group built for one statement; it must be
// safe for concurrent use.
type ManagedGroup interface {
	// Inspect returns the group's rules that match r, in the group's
	// order.
	Inspect(r *Request) []ManagedMatch
}

// ManagedMatch is one rule of a managed group that matched.
type ManagedMatch struct {
	Rule   string // the rule's name within the group (ExcludedRules and RuleActionOverrides name it)
	Action Action // the rule's own action; "" is Block
	// Labels the rule adds: relative ones get the group's namespace
	// awswaf:managed:<vendor>:<group>:.
	Labels []string
	Msg    string // what it found, for logs
	Data   string
}

// ManagedFactory builds the group of a statement. bodyLimit is how many
// body bytes Requests carry.
type ManagedFactory func(s *ManagedRuleGroupStatement, bodyLimit int) (ManagedGroup, error)

// Options are what Compile needs besides the web ACL. Zero values are
// documented defaults.
type Options struct {
	// Account is the account part of the ACL's labels
	// (awswaf:<account>:webacl:<name>:…); if blank, the account of the
	// ACL's LabelNamespace or ARN, else "strata".
	Account string
	// Resolver finds IP sets and regex pattern sets; nil: none exist.
	Resolver Resolver
	// Managed builds managed rule groups; nil: a managed statement is a
	// compile error.
	Managed ManagedFactory
	// RateCounter builds the counter of each rate-based rule; nil: a local
	// sliding window (NewSlidingWindow).
	RateCounter RateCounterFunc
	// CountryOf looks an address up in the geo database, for GeoMatch's
	// ForwardedIPConfig; nil: such statements are refused.
	CountryOf func(netip.Addr) string
	// Now is the clock (sampled requests, rate windows); nil: time.Now.
	Now func() time.Time
	// SampleSize bounds the sampled requests kept; 0: 500.
	SampleSize int
}

// Response is a Block's custom response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Match is a rule that matched a request.
type Match struct {
	Rule            string // the web ACL's rule
	RuleWithinGroup string // for a managed group, its rule
	Type            string // REGULAR | RATE_BASED | MANAGED_RULE_GROUP
	Action          Action
	Msg             string `json:",omitempty"`
	Data            string `json:",omitempty"`
	RateKey         string `json:",omitempty"` // rate-based: the limited key
}

// Verdict is the outcome of a request.
type Verdict struct {
	Action              Action // Allow or Block
	TerminatingRule     string // the rule that decided, or Default_Action
	TerminatingRuleType string // REGULAR | RATE_BASED | MANAGED_RULE_GROUP, "" for the default action
	RuleWithinGroup     string
	Labels              []string
	Matches             []Match // every rule that matched, counted ones included, in order
	// Response is a Block's custom response; nil means the PoP's default
	// 403 page.
	Response *Response
	// InsertHeaders are headers to add to the request that goes on (from
	// Allow and Count actions), names already prefixed x-amzn-waf-.
	InsertHeaders []HeaderNV
}

// ruleAction is a compiled action.
type ruleAction struct {
	action   Action
	response *Response
	insert   []HeaderNV
}

type ruleCounters struct {
	allowed, blocked, counted atomic.Int64
}

type compiledRule struct {
	name     string
	metric   string
	priority int64
	typ      string
	m        matcher // regular and rate-based rules
	act      ruleAction
	labels   []string
	sampled  bool
	group    *groupRule
	counters ruleCounters
}

type groupRule struct {
	g          ManagedGroup
	scopeDown  matcher
	namespace  string
	excluded   map[string]bool
	overrides  map[string]ruleAction
	countGroup bool // OverrideAction Count
}

// Program is a compiled web ACL: immutable but for its counters, samples
// and rate counters; safe for concurrent use.
type Program struct {
	name      string
	metric    string
	namespace string // awswaf:<account>:webacl:<name>:
	rules     []*compiledRule
	def       ruleAction
	hasGeo    bool
	usesBody  bool
	bodyLimit int
	sampled   bool
	now       func() time.Time
	samples   *sampler
	allowed   atomic.Int64
	blocked   atomic.Int64
}

var bodyLimits = map[string]int{"KB_16": 16 << 10, "KB_32": 32 << 10, "KB_48": 48 << 10, "KB_64": 64 << 10}

var nameRE = regexp.MustCompile(`^[\w-]{1,128}$`)

// okCodes are the status codes a custom response may use (AWS).
func okCode(c int) bool {
	switch {
	case c >= 200 && c <= 206:
		return c != 203 && c != 205
	case c >= 300 && c <= 304, c == 307, c == 308, c == 400, c == 401:
		return true
	case c >= 403 && c <= 405, c == 408, c == 409, c >= 411 && c <= 416, c == 421, c == 429:
		return true
	case c >= 500 && c <= 505:
		return true
	}
	return false
}

var contentTypes = map[string]string{"TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html", "APPLICATION_JSON": "application/json"}

// Compile checks acl and builds its program. Errors name the JSON path of
// the offending field.
func Compile(acl *WebACL, opts Options) (*Program, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SampleSize <= 0 {
		opts.SampleSize = 500
	}
	if !nameRE.MatchString(acl.Name) {
		return nil, errorf("Name", "%q: 1 to 128 letters, digits, _ and - are required", acl.Name)
	}
	p := &Program{name: acl.Name, metric: acl.Name, now: opts.Now, bodyLimit: 16 << 10, sampled: true}
	if v := acl.VisibilityConfig; v != nil {
		p.sampled = v.SampledRequestsEnabled
		if v.MetricName != "" {
			p.metric = v.MetricName
		}
	}
	p.namespace = labelNamespace(acl, opts.Account)
	if ac := acl.AssociationConfig; ac != nil {
		for scope, rb := range ac.RequestBody {
			if scope != "CLOUDFRONT" && scope != "API_GATEWAY" && scope != "COGNITO_USER_POOL" && scope != "APP_RUNNER_SERVICE" && scope != "VERIFIED_ACCESS_INSTANCE" {
				return nil, errorf("AssociationConfig.RequestBody."+scope, "unknown resource type")
			}
			n, ok := bodyLimits[rb.DefaultSizeInspectionLimit]
			if !ok {
				return nil, errorf("AssociationConfig.RequestBody."+scope+".DefaultSizeInspectionLimit", "%q is not one of KB_16, KB_32, KB_48, KB_64", rb.DefaultSizeInspectionLimit)
			}
			if scope == "CLOUDFRONT" {
				p.bodyLimit = n
			}
		}
	}
	for k, b := range acl.CustomResponseBodies {
		if _, ok := contentTypes[b.ContentType]; !ok {
			return nil, errorf("CustomResponseBodies."+k+".ContentType", "%q is not one of TEXT_PLAIN, TEXT_HTML, APPLICATION_JSON", b.ContentType)
		}
		if len(b.Content) == 0 || len(b.Content) > 10240 {
			return nil, errorf("CustomResponseBodies."+k+".Content", "1 to 10240 bytes are required")
		}
	}
	var err error
	switch {
	case acl.DefaultAction.Allow != nil && acl.DefaultAction.Block == nil:
		p.def, err = compileAllow(Allow, acl.DefaultAction.Allow.CustomRequestHandling, "DefaultAction.Allow")
	case acl.DefaultAction.Block != nil && acl.DefaultAction.Allow == nil:
		p.def, err = compileBlock(acl.DefaultAction.Block, acl, "DefaultAction.Block")
	default:
		err = errorf("DefaultAction", "exactly one of Allow and Block is required")
	}
	if err != nil {
		return nil, err
	}
	cp := &compiler{opts: &opts, acl: acl.Name, bodyLimit: p.bodyLimit}
	names := map[string]bool{}
	prios := map[int64]string{}
	for i := range acl.Rules {
		r := &acl.Rules[i]
		path := "Rules[" + strconv.Itoa(i) + "]"
		if !nameRE.MatchString(r.Name) {
			return nil, errorf(path+".Name", "%q: 1 to 128 letters, digits, _ and - are required", r.Name)
		}
		if names[r.Name] {
			return nil, errorf(path+".Name", "rule %q is defined twice", r.Name)
		}
		names[r.Name] = true
		if r.Priority < 0 {
			return nil, errorf(path+".Priority", "must be 0 or more")
		}
		if other, ok := prios[r.Priority]; ok {
			return nil, errorf(path+".Priority", "priority %d is also rule %q's", r.Priority, other)
		}
		prios[r.Priority] = r.Name
		cr, err := cp.rule(r, acl, p, path)
		if err != nil {
			return nil, err
		}
		p.rules = append(p.rules, cr)
	}
	sort.SliceStable(p.rules, func(i, j int) bool { return p.rules[i].priority < p.rules[j].priority })
	p.hasGeo = cp.hasGeo
	p.usesBody = cp.usesBody
	p.samples = newSampler(opts.SampleSize)
	return p, nil
}

func labelNamespace(acl *WebACL, account string) string {
	if account == "" && acl.LabelNamespace != "" {
		return acl.LabelNamespace
	}
	if account == "" {
		// arn:aws:wafv2:us-east-1:123456789012:global/webacl/name/id
		if parts := strings.Split(acl.ARN, ":"); len(parts) >= 6 && parts[4] != "" {
			account = parts[4]
		} else {
			account = "strata"
		}
	}
	return "awswaf:" + account + ":webacl:" + acl.Name + ":"
}

func (cp *compiler) rule(r *Rule, acl *WebACL, p *Program, path string) (*compiledRule, error) {
	cr := &compiledRule{name: r.Name, metric: r.Name, priority: r.Priority, typ: TypeRegular, sampled: p.sampled}
	if v := r.VisibilityConfig; v != nil {
		cr.sampled = cr.sampled && v.SampledRequestsEnabled
		if v.MetricName != "" {
			cr.metric = v.MetricName
		}
	}
	for i, l := range r.RuleLabels {
		lp := fmt.Sprintf("%s.RuleLabels[%d].Name", path, i)
		if err := checkLabel(l.Name); err != nil {
			return nil, errorf(lp, "%v", err)
		}
		cr.labels = append(cr.labels, p.namespace+l.Name)
	}
	s := &r.Statement
	sp := path + ".Statement"
	var err error
	switch {
	case s.ManagedRuleGroupStatement != nil && countSet(s) == 1:
		if r.Action != nil {
			return nil, errorf(path+".Action", "a rule with a managed rule group takes OverrideAction, not Action")
		}
		if r.OverrideAction == nil || (r.OverrideAction.None == nil) == (r.OverrideAction.Count == nil) {
			return nil, errorf(path+".OverrideAction", "exactly one of None and Count is required")
		}
		cr.typ = TypeManaged
		cr.group, err = cp.managed(s.ManagedRuleGroupStatement, acl, sp+".ManagedRuleGroupStatement")
		if err != nil {
			return nil, err
		}
		cr.group.countGroup = r.OverrideAction.Count != nil
		return cr, nil
	case s.RateBasedStatement != nil && countSet(s) == 1:
		cr.typ = TypeRateBased
		cr.m, err = cp.rate(s.RateBasedStatement, r.Name, sp+".RateBasedStatement")
	default:
		cr.m, err = cp.statement(s, sp, true)
	}
	if err != nil {
		return nil, err
	}
	if r.OverrideAction != nil {
		return nil, errorf(path+".OverrideAction", "only a rule with a rule group takes OverrideAction; use Action")
	}
	if r.Action == nil {
		return nil, errorf(path+".Action", "an action is required")
	}
	cr.act, err = compileAction(r.Action, acl, path+".Action")
	return cr, err
}

func countSet(s *Statement) int {
	n := 0
	for _, set := range []bool{s.ByteMatchStatement != nil, s.SqliMatchStatement != nil, s.XssMatchStatement != nil,
		s.SizeConstraintStatement != nil, s.GeoMatchStatement != nil, s.IPSetReferenceStatement != nil,
		s.RegexMatchStatement != nil, s.RegexPatternSetReferenceStatement != nil, s.LabelMatchStatement != nil,
		s.AndStatement != nil, s.OrStatement != nil, s.NotStatement != nil, s.RateBasedStatement != nil,
		s.ManagedRuleGroupStatement != nil} {
		if set {
			n++
		}
	}
	return n
}

var reservedNS = map[string]bool{"awswaf": true, "aws": true, "waf": true, "rulegroup": true, "webacl": true,
	"regexpatternset": true, "ipset": true, "managed": true}

var labelPart = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// checkLabel checks a rule label: up to five namespaces and a name,
// colon-separated, none of them reserved.
func checkLabel(l string) error {
	parts := strings.Split(l, ":")
	if len(parts) > 6 {
		return errors.New("at most five namespaces and a name")
	}
	for _, part := range parts {
		if !labelPart.MatchString(part) {
			return fmt.Errorf("%q: each part is 1 to 128 letters, digits, _ and -", l)
		}
	}
	if reservedNS[parts[0]] {
		return fmt.Errorf("%q: namespace %q is reserved", l, parts[0])
	}
	return nil
}

func compileAction(a *RuleAction, acl *WebACL, path string) (ruleAction, error) {
	if a.Captcha != nil || a.Challenge != nil {
		which := "Captcha"
		if a.Challenge != nil {
			which = "Challenge"
		}
		return ruleAction{}, errorf(path+"."+which, "CAPTCHA and Challenge actions are not supported by Strata; use Block, Count or a rate-based rule")
	}
	n := 0
	for _, set := range []bool{a.Allow != nil, a.Block != nil, a.Count != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return ruleAction{}, errorf(path, "exactly one of Allow, Block and Count is required")
	}
	switch {
	case a.Allow != nil:
		return compileAllow(Allow, a.Allow.CustomRequestHandling, path+".Allow")
	case a.Count != nil:
		return compileAllow(Count, a.Count.CustomRequestHandling, path+".Count")
	}
	return compileBlock(a.Block, acl, path+".Block")
}

var headerName = regexp.MustCompile("^[a-zA-Z0-9._$-]{1,64}$")

func compileAllow(act Action, h *CustomRequestHandling, path string) (ruleAction, error) {
	ra := ruleAction{action: act}
	if h == nil {
		return ra, nil
	}
	if len(h.InsertHeaders) == 0 {
		return ra, errorf(path+".CustomRequestHandling.InsertHeaders", "at least one header is required")
	}
	for i, nv := range h.InsertHeaders {
		if !headerName.MatchString(nv.Name) {
			return ra, errorf(fmt.Sprintf("%s.CustomRequestHandling.InsertHeaders[%d].Name", path, i), "%q is not a header name", nv.Name)
		}
		ra.insert = append(ra.insert, HeaderNV{Name: "x-amzn-waf-" + strings.ToLower(nv.Name), Value: nv.Value})
	}
	return ra, nil
}

func compileBlock(b *BlockAction, acl *WebACL, path string) (ruleAction, error) {
	ra := ruleAction{action: Block}
	cr := b.CustomResponse
	if cr == nil {
		return ra, nil
	}
	p := path + ".CustomResponse"
	if !okCode(cr.ResponseCode) {
		return ra, errorf(p+".ResponseCode", "%d is not a status code AWS WAF allows in a custom response", cr.ResponseCode)
	}
	resp := &Response{Status: cr.ResponseCode, Header: http.Header{}}
	if len(cr.ResponseHeaders) > 10 {
		return ra, errorf(p+".ResponseHeaders", "at most 10 headers")
	}
	for i, nv := range cr.ResponseHeaders {
		if !headerName.MatchString(nv.Name) {
			return ra, errorf(fmt.Sprintf("%s.ResponseHeaders[%d].Name", p, i), "%q is not a header name", nv.Name)
		}
		resp.Header.Add(nv.Name, nv.Value)
	}
	if k := cr.CustomResponseBodyKey; k != "" {
		body, ok := acl.CustomResponseBodies[k]
		if !ok {
			return ra, errorf(p+".CustomResponseBodyKey", "no custom response body %q in CustomResponseBodies", k)
		}
		resp.Body = []byte(body.Content)
		resp.Header.Set("Content-Type", contentTypes[body.ContentType])
	}
	ra.response = resp
	return ra, nil
}

func (cp *compiler) managed(s *ManagedRuleGroupStatement, acl *WebACL, path string) (*groupRule, error) {
	if s.VendorName == "" || s.Name == "" {
		return nil, errorf(path, "VendorName and Name are required")
	}
	if len(s.ManagedRuleGroupConfigs) > 0 {
		return nil, errorf(path+".ManagedRuleGroupConfigs", "not supported by Strata (they configure AWS's bot control and account takeover groups)")
	}
	if cp.opts.Managed == nil {
		return nil, errorf(path, "managed rule groups are not available here")
	}
	g := &groupRule{namespace: "awswaf:managed:" + strings.ToLower(s.VendorName) + ":" + s.Name + ":",
		excluded: map[string]bool{}, overrides: map[string]ruleAction{}}
	for _, e := range s.ExcludedRules {
		g.excluded[e.Name] = true
	}
	for i := range s.RuleActionOverrides {
		o := &s.RuleActionOverrides[i]
		op := fmt.Sprintf("%s.RuleActionOverrides[%d]", path, i)
		if o.Name == "" {
			return nil, errorf(op+".Name", "a rule name is required")
		}
		a, err := compileAction(&o.ActionToUse, acl, op+".ActionToUse")
		if err != nil {
			return nil, err
		}
		g.overrides[o.Name] = a
	}
	if s.ScopeDownStatement != nil {
		sd, err := cp.statement(s.ScopeDownStatement, path+".ScopeDownStatement", false)
		if err != nil {
			return nil, err
		}
		g.scopeDown = sd
	}
	cp.usesBody = true
	grp, err := cp.opts.Managed(s, cp.bodyLimit)
	if err != nil {
		return nil, errorf(path, "%v", err)
	}
	g.g = grp
	return g, nil
}

// BodyLimit is how many body bytes a Request should carry
// (AssociationConfig's CLOUDFRONT limit, 16 KiB by default).
func (p *Program) BodyLimit() int { return p.bodyLimit }

// InspectsBody reports whether a statement inspects the request body (or
// a managed group runs): only then does a Request need its Body.
func (p *Program) InspectsBody() bool { return p.usesBody }

// Name is the web ACL's name.
func (p *Program) Name() string { return p.name }

// evalCtx is the state of one evaluation.
type evalCtx struct {
	r          *Request
	labels     []string
	geo        bool   // a GeoMatch on the client address ran in this rule
	fwdGeo     bool   // a GeoMatch on a forwarded address ran
	fwdCountry string // its country
	rateKey    string
	geoDone    bool
}

// Evaluate runs the rules in priority order: a rule whose statement
// matches adds its labels (seen by later rules) and applies its action;
// Count goes on, Allow and Block end the evaluation; the default action
// decides when no rule did.
func (p *Program) Evaluate(r *Request) *Verdict {
	c := &evalCtx{r: r}
	v := &Verdict{}
	for _, rule := range p.rules {
		c.geo, c.fwdGeo, c.rateKey = false, false, ""
		var done bool
		if rule.group != nil {
			done = p.evalGroup(rule, c, v)
		} else {
			matched := rule.m.match(c)
			p.geoLabels(c)
			if matched {
				c.labels = append(c.labels, rule.labels...)
				v.Matches = append(v.Matches, Match{Rule: rule.name, Type: rule.typ, Action: rule.act.action, RateKey: c.rateKey})
				done = p.apply(rule, rule.act, "", v)
			}
		}
		if done {
			v.Labels = c.labels
			p.sample(r, v)
			return v
		}
	}
	v.Action = p.def.action
	v.TerminatingRule = DefaultActionRule
	v.Response = p.def.response
	v.InsertHeaders = append(v.InsertHeaders, p.def.insert...)
	v.Labels = c.labels
	if v.Action == Block {
		p.blocked.Add(1)
	} else {
		p.allowed.Add(1)
	}
	p.sample(r, v)
	return v
}

// geoLabels adds awswaf:clientip:geo:country:XX (or forwardedip) once a
// GeoMatch statement ran, when its rule finishes.
func (p *Program) geoLabels(c *evalCtx) {
	if c.geo && !c.geoDone {
		cc := c.r.Country
		if cc == "" {
			cc = "XX"
		}
		c.labels = append(c.labels, "awswaf:clientip:geo:country:"+cc)
		c.geoDone = true
	}
	if c.fwdGeo {
		cc := c.fwdCountry
		if cc == "" {
			cc = "XX"
		}
		l := "awswaf:forwardedip:geo:country:" + cc
		for _, x := range c.labels {
			if x == l {
				return
			}
		}
		c.labels = append(c.labels, l)
	}
}

// apply records a matched rule's action; it reports whether it ends the
// evaluation.
func (p *Program) apply(rule *compiledRule, a ruleAction, within string, v *Verdict) bool {
	switch a.action {
	case Count:
		rule.counters.counted.Add(1)
		v.InsertHeaders = append(v.InsertHeaders, a.insert...)
		return false
	case Allow:
		rule.counters.allowed.Add(1)
		p.allowed.Add(1)
		v.InsertHeaders = append(v.InsertHeaders, a.insert...)
	case Block:
		rule.counters.blocked.Add(1)
		p.blocked.Add(1)
		v.Response = a.response
		v.InsertHeaders = nil
	}
	v.Action = a.action
	v.TerminatingRule = rule.name
	v.TerminatingRuleType = rule.typ
	v.RuleWithinGroup = within
	return true
}

func (p *Program) evalGroup(rule *compiledRule, c *evalCtx, v *Verdict) bool {
	g := rule.group
	if g.scopeDown != nil {
		matched := g.scopeDown.match(c)
		p.geoLabels(c)
		if !matched {
			return false
		}
	}
	ms := g.g.Inspect(c.r)
	for _, m := range ms {
		a := ruleAction{action: m.Action}
		if a.action == "" {
			a.action = Block
		}
		if g.excluded[m.Rule] {
			a = ruleAction{action: Count}
		}
		if o, ok := g.overrides[m.Rule]; ok {
			a = o
		}
		if g.countGroup {
			a = ruleAction{action: Count}
		}
		for _, l := range m.Labels {
			if !strings.HasPrefix(l, "awswaf:") {
				l = g.namespace + l
			}
			c.labels = append(c.labels, l)
		}
		v.Matches = append(v.Matches, Match{Rule: rule.name, RuleWithinGroup: m.Rule, Type: TypeManaged, Action: a.action, Msg: m.Msg, Data: m.Data})
		if p.apply(rule, a, m.Rule, v) {
			return true
		}
	}
	return false
}

// RuleMetrics are the counts of one rule (or of the whole web ACL).
type RuleMetrics struct {
	Rule       string
	MetricName string
	Allowed    int64 `json:"AllowedRequests"`
	Blocked    int64 `json:"BlockedRequests"`
	Counted    int64 `json:"CountedRequests"`
}

// Metrics returns the web ACL's totals (Rule "ALL", as CloudWatch's
// dimension) followed by each rule's counts, in priority order.
func (p *Program) Metrics() []RuleMetrics {
	out := []RuleMetrics{{Rule: "ALL", MetricName: p.metric, Allowed: p.allowed.Load(), Blocked: p.blocked.Load()}}
	for _, r := range p.rules {
		out = append(out, RuleMetrics{Rule: r.name, MetricName: r.metric, Allowed: r.counters.allowed.Load(),
			Blocked: r.counters.blocked.Load(), Counted: r.counters.counted.Load()})
	}
	return out
}
