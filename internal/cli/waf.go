package cli

// "strata waf": the web ACLs, IP sets and regex pattern sets of the control
// plane (the resource commands of resource.go, in AWS WAFv2's JSON shape plus
// Strata's id), and "strata waf test", which evaluates one request against a
// web ACL with the same engine and managed rule groups as the PoPs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/waf"
	"github.com/strata-cdn/strata/internal/waf/managed"
)

var webACLKind = kindOf(resourceKind{
	cmd: "waf acl", what: "web ACL", path: "/webacls", section: "webACLs", generatedID: true,
	refs:    []string{"ipSets", "regexPatternSets"},
	columns: []string{"NAME", "DEFAULT ACTION", "RULES"},
}, func(c *config.Config) []config.WebACL { return c.WebACLs },
	func(a *config.WebACL) string { return a.ID },
	func(a *config.WebACL) ([]string, string) {
		def := "ALLOW"
		if a.ACL.DefaultAction.Block != nil {
			def = "BLOCK"
		}
		var rules []string
		for _, r := range a.ACL.Rules {
			rules = append(rules, r.Name)
		}
		return []string{a.ACL.Name, def, strings.Join(rules, ",")}, a.ACL.Description
	})

var ipSetKind = kindOf(resourceKind{
	cmd: "waf ipset", what: "IP set", path: "/ipsets", section: "ipSets", generatedID: true,
	columns: []string{"NAME", "VERSION", "ADDRESSES"},
}, func(c *config.Config) []config.IPSet { return c.IPSets },
	func(s *config.IPSet) string { return s.ID },
	func(s *config.IPSet) ([]string, string) {
		return []string{s.Set.Name, s.Set.IPAddressVersion, strconv.Itoa(len(s.Set.Addresses))}, s.Set.Description
	})

var regexSetKind = kindOf(resourceKind{
	cmd: "waf regex-set", what: "regex pattern set", path: "/regexpatternsets", section: "regexPatternSets", generatedID: true,
	columns: []string{"NAME", "PATTERNS"},
}, func(c *config.Config) []config.RegexPatternSet { return c.RegexPatternSets },
	func(s *config.RegexPatternSet) string { return s.ID },
	func(s *config.RegexPatternSet) ([]string, string) {
		var res []string
		for _, r := range s.Set.RegularExpressionList {
			res = append(res, r.RegexString)
		}
		return []string{s.Set.Name, strings.Join(res, " ")}, s.Set.Description
	})

// WAFUsage is the help of "strata waf".
const WAFUsage = `Usage:
  strata waf acl create|list|get|update|delete ...       web ACLs ("strata waf acl help")
  strata waf ipset create|list|get|update|delete ...     IP sets
  strata waf regex-set create|list|get|update|delete ... regex pattern sets
  strata waf test (--acl ID | --file F) --request 'METHOD TARGET' [--header 'K: V']... [--body S]
                  [--client IP] [--country CC] [--json]
                                                         evaluate one request against a web ACL

Files are AWS WAFv2 JSON (the output of "aws wafv2 get-web-acl", "get-ip-set",
"get-regex-pattern-set", with or without their wrapper) plus Strata's "id", or
the same in YAML. "strata waf test" exits 0 when the request is allowed, 1 when
it is blocked, 2 on a usage error and 3 when the web ACL cannot be evaluated.
`

// WAF is "strata waf": acl, ipset, regex-set and test.
func WAF(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, WAFUsage)
		return 2
	}
	switch args[0] {
	case "acl", "acls", "webacl", "webacls", "web-acl":
		return cmdResource(webACLKind, args[1:], stdout, stderr)
	case "ipset", "ipsets", "ip-set", "ip-sets":
		return cmdResource(ipSetKind, args[1:], stdout, stderr)
	case "regex-set", "regex-sets", "regexpatternset", "regexpatternsets":
		return cmdResource(regexSetKind, args[1:], stdout, stderr)
	case "test":
		return wafTest(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, WAFUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "strata waf: unknown subcommand %q\n\n%s", args[0], WAFUsage)
		return 2
	}
}

// wafReferenceError reports whether a web ACL's error is about an IP set or
// a regex pattern set it refers to (those live in the control plane).
func wafReferenceError(e config.FieldError) bool {
	return strings.Contains(e.Path, "IPSetReferenceStatement") || strings.Contains(e.Path, "RegexPatternSetReferenceStatement")
}

