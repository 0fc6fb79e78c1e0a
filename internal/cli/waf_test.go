package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// withID adds Strata's id to an AWS export (get-ip-set's {"IPSet": …}).
func withID(t *testing.T, file, id string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["id"], _ = json.Marshal(id)
	out, _ := json.Marshal(doc)
	return string(out)
}

// testACL blocks the addresses of the IP set "bad-ips", paths that match
// the regex pattern set "admin-paths", and what the managed SQLi group
// (CRS 942) blocks; it counts requests with a "debug" query argument.
const testACL = `{
  "id": "shop-acl",
  "Name": "shop-acl",
  "Description": "the shop's web ACL",
  "DefaultAction": {"Allow": {}},
  "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "shop-acl"},
  "Rules": [
    {"Name": "block-ips", "Priority": 0, "Action": {"Block": {}},
     "Statement": {"IPSetReferenceStatement": {"ARN": "bad-ips"}},
     "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "block-ips"}},
    {"Name": "count-debug", "Priority": 1, "Action": {"Count": {}}, "RuleLabels": [{"Name": "debug"}],
     "Statement": {"ByteMatchStatement": {"SearchString": "debug", "FieldToMatch": {"QueryString": {}},
       "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "CONTAINS"}},
     "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "count-debug"}},
    {"Name": "admin", "Priority": 2, "Action": {"Block": {}},
     "Statement": {"RegexPatternSetReferenceStatement": {"ARN": "admin-paths", "FieldToMatch": {"UriPath": {}},
       "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}},
     "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "admin"}},
    {"Name": "AWS-AWSManagedRulesSQLiRuleSet", "Priority": 3, "OverrideAction": {"None": {}},
     "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesSQLiRuleSet"}},
     "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "sqli"}}
  ]
}`

const testRegexSet = `{"id": "admin-paths", "Name": "admin-paths", "Description": "admin pages",
  "RegularExpressionList": [{"RegexString": "^/admin"}, {"RegexString": "^/wp-login\\.php$"}]}`

