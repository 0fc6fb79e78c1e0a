// Package managed runs AWS-style managed rule groups for web ACLs, backed by
// the OWASP Core Rule Set v4 (embedded by coraza-coreruleset) through the
// Coraza WAF engine.
//
// # A group
//
// New(Options) resolves an AWS managed rule group name (for example
// AWSManagedRulesSQLiRuleSet) to the CRS request rule files that do the same
// job (groups.go has the table; GroupNames lists it), and builds one Coraza
// WAF with CRS's initialisation, those files and CRS's anomaly-score
// evaluation, at the requested paranoia level. Building a WAF parses
// thousands of rules and costs up to a second (the whole CRS, measured 1.1 s) and megabytes, so a WAF
// is built once per distinct Options and shared by every Group with those
// Options; each request gets its own Coraza transaction.
//
// # A request
//
//  1. Inspect gets the request head and the first BodyLimit bytes of its
//     body (16 KiB by default, CloudFront's default inspection size); the
//     caller bounds the body, nothing here reads from a connection.
//  2. Phase 1 (headers) and phase 2 (body) of CRS run; CRS's detection
//     rules add to the inbound anomaly score and its rule 949110 blocks
//     when the score reaches the threshold (5: one critical match).
//  3. A body that fails to parse as its declared type (JSON, XML,
//     multipart) also blocks (rules 200002, 200003: an unparsable body
//     is a way to smuggle an attack past the argument rules), unless it was
//     cut at BodyLimit, where a parse error is expected.
//  4. Inspect returns the detection rules that matched when the request is
//     blocked, and nothing when it is not: in CRS terms a rule that matched
//     below the threshold did not decide anything.
//
// # Rule names
//
// A rule of a group is named by its CRS rule id in decimal ("942100"); that
// is the name ExcludedRules takes, that Match.Rule carries, and that a web
// ACL's RuleActionOverrides use. Rules() lists a group's names. An
// excluded rule is removed from the WAF (SecRuleRemoveById), so it neither
// matches nor adds to the anomaly score.
package managed

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
)

// DefaultBodyLimit is how much of a request body is inspected when
// Options.BodyLimit is zero: 16 KiB, CloudFront's default for AWS WAF.
const DefaultBodyLimit = 16 << 10

// MaxBodyLimit is the largest Options.BodyLimit: 64 KiB, AWS WAF's largest
// CloudFront setting (KB_64).
const MaxBodyLimit = 64 << 10

// Options select and set up a managed rule group.
type Options struct {
	// Vendor is "AWS" for the AWS group names, or "OWASP" for "CoreRuleSet"
	// (every CRS request rule).
	Vendor string
	// Name is the group name, e.g. "AWSManagedRulesCommonRuleSet".
	Name string
	// Version is empty (the embedded CRS) or CRSVersion.
	Version string
	// ParanoiaLevel is CRS's blocking paranoia level, 1-4; 0 means 1.
	ParanoiaLevel int
	// ExcludedRules names rules of the group (CRS ids in decimal) that are
	// removed.
	ExcludedRules []string
	// BodyLimit is how many bytes of a request body are inspected; 0 means
	// DefaultBodyLimit. At most MaxBodyLimit.
	BodyLimit int

	// detectionOnly runs Coraza with SecRuleEngine DetectionOnly: every
	// rule runs and nothing interrupts (the CRS regression runner).
	detectionOnly bool
	// extra directives go after CRS's setup, before its rules (the CRS
	// regression runner's rule 900005).
	extra string
}

// Input is the part of a request a group inspects.
type Input struct {
	Method string
	// URI is the raw request target, path?query, as the viewer sent it.
	URI string
	// Proto is "HTTP/1.1", "HTTP/2.0", ….
	Proto string
	// Host is the request's host (Go moves it out of Header).
	Host string
	// Header holds the request headers. Go's server moves
	// Transfer-Encoding out of Header; a caller that wants CRS's framing
	// rules to see it puts it back.
	Header http.Header
	// Body is the start of the request body, at most BodyLimit bytes (a
	// longer Body is cut).
	Body []byte
	// BodyTruncated says Body is only the start of a longer body. It is
	// also inferred when Content-Length is larger than len(Body).
	BodyTruncated bool
	// ClientIP is the viewer's address.
	ClientIP netip.Addr
}