// wafTest is "strata waf test": one request through a web ACL.
func wafTest(args []string, stdout, stderr io.Writer) int {
	c := newCommand("waf test", stderr)
	aclID := c.fs.String("acl", "", "the id of a web ACL of the control plane")
	file := c.fs.String("file", "", "a web ACL file (YAML or JSON, - for standard input) instead of --acl; the IP sets and regex pattern sets it names come from the control plane")
	request := c.fs.String("request", "", `the request line: "METHOD TARGET", TARGET a path with its query as sent (escaped) or a URL`)
	var headers multiFlag
	c.fs.Var(&headers, "header", `a request header, "Name: value" (repeatable); Host defaults to the URL's host, else www.example.com`)
	body := c.fs.String("body", "", "the request body (@FILE: read from a file); without a Content-Type header it is sent as application/x-www-form-urlencoded")
	clientIP := c.fs.String("client", "203.0.113.10", "the viewer's address")
	country := c.fs.String("country", "", "the viewer's country (ISO 3166-1 alpha-2), as the PoP's geo lookup would find it")
	if _, ok := c.parse(args, 0, 0, "", ""); !ok {
		return 2
	}
	if (*aclID == "") == (*file == "") {
		fmt.Fprintf(stderr, "strata waf test: exactly one of --acl ID and --file F is required\n")
		return 2
	}
	r, err := testRequest(*request, headers, *body, *clientIP, *country)
	if err != nil {
		fmt.Fprintf(stderr, "strata waf test: %v\n", err)
		return 2
	}
	acl, refs, code := loadTestACL(c, *aclID, *file)
	if acl == nil {
		return code
	}
	prog, err := waf.Compile(&acl.ACL, waf.Options{Resolver: refs.WebACLResolver(), Managed: managed.Factory, SampleSize: 1})
	if err != nil {
		fmt.Fprintf(stderr, "strata waf test: web ACL %s: %v\n", acl.ID, err)
		return 3
	}
	if len(r.Body) > prog.BodyLimit() {
		r.Body, r.BodyOversize = r.Body[:prog.BodyLimit()], true
	}
	v := prog.Evaluate(r)
	name := acl.ID
	if name == placeholderID { // a file without an id
		name = acl.ACL.Name
	}
	if c.cf.asJSON {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "strata waf test: %v\n", err)
			return 3
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printVerdict(stdout, name, v)
	}
	if v.Action == waf.Block {
		return 1
	}
	return 0
}

// loadTestACL reads the web ACL of --acl (from the control plane) or --file,
// with the IP sets and regex pattern sets of the control plane it refers to
// (fetched for --file only when it names some). nil: exit with code.
func loadTestACL(c *command, id, file string) (*config.WebACL, *config.Config, int) {
	kind, _ := config.KindByField(webACLKind.section)
	var data []byte
	refs := &config.Config{}
	fetched := false
	if id != "" {
		cl, ok := c.client()
		if !ok {
			return nil, nil, 2
		}
		_, _, body, err := cl.Do(http.MethodGet, webACLKind.itemPath(id), nil, "")
		if err != nil {
			printError(c.stderr, cl, err)
			return nil, nil, 3
		}
		if refs, err = referencedResources(cl, webACLKind.refs); err != nil {
			printError(c.stderr, cl, err)
			return nil, nil, 3
		}
		data, fetched = body, true
	} else {
		if data, _ = c.readFile(file); data == nil {
			return nil, nil, 3 // 1 would say "blocked"
		}
	}
	for {
		v, err := config.ParseResourceWithID(kind, data, refs, placeholderID)
		if err == nil {
			return v.(*config.WebACL), refs, 0
		}
		var errs config.Errors
		if !errors.As(err, &errs) || fetched || !slices.ContainsFunc(errs, wafReferenceError) {
			fmt.Fprintf(c.stderr, "strata waf test: not a valid web ACL:\n")
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintf(c.stderr, "  %s\n", e.Error())
				}
			} else {
				fmt.Fprintf(c.stderr, "  %v\n", err)
			}
			return nil, nil, 3
		}
		cl, ok := c.client()
		if !ok {
			return nil, nil, 2
		}
		if refs, err = referencedResources(cl, webACLKind.refs); err != nil {
			printError(c.stderr, cl, err)
			return nil, nil, 3
		}
		fetched = true
	}
}

