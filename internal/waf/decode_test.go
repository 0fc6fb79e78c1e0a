package waf

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func loadExported(t testing.TB, opts Options) *Program {
	t.Helper()
	data, err := os.ReadFile("testdata/aws-get-web-acl.json")
	if err != nil {
		t.Fatal(err)
	}
	acl, err := DecodeWebACL(data)
	if err != nil {
		t.Fatalf("the exported web ACL does not decode: %v", err)
	}
	ipData, _ := os.ReadFile("testdata/aws-get-ip-set.json")
	ips, err := DecodeIPSet(ipData)
	if err != nil {
		t.Fatalf("the exported IP set does not decode: %v", err)
	}
	reData, _ := os.ReadFile("testdata/aws-get-regex-pattern-set.json")
	res, err := DecodeRegexPatternSet(reData)
	if err != nil {
		t.Fatalf("the exported regex pattern set does not decode: %v", err)
	}
	// Strata's resources are keyed by their own ids; the ACL refers to them
	// by AWS ARN.
	opts.Resolver = MapResolver{IPSets: map[string]*IPSet{"bad-ips": ips}, RegexPatternSets: map[string]*RegexPatternSet{"admin": res}}
	if opts.Managed == nil {
		opts.Managed = groups
	}
	p, err := Compile(acl, opts)
	if err != nil {
		t.Fatalf("the exported web ACL does not compile: %v", err)
	}
	return p
}