// Match is one rule that matched.
type Match struct {
	// Rule is the rule's name: its CRS id in decimal.
	Rule string
	// ID is the CRS rule id.
	ID int
	// Msg is the rule's message, e.g. "SQL Injection Attack Detected via
	// libinjection".
	Msg string
	// Data is what matched (CRS's logdata), e.g. "Matched Data: s&sos
	// found within ARGS:id: 1' or 1=1".
	Data string
	// Severity is CRS's severity: "critical", "error", "warning", "notice".
	Severity string
}

// Result is the whole outcome of Evaluate.
type Result struct {
	// Blocked says CRS's blocking evaluation (or a body parse error)
	// decided to block.
	Blocked bool
	// Matches lists every logged rule that matched, detection rules and
	// the evaluation rules (949110) alike, in the order they ran.
	Matches []Match
	// Detections is the subset of Matches that Inspect returns when the
	// request is blocked.
	Detections []Match
}

// Group is a managed rule group ready to inspect requests. It is safe for
// concurrent use.
type Group struct {
	opts   Options
	waf    coraza.WAF
	rules  []string // detection rule names, sorted numerically
	isRule map[int]bool
	txID   atomic.Uint64
}

// cache holds one entry per distinct Options key: a Coraza WAF is immutable
// once built, so sharing it is safe, and building it is expensive.
var cache sync.Map // string → *cacheEntry

type cacheEntry struct {
	once sync.Once
	g    *Group
	err  error
}

// ErrUnknownGroup is wrapped by New's error for a vendor/name pair that is
// not supported.
var ErrUnknownGroup = errors.New("unknown managed rule group")

// New returns the group named by o, sharing the WAF with every other
// group built from equal Options.
func New(o Options) (*Group, error) {
	o, def, err := o.normalize()
	if err != nil {
		return nil, err
	}
	key := o.key()
	v, _ := cache.LoadOrStore(key, &cacheEntry{})
	e := v.(*cacheEntry)
	e.once.Do(func() { e.g, e.err = build(o, def) })
	return e.g, e.err
}

func (o Options) normalize() (Options, groupDef, error) {
	byName, ok := groups[o.Vendor]
	if !ok {
		return o, groupDef{}, fmt.Errorf("managed: vendor %q: %w (supported: %s)", o.Vendor, ErrUnknownGroup, strings.Join(GroupNames(), ", "))
	}
	def, ok := byName[o.Name]
	if !ok {
		return o, groupDef{}, fmt.Errorf("managed: %s/%s: %w (supported: %s)", o.Vendor, o.Name, ErrUnknownGroup, strings.Join(GroupNames(), ", "))
	}
	if o.Version != "" && o.Version != CRSVersion {
		return o, groupDef{}, fmt.Errorf("managed: %s/%s version %q is not available: this build has OWASP CRS %s (leave Version empty or use %q)", o.Vendor, o.Name, o.Version, CRSVersion, CRSVersion)
	}
	switch {
	case o.ParanoiaLevel == 0:
		o.ParanoiaLevel = 1
	case o.ParanoiaLevel < 1 || o.ParanoiaLevel > 4:
		return o, groupDef{}, fmt.Errorf("managed: %s/%s: paranoia level %d: want 1-4", o.Vendor, o.Name, o.ParanoiaLevel)
	}
	switch {
	case o.BodyLimit == 0:
		o.BodyLimit = DefaultBodyLimit
	case o.BodyLimit < 0 || o.BodyLimit > MaxBodyLimit:
		return o, groupDef{}, fmt.Errorf("managed: %s/%s: body limit %d: want 1-%d bytes", o.Vendor, o.Name, o.BodyLimit, MaxBodyLimit)
	}
	ex := slices.Clone(o.ExcludedRules)
	slices.Sort(ex)
	o.ExcludedRules = slices.Compact(ex)
	return o, def, nil
}

