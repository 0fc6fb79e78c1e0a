package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const wafBase = `
distributions:
  - id: shop
    webACLId: %s
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o}
`

func TestWebACLResources(t *testing.T) {
	exported, err := os.ReadFile("../waf/testdata/aws-get-web-acl.json")
	if err != nil {
		t.Fatal(err)
	}
	ipset, _ := os.ReadFile("../waf/testdata/aws-get-ip-set.json")
	regex, _ := os.ReadFile("../waf/testdata/aws-get-regex-pattern-set.json")
	// The AWS exports, unchanged, with Strata's id added in front.
	withID := func(id string, doc []byte) string {
		return `{"id":"` + id + `",` + strings.TrimPrefix(strings.TrimSpace(string(doc)), "{")
	}
	doc := `{"webACLs":[` + withID("shop-acl", exported) + `],"ipSets":[` + withID("bad", ipset) + `],` +
		`"regexPatternSets":[` + withID("admin", regex) + `],` +
		`"distributions":[{"id":"shop","webACLId":"arn:aws:wafv2:us-east-1:123456789012:global/webacl/shop-prod/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",` +
		`"origins":[{"id":"o","url":"http://127.0.0.1:9000"}],"defaultCacheBehavior":{"targetOriginId":"o"}}]}`
	_, err = Parse([]byte(doc), "exported")
	// AWS's Common rule set names its rules (SizeRestrictions_BODY); the
	// CRS groups name theirs by CRS id: the override is refused, by name.
	if err == nil || !strings.Contains(err.Error(), "webACLs[0].Rules[5].Statement.ManagedRuleGroupStatement (line 1):") ||
		!strings.Contains(err.Error(), `RuleActionOverrides[0]: group AWSManagedRulesCommonRuleSet has no rule "SizeRestrictions_BODY"`) {
		t.Fatalf("an override of an AWS rule name is not refused by name: %v", err)
	}
	// Overriding a CRS rule of the group instead, the export loads with its
	// two managed rule groups.
	crsNamed, err := Parse([]byte(strings.Replace(doc, `"SizeRestrictions_BODY"`, `"941100"`, 1)), "exported")
	if err != nil {
		t.Fatalf("the export with a CRS rule override does not load: %v", err)
	}
	if n := len(crsNamed.WebACLs[0].ACL.Rules); n != 9 {
		t.Fatalf("%d rules, want 9", n)
	}
	// Without its two managed rule groups, the export loads as it is.
	var obj map[string]any
	json.Unmarshal([]byte(doc), &obj)
	acl := obj["webACLs"].([]any)[0].(map[string]any)["WebACL"].(map[string]any)
	rules := acl["Rules"].([]any)
	acl["Rules"] = append(append([]any{}, rules[:5]...), rules[7:]...)
	trimmed, _ := json.Marshal(obj)
	cfg, err := Parse(trimmed, "exported")
	if err != nil {
		t.Fatalf("the AWS export does not load: %v", err)
	}
	a := cfg.FindWebACL(cfg.Distributions[0].WebACLID)
	if a == nil || a.ID != "shop-acl" || len(a.ACL.Rules) != 7 || a.ACL.Rules[4].Statement.RateBasedStatement.Limit != 100 {
		t.Fatalf("web ACL by ARN: %+v", a)
	}
	if ws := cfg.Warnings(); len(ws) != 0 {
		t.Errorf("warnings %v", ws)
	}
	// What is stored (MarshalJSON) loads again the same.
	b, err := json.Marshal(cfg.WebACLs[0])
	if err != nil || !strings.HasPrefix(string(b), `{"id":"shop-acl","Name":"shop-prod",`) {
		t.Fatalf("marshal: %v %.80s", err, b)
	}
	var back WebACL
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip differs:\n%s\n%s", b, b2)
	}
}

func TestWebACLErrors(t *testing.T) {
	acl := func(rules string) string {
		return `
webACLs:
  - id: acl
    Name: acl
    DefaultAction: {Allow: {}}
    Rules:
` + rules
	}
	cases := []struct {
		name, doc, want string
	}{
		{"unknown ACL", strings.Replace(wafBase, "%s", "nope", 1), `distributions[0].webACLId (line 4): "nope" is not a web ACL`},
		{"unsupported statement", acl(`
      - Name: r
        Priority: 0
        Action: {Block: {}}
        Statement: {RuleGroupReferenceStatement: {ARN: x}}
`), "webACLs[0].Rules[0].Statement.RuleGroupReferenceStatement (line 11): not supported by Strata"},
		{"unknown field", acl(`
      - Name: r
        Priority: 0
        Action: {Block: {}}
        Statement: {GeoMatchStatement: {CountryCodes: [DE], Colour: red}}
`), "webACLs[0].Rules[0].Statement.GeoMatchStatement.Colour (line 11): unknown field"},
		{"compile error", acl(`
      - Name: r
        Priority: 0
        Action: {Captcha: {}}
        Statement: {GeoMatchStatement: {CountryCodes: [DE]}}
`), "webACLs[0].Rules[0].Action.Captcha (line 10): CAPTCHA and Challenge actions are not supported"},
		{"missing IP set", acl(`
      - Name: r
        Priority: 0
        Action: {Block: {}}
        Statement: {IPSetReferenceStatement: {ARN: missing}}
`), `webACLs[0].Rules[0].Statement.IPSetReferenceStatement.ARN (line 11): no IP set "missing"`},
		{"bad IP set", `
ipSets:
  - id: s
    Name: s
    IPAddressVersion: IPV6
    Addresses: [10.0.0.0/8]
`, `ipSets[0].Addresses[0] (line 6): "10.0.0.0/8" is not an IPV6 address`},
		{"bad regex set", `
regexPatternSets:
  - id: s
    Name: s
    RegularExpressionList: [{RegexString: "(?<=a)b"}]
`, `regexPatternSets[0].RegularExpressionList[0].RegexString (line 5): error parsing regexp`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "t")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant %q", err, c.want)
			}
		})
	}
}