// TestCLIWAFResources drives "strata waf acl|ipset|regex-set" against a
// real control plane: AWS exports load as files, the web ACL's references
// to sets that live in the control plane are checked locally, and a set in
// use cannot be deleted.
func TestCLIWAFResources(t *testing.T) {
	tc := startTestControl(t)

	// An IP set: get-ip-set's output, wrapper and all, plus an id.
	out := tc.mustRun(WAF, "ipset", "create", "--file", writeFile(t, "ipset.json", withID(t, "../waf/testdata/aws-get-ip-set.json", "bad-ips")))
	wantLines(t, "waf ipset create", out, `^created IP set bad-ips\n`, `(?m)^Name:\s+bad-ips$`, `(?m)^Version:\s+IPV4$`, `(?m)^Addresses:\s+2$`)
	out = tc.mustRun(WAF, "regex-set", "create", "--file", writeFile(t, "rs.json", testRegexSet))
	wantLines(t, "waf regex-set create", out, `^created regex pattern set admin-paths\n`, `(?m)^Patterns:\s+\^/admin \^/wp-login\\\.php\$$`)

	// A web ACL that names an IP set the control plane does not have is
	// refused locally, with the path of the reference.
	bad := strings.Replace(testACL, `"ARN": "bad-ips"`, `"ARN": "no-such-set"`, 1)
	code, _, errOut := tc.run(WAF, "acl", "create", "--file", writeFile(t, "bad.json", bad))
	if code != 1 || !strings.Contains(errOut, "is not a valid web ACL") || !strings.Contains(errOut, "Rules[0].Statement.IPSetReferenceStatement") {
		t.Errorf("web ACL with an unknown IP set: exit %d, stderr %q", code, errOut)
	}

	out = tc.mustRun(WAF, "acl", "create", "--file", writeFile(t, "acl.json", testACL))
	wantLines(t, "waf acl create", out, `^created web ACL shop-acl\n`, `(?m)^Default action:\s+ALLOW$`,
		`(?m)^Rules:\s+block-ips,count-debug,admin,AWS-AWSManagedRulesSQLiRuleSet$`, `(?m)^Comment:\s+the shop's web ACL$`)
	out = tc.mustRun(WAF, "acls", "list")
	wantLines(t, "waf acl list", out, `(?m)^ID\s+NAME\s+DEFAULT ACTION\s+RULES\s+ETAG\s+COMMENT$`,
		`(?m)^shop-acl\s+shop-acl\s+ALLOW\s+block-ips,count-debug,admin,AWS-AWSManagedRulesSQLiRuleSet\s+"\d+"\s+the shop's web ACL$`, `(?m)^1 web ACL\(s\)$`)
	out = tc.mustRun(WAF, "ipset", "list")
	wantLines(t, "waf ipset list", out, `(?m)^bad-ips\s+bad-ips\s+IPV4\s+2\s+"\d+"\s+-$`)

	// get --json is the AWS shape with the id: it loads back as a file.
	out = tc.mustRun(WAF, "acl", "get", "shop-acl", "--json")
	var got struct {
		ID            string
		Name          string
		DefaultAction map[string]any
		Rules         []json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Name != "shop-acl" || len(got.Rules) != 4 || got.DefaultAction["Allow"] == nil {
		t.Fatalf("waf acl get --json: %v\n%s", err, out)
	}
	// Update: the same ACL, blocking by default, from YAML without its id.
	yaml := "Name: shop-acl\nDefaultAction: {Block: {}}\nRules:\n  - Name: block-ips\n    Priority: 0\n    Action: {Block: {}}\n" +
		"    Statement: {IPSetReferenceStatement: {ARN: bad-ips}}\n    VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: false, MetricName: block-ips}\n"
	out = tc.mustRun(WAF, "acl", "update", "shop-acl", "--file", writeFile(t, "acl2.yaml", yaml))
	wantLines(t, "waf acl update", out, `^updated web ACL shop-acl\n`, `(?m)^Default action:\s+BLOCK$`, `(?m)^Rules:\s+block-ips$`)

	// A distribution names the web ACL of the control plane: checked
	// locally, shown, and then the web ACL is in use.
	out = tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", distYAML+"webACLId: shop-acl\n"))
	wantLines(t, "dist create with a web ACL", out, `(?m)^Web ACL:\s+shop-acl$`)
	code, _, errOut = tc.run(cmdDist, "update", "ETEST1", "--file", writeFile(t, "dist2.yaml", distYAML+"webACLId: nope\n"))
	if code != 1 || !strings.Contains(errOut, `webACLId (line 10): "nope" is not a web ACL`) {
		t.Errorf("dist with an unknown web ACL: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = tc.run(WAF, "acl", "delete", "shop-acl")
	if code != 1 || !strings.Contains(errOut, "ResourceInUse") {
		t.Errorf("waf acl delete in use: exit %d, stderr %q", code, errOut)
	}
	tc.mustRun(cmdDist, "delete", "ETEST1")

	// The IP set is in use.
	code, _, errOut = tc.run(WAF, "ipset", "delete", "bad-ips")
	if code != 1 || !strings.Contains(errOut, "ResourceInUse") {
		t.Errorf("waf ipset delete in use: exit %d, stderr %q", code, errOut)
	}
	if out := tc.mustRun(WAF, "acl", "delete", "shop-acl"); out != "deleted web ACL shop-acl\n" {
		t.Errorf("waf acl delete: %q", out)
	}
	tc.mustRun(WAF, "ipset", "delete", "bad-ips")
	tc.mustRun(WAF, "regex-sets", "delete", "admin-paths")
	out = tc.mustRun(WAF, "ipset", "list")
	wantLines(t, "waf ipset list after delete", out, `(?m)^0 IP set\(s\)$`)
}

// TestCLIWAFTest evaluates requests with "strata waf test" against a web
// ACL of a real control plane (with its IP set, regex pattern set and the
// CRS-backed SQLi group) and against a file: an SQL injection is blocked by
// CRS rule 942100, a benign request is allowed, the IP set and the pattern
// set block what they name, and a counted rule adds its label.
func TestCLIWAFTest(t *testing.T) {
	tc := startTestControl(t)
	tc.mustRun(WAF, "ipset", "create", "--file", writeFile(t, "ipset.json", withID(t, "../waf/testdata/aws-get-ip-set.json", "bad-ips")))
	tc.mustRun(WAF, "regex-set", "create", "--file", writeFile(t, "rs.json", testRegexSet))
	tc.mustRun(WAF, "acl", "create", "--file", writeFile(t, "acl.json", testACL))
	aclFile := writeFile(t, "acl.json", testACL)

	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
		not  []string
	}{
		{"sqli in the query", []string{"--acl", "shop-acl", "--request", "GET /x?id=1%27%20OR%201=1"}, 1,
			[]string{`(?m)^Verdict:\s+BLOCK$`, `(?m)^Terminating rule:\s+AWS-AWSManagedRulesSQLiRuleSet \(MANAGED_RULE_GROUP\), rule 942100 of the group$`,
				`(?m)^Response:\s+403`, `(?m)^  AWS-AWSManagedRulesSQLiRuleSet\s+942100\s+MANAGED_RULE_GROUP\s+BLOCK\s+SQL Injection Attack Detected via libinjection`},
			[]string{"count-debug"}},
		{"sqli in a form body", []string{"--acl", "shop-acl", "--request", "POST /login", "--body", "user=admin'--&pass=x"}, 1,
			[]string{`(?m)^Verdict:\s+BLOCK$`, `(?m)^  AWS-AWSManagedRulesSQLiRuleSet\s+942\d{3}\s+MANAGED_RULE_GROUP\s+BLOCK`}, nil},
		{"benign", []string{"--acl", "shop-acl", "--request", "GET /products?id=42&sort=price", "--header", "User-Agent: Mozilla/5.0", "--header", "Accept: text/html"}, 0,
			[]string{`(?m)^Verdict:\s+ALLOW$`, `(?m)^Terminating rule:\s+Default_Action$`, "Labels:\n  -\n", "Matched rules:\n  -\n"}, []string{"BLOCK"}},
		{"benign body", []string{"--acl", "shop-acl", "--request", "POST /search", "--body", "q=blue+shoes&size=42"}, 0,
			[]string{`(?m)^Verdict:\s+ALLOW$`}, nil},
		{"counted, then allowed", []string{"--acl", "shop-acl", "--request", "GET https://shop.example/a?debug=1"}, 0,
			[]string{`(?m)^Verdict:\s+ALLOW$`, `(?m)^  awswaf:strata:webacl:shop-acl:debug$`, `(?m)^  count-debug\s+-\s+REGULAR\s+COUNT`}, nil},
		{"blocked address", []string{"--acl", "shop-acl", "--request", "GET /", "--client", "198.51.100.7"}, 1,
			[]string{`(?m)^Terminating rule:\s+block-ips \(REGULAR\)$`, `(?m)^  block-ips\s+-\s+REGULAR\s+BLOCK`}, nil},
		{"pattern set", []string{"--acl", "shop-acl", "--request", "GET /Admin/users?debug=yes"}, 1,
			[]string{`(?m)^Terminating rule:\s+admin \(REGULAR\)$`, `(?m)^  awswaf:strata:webacl:shop-acl:debug$`, `(?m)^  count-debug\s+-\s+REGULAR\s+COUNT`}, nil},
		{"from a file", []string{"--file", aclFile, "--request", "GET /x?id=1%27%20OR%201=1"}, 1,
			[]string{`(?m)^Verdict:\s+BLOCK$`, `942100`}, nil},
		{"from a file, benign", []string{"--file", aclFile, "--request", "GET /x?id=1"}, 0, []string{`(?m)^Verdict:\s+ALLOW$`, `(?m)^Web ACL:\s+shop-acl$`}, nil},
		{"from a file without an id", []string{"--file", writeFile(t, "noid.json", strings.Replace(testACL, `"id": "shop-acl",`, "", 1)), "--request", "GET /x?id=1%27%20OR%201=1"}, 1,
			[]string{`(?m)^Web ACL:\s+shop-acl$`, `(?m)^  awswaf:managed:aws:AWSManagedRulesSQLiRuleSet:crs:942100$`}, []string{placeholderID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := tc.run(WAF, append([]string{"test"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			wantLines(t, c.name, out, c.want...)
			for _, s := range c.not {
				if strings.Contains(out, s) {
					t.Errorf("%s: %q in:\n%s", c.name, s, out)
				}
			}
		})
	}

	// --country is the geo lookup's country.
	geo := writeFile(t, "geo.yaml", "Name: geo\nDefaultAction: {Allow: {}}\nRules:\n  - Name: embargo\n    Priority: 0\n    Action: {Block: {}}\n"+
		"    Statement: {GeoMatchStatement: {CountryCodes: [KP]}}\n    VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: false, MetricName: embargo}\n")
	for cc, want := range map[string]int{"kp": 1, "DE": 0, "": 0} {
		code, out, errOut := tc.run(WAF, "test", "--file", geo, "--request", "GET /", "--country", cc)
		if code != want || !strings.Contains(out, "awswaf:clientip:geo:country:"+map[string]string{"kp": "KP", "DE": "DE", "": "XX"}[cc]) {
			t.Errorf("--country %q: exit %d (want %d)\n%s%s", cc, code, want, out, errOut)
		}
	}

	// --json is the verdict.
	code, out, errOut := tc.run(WAF, "test", "--acl", "shop-acl", "--request", "GET /x?id=1%27%20OR%201=1", "--json")
	var v struct {
		Action, TerminatingRule, RuleWithinGroup string
		Matches                                  []struct{ Rule, RuleWithinGroup, Msg string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.Action != "BLOCK" || v.RuleWithinGroup != "942100" || len(v.Matches) == 0 {
		t.Errorf("waf test --json: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}

	// Failures: 3 when the web ACL cannot be had or compiled, 2 for usage.
	for _, c := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"unknown acl", []string{"--acl", "nope", "--request", "GET /"}, 3, "NoSuchResource"},
		{"invalid file", []string{"--file", writeFile(t, "bad.json", `{"Name": "x", "DefaultAction": {}}`), "--request", "GET /"}, 3, "DefaultAction"},
		{"missing file", []string{"--file", "/nonexistent/acl.json", "--request", "GET /"}, 3, "no such file"},
		{"no acl", []string{"--request", "GET /"}, 2, "exactly one of --acl ID and --file F"},
		{"both", []string{"--acl", "a", "--file", aclFile, "--request", "GET /"}, 2, "exactly one of"},
		{"no request", []string{"--acl", "shop-acl"}, 2, `--request "METHOD TARGET" is required`},
		{"no method", []string{"--acl", "shop-acl", "--request", "/x"}, 2, `--request "METHOD TARGET" is required`},
		{"bad target", []string{"--acl", "shop-acl", "--request", "GET x"}, 2, "neither a path"},
		{"bad header", []string{"--acl", "shop-acl", "--request", "GET /", "--header", "nocolon"}, 2, `expected "Name: value"`},
		{"bad client", []string{"--acl", "shop-acl", "--request", "GET /", "--client", "1.2.3"}, 2, "not an IP address"},
	} {
		code, _, errOut := tc.run(WAF, append([]string{"test"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q)", c.name, code, c.code, errOut, c.err)
		}
	}
}

func TestWAFUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}} {
		var out, errOut strings.Builder
		if code := WAF(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "strata waf test (--acl ID | --file F)") {
			t.Errorf("waf %q: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	var out, errOut strings.Builder
	if code := WAF([]string{"acl", "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "strata waf acl update ID --file F") {
		t.Errorf("waf acl help: exit %d\n%s", code, out.String())
	}
}

// FuzzWAFTestRequest: the request flags of "strata waf test" never panic,
// and a request they accept has a path and a host.
func FuzzWAFTestRequest(f *testing.F) {
	f.Add("GET /x?id=1%27%20OR%201=1", "User-Agent: x", "a=1")
	f.Add("POST https://shop.example:8443/a/b?q", "Host: other", "@/nonexistent")
	f.Add("GET  / HTTP/1.1", ":", "")
	f.Add("GET http://[::1", "X: y", "")
	f.Fuzz(func(t *testing.T, line, header, body string) {
		if strings.HasPrefix(body, "@") {
			body = "x" + body // no file reads
		}
		r, err := testRequest(line, []string{header}, body, "203.0.113.10", "")
		if err != nil {
			return
		}
		if !strings.HasPrefix(r.Path, "/") || r.Method == "" || !r.ClientIP.IsValid() || r.BodySize != int64(len(body)) {
			t.Errorf("%q: %+v", line, r)
		}
	})
}