func (o Options) key() string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%t\x00%s\x00%s", o.Vendor, o.Name, o.ParanoiaLevel, o.BodyLimit, o.detectionOnly, strings.Join(o.ExcludedRules, ","), o.extra)
}

// baseDirectives is Coraza's recommended configuration
// (@coraza.conf-recommended) for requests only, with the body limits set
// by build and the body parse error rules logging instead of denying
// (Evaluate decides, knowing whether the body was cut), and rule 200007:
// a body of any other type is inspected raw, as REQUEST_BODY, like
// ModSecurity does, instead of Coraza's default of parsing it as a form
// (which turns the bytes of a binary upload into argument names, and
// CRS's null-byte rule 920270 blocks it).
const baseDirectives = `
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_PROCESSOR "!@rx ." "id:200007,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=RAW"
SecRequestBodyJsonDepthLimit 1024
SecRequestBodyLimitAction ProcessPartial
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,pass,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,pass,msg:'Multipart request body failed strict validation.',severity:2"
SecResponseBodyAccess Off
SecAuditEngine Off
`

// bodyErrorRules are the ids of the body parse error rules above.
var bodyErrorRules = []int{200002, 200003}

func build(o Options, def groupDef) (*Group, error) {
	in, out, err := groupRules(def)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(in))
	for i, id := range in {
		names[i] = strconv.Itoa(id)
	}
	var unknown []string
	remove := slices.Clone(out)
	for _, r := range o.ExcludedRules {
		id, err := strconv.Atoi(r)
		if err != nil || !slices.Contains(in, id) {
			unknown = append(unknown, strconv.Quote(r))
			continue
		}
		remove = append(remove, id)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("managed: %s/%s: ExcludedRules %s: not rules of this group (rules are named by CRS id, e.g. %q; Group.Rules lists them)",
			o.Vendor, o.Name, strings.Join(unknown, ", "), names[0])
	}

	var d strings.Builder
	if o.detectionOnly {
		d.WriteString("SecRuleEngine DetectionOnly\n")
	} else {
		d.WriteString("SecRuleEngine On\n")
	}
	d.WriteString(baseDirectives)
	fmt.Fprintf(&d, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\n", o.BodyLimit, o.BodyLimit)
	d.WriteString("Include @crs-setup.conf.example\n")
	fmt.Fprintf(&d, "SecAction \"id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d\"\n", o.ParanoiaLevel)
	// The methods a CloudFront cache behavior can allow (CRS allows GET
	// HEAD POST OPTIONS only): PUT, PATCH and DELETE are ordinary API
	// traffic; TRACE, CONNECT, WebDAV and made-up methods stay refused.
	d.WriteString("SecAction \"id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'\"\n")
	d.WriteString(o.extra)
	d.WriteString("Include @owasp_crs/REQUEST-901-INITIALIZATION.conf\n")
	d.WriteString("Include @owasp_crs/REQUEST-905-COMMON-EXCEPTIONS.conf\n")
	files, err := ruleFiles(def.files)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		fmt.Fprintf(&d, "Include @owasp_crs/%s\n", f)
	}
	d.WriteString("Include @owasp_crs/REQUEST-949-BLOCKING-EVALUATION.conf\n")
	for ids := range slices.Chunk(remove, 50) {
		d.WriteString("SecRuleRemoveById")
		for _, id := range ids {
			fmt.Fprintf(&d, " %d", id)
		}
		d.WriteByte('\n')
	}
	waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(d.String()))
	if err != nil {
		return nil, fmt.Errorf("managed: %s/%s: build waf: %w", o.Vendor, o.Name, err)
	}
	isRule := make(map[int]bool, len(in))
	for _, id := range in {
		isRule[id] = true
	}
	return &Group{opts: o, waf: waf, rules: names, isRule: isRule}, nil
}