// testRequest builds the request of "strata waf test" from its flags.
func testRequest(line string, headers []string, body, client, country string) (*waf.Request, error) {
	method, target, ok := strings.Cut(strings.TrimSpace(line), " ")
	target = strings.TrimSpace(target)
	if line == "" || !ok || method == "" || target == "" {
		return nil, errors.New(`--request "METHOD TARGET" is required, e.g. --request 'GET /search?q=x'`)
	}
	if t, proto, ok := strings.Cut(target, " "); ok {
		target = t
		if strings.TrimSpace(proto) != "HTTP/1.1" && strings.TrimSpace(proto) != "HTTP/2.0" && strings.TrimSpace(proto) != "HTTP/1.0" {
			return nil, fmt.Errorf("--request: unexpected %q after the target", proto)
		}
	}
	r := &waf.Request{Method: method, Proto: "HTTP/1.1", Header: http.Header{}, BodySize: 0, Country: strings.ToUpper(country)}
	host := "www.example.com"
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		u, err := url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("--request: %v", err)
		}
		host, r.Path, r.RawQuery = u.Host, u.EscapedPath(), u.RawQuery
	} else if strings.HasPrefix(target, "/") {
		r.Path, r.RawQuery, _ = strings.Cut(target, "?")
	} else {
		return nil, fmt.Errorf("--request: the target %q is neither a path (/...) nor a URL", target)
	}
	if r.Path == "" {
		r.Path = "/"
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf(`--header %q: expected "Name: value"`, h)
		}
		if strings.EqualFold(k, "host") {
			host = strings.TrimSpace(v)
			continue
		}
		r.Header.Add(k, strings.TrimSpace(v))
	}
	r.Host = host
	if body != "" {
		b := []byte(body)
		if f, ok := strings.CutPrefix(body, "@"); ok {
			var err error
			if b, err = os.ReadFile(f); err != nil {
				return nil, fmt.Errorf("--body: %v", err)
			}
		}
		r.Body, r.BodySize = b, int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		if r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	ip, err := netip.ParseAddr(client)
	if err != nil {
		return nil, fmt.Errorf("--client: %q is not an IP address", client)
	}
	r.ClientIP = ip
	r.ID = "strata-waf-test"
	return r, nil
}

// printVerdict prints a verdict for people: the action, the rule that
// decided, the labels and every rule that matched.
func printVerdict(w io.Writer, aclID string, v *waf.Verdict) {
	kv := newKV(w)
	kv.add("Verdict", string(v.Action))
	term := v.TerminatingRule
	if v.TerminatingRuleType != "" {
		term += " (" + v.TerminatingRuleType + ")"
	}
	if v.RuleWithinGroup != "" {
		term += ", rule " + v.RuleWithinGroup + " of the group"
	}
	kv.add("Terminating rule", term)
	kv.add("Web ACL", aclID)
	if v.Response != nil {
		kv.add("Response", strconv.Itoa(v.Response.Status)+" (custom response)")
	} else if v.Action == waf.Block {
		kv.add("Response", "403 (the PoP's default)")
	}
	for _, h := range v.InsertHeaders {
		kv.add("Inserted header", h.Name+": "+h.Value)
	}
	kv.flush()
	fmt.Fprintln(w, "\nLabels:")
	if len(v.Labels) == 0 {
		fmt.Fprintln(w, "  -")
	}
	for _, l := range v.Labels {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintln(w, "\nMatched rules:")
	if len(v.Matches) == 0 {
		fmt.Fprintln(w, "  -")
		return
	}
	t := newTable(w, "  RULE", "WITHIN GROUP", "TYPE", "ACTION", "MESSAGE")
	for _, m := range v.Matches {
		msg := m.Msg
		if m.Data != "" {
			msg += " [" + m.Data + "]"
		}
		if m.RateKey != "" {
			msg += " [key " + m.RateKey + "]"
		}
		t.row("  "+m.Rule, m.RuleWithinGroup, m.Type, string(m.Action), oneLine(msg, 160))
	}
	t.flush()
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