// TestAWSExportedWebACL loads `aws wafv2 get-web-acl` output unchanged and
// evaluates requests through every kind of rule in it.
func TestAWSExportedWebACL(t *testing.T) {
	clock := newClock()
	p := loadExported(t, Options{Now: clock.Now})
	if p.BodyLimit() != 32<<10 {
		t.Errorf("body limit %d, want 32 KiB from AssociationConfig", p.BodyLimit())
	}
	cases := []struct {
		name   string
		r      *Request
		action Action
		rule   string
		status int      // custom response status, 0: none
		labels []string // labels that must be present
	}{
		{"ordinary page", req("GET /products/42?color=red", "User-Agent: Mozilla/5.0"), Allow, DefaultActionRule, 0, nil},
		{"bad IP", from(req("GET /"), "192.0.2.77", "US"), Block, "block-bad-ips", 0, nil},
		{"bad IP /32", from(req("GET /"), "198.51.100.7", "US"), Block, "block-bad-ips", 0, nil},
		{"embargo", from(req("GET /"), "203.0.113.1", "KP"), Block, "geo-embargo", 403, []string{"awswaf:clientip:geo:country:KP"}},
		{"bot counted", req("GET /products", "User-Agent: Googlebot/2.1"), Allow, DefaultActionRule, 0,
			[]string{"awswaf:123456789012:webacl:shop-prod:traffic:bot", "awswaf:clientip:geo:country:XX"}},
		{"bot at checkout", req("GET /a/../checkout/pay", "User-Agent: EvilBot"), Block, "bots-off-checkout", 0, nil},
		{"browser at checkout", req("GET /checkout/pay", "User-Agent: Mozilla/5.0"), Allow, DefaultActionRule, 0, nil},
		{"managed block", req("GET /x?q=<script>alert(1)</script>"), Block, "AWS-AWSManagedRulesCommonRuleSet", 0,
			[]string{"awswaf:managed:aws:AWSManagedRulesCommonRuleSet:CrossSiteScripting_QueryArguments"}},
		{"managed override to count", req("GET /bigbody"), Allow, DefaultActionRule, 0, nil},
		// the SQLi group counts (OverrideAction Count), labels, and the own
		// SQLi rule after it blocks
		{"managed group in count", req("GET /x?q=1 union select 2"), Block, "sqli-in-query", 0,
			[]string{"awswaf:managed:aws:AWSManagedRulesSQLiRuleSet:SQLi_QueryArguments"}},
		{"sqli", req("GET /x?id=1%27%20OR%201=1--"), Block, "sqli-in-query", 0, nil},
		{"regex set", req("GET /WP-Admin/install.php"), Block, "admin-paths", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := p.Evaluate(c.r)
			if v.Action != c.action || v.TerminatingRule != c.rule {
				t.Fatalf("verdict %s by %q, want %s by %q (matches %+v)", v.Action, v.TerminatingRule, c.action, c.rule, v.Matches)
			}
			if c.status != 0 && (v.Response == nil || v.Response.Status != c.status) {
				t.Errorf("response %+v, want status %d", v.Response, c.status)
			}
			if c.status == 0 && v.Response != nil {
				t.Errorf("unexpected custom response %+v", v.Response)
			}
			for _, l := range c.labels {
				if !contains(v.Labels, l) {
					t.Errorf("labels %q lack %q", v.Labels, l)
				}
			}
		})
	}
	// The login rate limit: 100 per 5 minutes from one address.
	var v *Verdict
	for i := range 101 {
		v = p.Evaluate(from(req("POST /login"), "203.0.113.50", "US"))
		if i < 100 && v.Action != Allow {
			t.Fatalf("request %d blocked by %s before the limit", i+1, v.TerminatingRule)
		}
	}
	if v.TerminatingRule != "login-rate-limit" || v.Response == nil || v.Response.Status != 429 ||
		v.Response.Header.Get("Retry-After") != "60" || v.Response.Header.Get("Content-Type") != "application/json" ||
		string(v.Response.Body) != `{"error":"too many login attempts"}` {
		t.Fatalf("101st login: %+v %+v", v, v.Response)
	}
	if v := p.Evaluate(from(req("GET /login"), "203.0.113.51", "US")); v.Action != Allow {
		t.Errorf("another address is limited too: %+v", v)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"not JSON", `{`, "invalid JSON"},
		{"not an object", `[]`, "expected a JSON object"},
		{"trailing data", `{"Name":"a"} {}`, "data after"},
		{"unknown top field", `{"Name":"a","DefaultAction":{"Allow":{}},"Colour":1}`, "Colour: unknown field"},
		{"wrong case", `{"name":"a"}`, "name: unknown field (did you mean Name?)"},
		{"wrapper extra key", `{"WebACL":{"Name":"a"},"Other":1}`, "Other: unknown field"},
		{"wrapper path", `{"WebACL":{"Name":"a","Rules":[{"Name":"r","Bogus":1}]},"LockToken":"x"}`, "WebACL.Rules[0].Bogus: unknown field"},
		{"rule group reference", oneRule(`{"RuleGroupReferenceStatement":{"ARN":"x"}}`),
			"Rules[0].Statement.RuleGroupReferenceStatement: not supported by Strata (rule groups of your own"},
		{"nested unsupported", oneRule(`{"NotStatement":{"Statement":{"AsnMatchStatement":{}}}}`),
			"Rules[0].Statement.NotStatement.Statement.AsnMatchStatement: not supported by Strata"},
		{"json body", oneRule(`{"ByteMatchStatement":{"SearchString":"a","FieldToMatch":{"JsonBody":{}},"TextTransformations":[],"PositionalConstraint":"CONTAINS"}}`),
			"Rules[0].Statement.ByteMatchStatement.FieldToMatch.JsonBody: not supported by Strata"},
		{"firewall manager groups", `{"Name":"a","PreProcessFirewallManagerRuleGroups":[{"Name":"fms"}]}`,
			"PreProcessFirewallManagerRuleGroups[0]: not supported by Strata unless empty"},
		{"type", `{"Name":"a","Rules":[{"Name":"r","Priority":"one"}]}`, "Rules.Priority: expected an integer, got string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeWebACL([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	bm := func(fields string) string {
		return oneRule(`{"ByteMatchStatement":{` + fields + `}}`)
	}
	cases := []struct {
		name, doc, want string
	}{
		{"name", `{"Name":"a b","DefaultAction":{"Allow":{}}}`, "Name: \"a b\""},
		{"default action", `{"Name":"a","DefaultAction":{}}`, "DefaultAction: exactly one of Allow and Block"},
		{"captcha", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Captcha":{}},"Statement":{"GeoMatchStatement":{"CountryCodes":["US"]}}}]}`,
			"Rules[0].Action.Captcha: CAPTCHA and Challenge actions are not supported"},
		{"challenge override", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"OverrideAction":{"None":{}},"Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesCommonRuleSet","RuleActionOverrides":[{"Name":"x","ActionToUse":{"Challenge":{}}}]}}}]}`,
			"Rules[0].Statement.ManagedRuleGroupStatement.RuleActionOverrides[0].ActionToUse.Challenge: CAPTCHA and Challenge"},
		{"duplicate priority", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":1,"Action":{"Block":{}},"Statement":{"GeoMatchStatement":{"CountryCodes":["US"]}}},{"Name":"s","Priority":1,"Action":{"Block":{}},"Statement":{"GeoMatchStatement":{"CountryCodes":["US"]}}}]}`,
			"Rules[1].Priority: priority 1 is also rule \"r\"'s"},
		{"no statement", oneRule(`{}`), "Rules[0].Statement: a statement is required"},
		{"two statements", oneRule(`{"GeoMatchStatement":{"CountryCodes":["US"]},"XssMatchStatement":{"FieldToMatch":{"UriPath":{}},"TextTransformations":[]}}`),
			"Rules[0].Statement: exactly one statement, not 2"},
		{"positional", bm(`"SearchString":"a","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"NEAR"`),
			"ByteMatchStatement.PositionalConstraint: \"NEAR\" is not one of"},
		{"transformation", bm(`"SearchString":"a","FieldToMatch":{"UriPath":{}},"TextTransformations":[{"Priority":0,"Type":"ROT13"}],"PositionalConstraint":"CONTAINS"`),
			"ByteMatchStatement.TextTransformations[0].Type: unknown transformation \"ROT13\""},
		{"no field", bm(`"SearchString":"a","FieldToMatch":{},"TextTransformations":[],"PositionalConstraint":"CONTAINS"`),
			"ByteMatchStatement.FieldToMatch: one field to match is required"},
		{"ja3", bm(`"SearchString":"a","FieldToMatch":{"JA3Fingerprint":{"FallbackBehavior":"MATCH"}},"TextTransformations":[],"PositionalConstraint":"CONTAINS"`),
			"FieldToMatch.JA3Fingerprint: not supported by Strata"},
		{"contains word", bm(`"SearchString":"a b","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"CONTAINS_WORD"`),
			"SearchString: CONTAINS_WORD needs a word"},
		{"regex", oneRule(`{"RegexMatchStatement":{"RegexString":"(a)\\1","FieldToMatch":{"UriPath":{}},"TextTransformations":[]}}`),
			"RegexMatchStatement.RegexString: error parsing regexp"},
		{"rate limit", oneRule(`{"RateBasedStatement":{"Limit":5,"AggregateKeyType":"IP"}}`), "RateBasedStatement.Limit: 5 is out of 10"},
		{"rate window", oneRule(`{"RateBasedStatement":{"Limit":50,"EvaluationWindowSec":30,"AggregateKeyType":"IP"}}`),
			"RateBasedStatement.EvaluationWindowSec: 30 is not one of"},
		{"constant", oneRule(`{"RateBasedStatement":{"Limit":50,"AggregateKeyType":"CONSTANT"}}`), "ScopeDownStatement: CONSTANT needs"},
		{"forwarded", oneRule(`{"RateBasedStatement":{"Limit":50,"AggregateKeyType":"FORWARDED_IP"}}`), "ForwardedIPConfig: FORWARDED_IP needs"},
		{"ip custom key alone", oneRule(`{"RateBasedStatement":{"Limit":50,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"IP":{}}]}}`),
			"CustomKeys: IP or ForwardedIP alone"},
		{"nested rate", oneRule(`{"NotStatement":{"Statement":{"RateBasedStatement":{"Limit":50,"AggregateKeyType":"IP"}}}}`),
			"NotStatement.Statement.RateBasedStatement: a rate-based statement can only be a rule's own"},
		{"ip set missing", oneRule(`{"IPSetReferenceStatement":{"ARN":"nope"}}`), "IPSetReferenceStatement.ARN: no IP sets are defined"},
		{"custom code", `{"Name":"a","DefaultAction":{"Block":{"CustomResponse":{"ResponseCode":418}}}}`,
			"DefaultAction.Block.CustomResponse.ResponseCode: 418 is not a status code"},
		{"body key", `{"Name":"a","DefaultAction":{"Block":{"CustomResponse":{"ResponseCode":403,"CustomResponseBodyKey":"x"}}}}`,
			"CustomResponseBodyKey: no custom response body \"x\""},
		{"reserved label", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Count":{}},"RuleLabels":[{"Name":"awswaf:x"}],"Statement":{"GeoMatchStatement":{"CountryCodes":["US"]}}}]}`,
			"Rules[0].RuleLabels[0].Name: \"awswaf:x\": namespace \"awswaf\" is reserved"},
		{"managed with action", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Block":{}},"Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesCommonRuleSet"}}}]}`,
			"Rules[0].Action: a rule with a managed rule group takes OverrideAction"},
		{"unknown managed", `{"Name":"a","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"OverrideAction":{"None":{}},"Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesBotControlRuleSet"}}}]}`,
			"Rules[0].Statement.ManagedRuleGroupStatement: waf: unknown managed rule group AWSManagedRulesBotControlRuleSet"},
		{"country", oneRule(`{"GeoMatchStatement":{"CountryCodes":["usa"]}}`), "GeoMatchStatement.CountryCodes[0]: \"usa\" is not an ISO"},
		{"geo forwarded without db", oneRule(`{"GeoMatchStatement":{"CountryCodes":["US"],"ForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"MATCH"}}}`),
			"ForwardedIPConfig: needs a geo database"},
		{"body limit", `{"Name":"a","DefaultAction":{"Allow":{}},"AssociationConfig":{"RequestBody":{"CLOUDFRONT":{"DefaultSizeInspectionLimit":"KB_128"}}}}`,
			"AssociationConfig.RequestBody.CLOUDFRONT.DefaultSizeInspectionLimit: \"KB_128\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acl, err := DecodeWebACL([]byte(c.doc))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, err = Compile(acl, Options{Managed: groups})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestDecodeRoundTrip: what DecodeWebACL reads, encoding/json writes back
// in the same shape (the control plane stores it so).
func TestDecodeRoundTrip(t *testing.T) {
	data, _ := os.ReadFile("testdata/aws-get-web-acl.json")
	acl, err := DecodeWebACL(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeWebACL([]byte(mustJSON(acl)))
	if err != nil {
		t.Fatalf("re-encoded ACL does not decode: %v", err)
	}
	if mustJSON(again) != mustJSON(acl) {
		t.Fatalf("round trip changed the ACL:\n%s\n%s", mustJSON(acl), mustJSON(again))
	}
	if acl.Rules[4].Statement.RateBasedStatement.Limit != 100 || acl.CustomResponseBodies["embargo"].ContentType != "TEXT_HTML" {
		t.Fatalf("decoded values wrong: %+v", acl.Rules[4])
	}
	_ = http.StatusOK
}