// ruleFiles returns the file names of the CRS request files numbered nums.
func ruleFiles(nums []int) ([]string, error) {
	var out []string
	for _, n := range nums {
		matches, err := fs.Glob(coreruleset.FS, fmt.Sprintf("@owasp_crs/REQUEST-%d-*.conf", n))
		if err != nil || len(matches) != 1 {
			return nil, fmt.Errorf("managed: crs file REQUEST-%d-*.conf: found %d (%v)", n, len(matches), err)
		}
		out = append(out, strings.TrimPrefix(matches[0], "@owasp_crs/"))
	}
	return out, nil
}

// Rules lists the names of the group's detection rules (at every paranoia
// level, excluded ones included): the names ExcludedRules and a web ACL's
// RuleActionOverrides may use.
func (g *Group) Rules() []string { return slices.Clone(g.rules) }

// Options returns the group's options with their defaults filled in.
func (g *Group) Options() Options { return g.opts }

// Inspect runs the group on a request and returns the detection rules that
// matched if the group blocks it, else nil.
func (g *Group) Inspect(in Input) []Match {
	r := g.Evaluate(in)
	switch {
	case !r.Blocked:
		return nil
	case len(r.Detections) > 0:
		return r.Detections
	case len(r.Matches) > 0:
		return r.Matches // blocked by the evaluation alone (never seen)
	}
	// Coraza failed on the request (its body buffer): fail closed.
	return []Match{{Msg: "request refused by the WAF engine", Severity: "critical"}}
}

// Evaluate runs the group on a request and returns the whole outcome.
func (g *Group) Evaluate(in Input) Result {
	body := in.Body
	truncated := in.BodyTruncated
	if len(body) > g.opts.BodyLimit {
		body, truncated = body[:g.opts.BodyLimit], true
	}
	if cl := in.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(len(body)) {
			truncated = true
		}
	}

	tx := g.waf.NewTransactionWithID(strconv.FormatUint(g.txID.Add(1), 36))
	defer tx.Close()
	client := ""
	if in.ClientIP.IsValid() {
		client = in.ClientIP.Unmap().String()
	}
	tx.ProcessConnection(client, 0, "", 0)
	proto := in.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	tx.ProcessURI(in.URI, in.Method, proto)
	if in.Host != "" || in.Proto == "HTTP/1.1" {
		// An HTTP/1.1 request has a Host field (servers refuse it
		// otherwise), so an empty Host is an empty field (CRS 920290), not
		// a missing one (920280).
		tx.AddRequestHeader("Host", in.Host)
		host := in.Host
		if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
			host = h
		}
		tx.SetServerName(host)
	}
	for k, vs := range in.Header {
		if strings.EqualFold(k, "Host") && in.Host != "" {
			continue
		}
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	blocked := tx.ProcessRequestHeaders() != nil
	if !blocked {
		if len(body) > 0 {
			if it, _, err := tx.WriteRequestBody(body); it != nil {
				blocked = true
			} else if err != nil {
				blocked = true // Coraza could not buffer the body: fail closed
			}
		}
		if !blocked {
			it, err := tx.ProcessRequestBody()
			blocked = it != nil || err != nil
		}
	}

	var r Result
	for _, mr := range tx.MatchedRules() {
		if l, ok := mr.(interface{ Log() bool }); ok && !l.Log() {
			continue
		}
		meta := mr.Rule()
		m := Match{
			Rule:     strconv.Itoa(meta.ID()),
			ID:       meta.ID(),
			Msg:      mr.Message(),
			Data:     mr.Data(),
			Severity: severity(meta.Severity()),
		}
		r.Matches = append(r.Matches, m)
		switch {
		case slices.Contains(bodyErrorRules, m.ID):
			if !truncated {
				blocked = true
				r.Detections = append(r.Detections, m)
			}
		case g.isRule[m.ID]:
			r.Detections = append(r.Detections, m)
		}
	}
	r.Blocked = blocked && !g.opts.detectionOnly
	return r
}

func severity(s types.RuleSeverity) string {
	switch s {
	case types.RuleSeverityEmergency, types.RuleSeverityAlert, types.RuleSeverityCritical:
		return "critical"
	case types.RuleSeverityError:
		return "error"
	case types.RuleSeverityWarning:
		return "warning"
	case types.RuleSeverityNotice:
		return "notice"
	}
	return strings.ToLower(s.String())
}
