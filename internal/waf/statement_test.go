package waf

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestStatements runs each statement and field kind against requests that
// must and must not match.
func TestStatements(t *testing.T) {
	byteMatch := func(field, search, pos string, tts ...string) string {
		var tt []string
		for i, x := range tts {
			tt = append(tt, fmt.Sprintf(`{"Priority":%d,"Type":%q}`, i, x))
		}
		return fmt.Sprintf(`{"ByteMatchStatement":{"SearchString":%q,"FieldToMatch":%s,"TextTransformations":[%s],"PositionalConstraint":%q}}`,
			search, field, strings.Join(tt, ","), pos)
	}
	big := strings.Repeat("a", 100)
	manyHeaders := req("GET /")
	for i := range 250 {
		manyHeaders.Header.Add(fmt.Sprintf("X-H%d", i), "v")
	}
	manyHeaders.Header.Add("X-Zz", "needle")
	cases := []struct {
		name  string
		stmt  string
		match []*Request
		miss  []*Request
	}{
		{"uri path exactly", byteMatch(`{"UriPath":{}}`, "/admin", "EXACTLY"),
			[]*Request{req("GET /admin")}, []*Request{req("GET /admin/"), req("GET /Admin")}},
		{"uri path starts/lowercase", byteMatch(`{"UriPath":{}}`, "/admin", "STARTS_WITH", "LOWERCASE"),
			[]*Request{req("GET /ADMIN/x")}, []*Request{req("GET /x/admin")}},
		{"uri path url decoded", byteMatch(`{"UriPath":{}}`, "/a b", "EXACTLY", "URL_DECODE"),
			[]*Request{req("GET /a%20b")}, []*Request{req("GET /a_b")}},
		{"ends with", byteMatch(`{"UriPath":{}}`, ".php", "ENDS_WITH"),
			[]*Request{req("GET /index.php")}, []*Request{req("GET /index.php.html")}},
		{"query string contains", byteMatch(`{"QueryString":{}}`, "debug=1", "CONTAINS"),
			[]*Request{req("GET /?a=2&debug=1")}, []*Request{req("GET /debug=1")}},
		{"contains word", byteMatch(`{"SingleHeader":{"Name":"User-Agent"}}`, "BadBot", "CONTAINS_WORD"),
			[]*Request{req("GET /", "User-Agent: x;BadBot"), req("GET /", "User-Agent: BadBot"), req("GET /", "User-Agent: a BadBot/1.0")}, nil},
		{"contains word, not a word", byteMatch(`{"SingleHeader":{"Name":"user-agent"}}`, "BadBot", "CONTAINS_WORD"),
			nil, []*Request{req("GET /", "User-Agent: BadBots"), req("GET /", "User-Agent: xBadBot"), req("GET /", "User-Agent: BadBot_1"), req("GET /")}},
		{"single header host", byteMatch(`{"SingleHeader":{"Name":"host"}}`, "shop.example.com", "EXACTLY"),
			[]*Request{req("GET /")}, nil},
		{"method", byteMatch(`{"Method":{}}`, "DELETE", "EXACTLY"),
			[]*Request{req("DELETE /x")}, []*Request{req("GET /x")}},
		{"single query argument", byteMatch(`{"SingleQueryArgument":{"Name":"ID"}}`, "7", "EXACTLY"),
			[]*Request{req("GET /?id=1&Id=7"), req("GET /?ID=7")}, []*Request{req("GET /?idx=7"), req("GET /?x=7")}},
		{"all query arguments", byteMatch(`{"AllQueryArguments":{}}`, "evil", "CONTAINS"),
			[]*Request{req("GET /?a=1&b=so-evil")}, []*Request{req("GET /?evil=1")}},
		{"body", byteMatch(`{"Body":{}}`, "secret", "CONTAINS"),
			[]*Request{withBody(req("POST /"), "a secret b", 1000)}, []*Request{withBody(req("POST /"), "nothing", 1000), req("POST /")}},
		{"body beyond the limit, continue", byteMatch(`{"Body":{"OversizeHandling":"CONTINUE"}}`, "secret", "CONTAINS"),
			[]*Request{withBody(req("POST /"), "secret"+big, 10)}, []*Request{withBody(req("POST /"), big+"secret", 10)}},
		{"body oversize match", byteMatch(`{"Body":{"OversizeHandling":"MATCH"}}`, "secret", "CONTAINS"),
			[]*Request{withBody(req("POST /"), big, 10)}, []*Request{withBody(req("POST /"), "small", 10)}},
		{"body oversize no match", byteMatch(`{"Body":{"OversizeHandling":"NO_MATCH"}}`, "a", "CONTAINS"),
			[]*Request{withBody(req("POST /"), "aaa", 10)}, []*Request{withBody(req("POST /"), big, 10)}},
		{"headers all keys and values", byteMatch(`{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"ALL","OversizeHandling":"CONTINUE"}}`, "evil", "CONTAINS", "LOWERCASE"),
			[]*Request{req("GET /", "X-Evil: 1"), req("GET /", "X-A: EVIL")}, []*Request{req("GET /", "X-A: fine")}},
		{"headers keys only", byteMatch(`{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"KEY","OversizeHandling":"CONTINUE"}}`, "x-evil", "EXACTLY"),
			[]*Request{req("GET /", "X-Evil: 1")}, []*Request{req("GET /", "X-A: x-evil")}},
		{"headers included", byteMatch(`{"Headers":{"MatchPattern":{"IncludedHeaders":["X-A"]},"MatchScope":"VALUE","OversizeHandling":"CONTINUE"}}`, "evil", "CONTAINS"),
			[]*Request{req("GET /", "X-A: evil")}, []*Request{req("GET /", "X-B: evil")}},
		{"headers excluded", byteMatch(`{"Headers":{"MatchPattern":{"ExcludedHeaders":["x-a"]},"MatchScope":"VALUE","OversizeHandling":"CONTINUE"}}`, "evil", "CONTAINS"),
			[]*Request{req("GET /", "X-B: evil")}, []*Request{req("GET /", "X-A: evil")}},
		{"headers oversize match", byteMatch(`{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"VALUE","OversizeHandling":"MATCH"}}`, "nope", "EXACTLY"),
			[]*Request{manyHeaders}, []*Request{req("GET /", "X-A: b")}},
		{"headers oversize continue", byteMatch(`{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"VALUE","OversizeHandling":"CONTINUE"}}`, "needle", "EXACTLY"),
			nil, []*Request{manyHeaders}},
		{"cookies", byteMatch(`{"Cookies":{"MatchPattern":{"IncludedCookies":["session"]},"MatchScope":"VALUE","OversizeHandling":"CONTINUE"}}`, "admin", "EXACTLY"),
			[]*Request{req("GET /", "Cookie: a=1; session=admin")}, []*Request{req("GET /", "Cookie: Session=admin"), req("GET /", "Cookie: a=admin")}},
		{"cookie keys", byteMatch(`{"Cookies":{"MatchPattern":{"All":{}},"MatchScope":"KEY","OversizeHandling":"CONTINUE"}}`, "debug", "EXACTLY"),
			[]*Request{req("GET /", "Cookie: x=1;debug=")}, []*Request{req("GET /", "Cookie: x=debug")}},
		{"regex", `{"RegexMatchStatement":{"RegexString":"^/api/v[0-9]+/admin","FieldToMatch":{"UriPath":{}},"TextTransformations":[{"Priority":0,"Type":"NORMALIZE_PATH"}]}}`,
			[]*Request{req("GET /api/v2/admin"), req("GET /api//v2/./admin")}, []*Request{req("GET /api/vX/admin")}},
		{"sqli", `{"SqliMatchStatement":{"FieldToMatch":{"QueryString":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}`,
			[]*Request{req("GET /?id=1%27%20OR%201=1--"), req("GET /?q=1 UNION SELECT password FROM users")},
			[]*Request{req("GET /?q=hello world"), req("GET /?name=O'Brien&page=2")}},
		{"sqli high", `{"SqliMatchStatement":{"FieldToMatch":{"Body":{}},"TextTransformations":[],"SensitivityLevel":"HIGH"}}`,
			[]*Request{withBody(req("POST /"), "user=admin' --", 100)}, []*Request{withBody(req("POST /"), `{"name":"Ada"}`, 100)}},
		{"xss", `{"XssMatchStatement":{"FieldToMatch":{"AllQueryArguments":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]}}`,
			[]*Request{req("GET /?q=%3Cscript%3Ealert(1)%3C/script%3E"), req("GET /?q=&lt;img src=x onerror=alert(1)&gt;")},
			[]*Request{req("GET /?q=a<b and c>d"), req("GET /?q=hello")}},
		{"size of query", `{"SizeConstraintStatement":{"FieldToMatch":{"QueryString":{}},"ComparisonOperator":"GT","Size":10,"TextTransformations":[]}}`,
			[]*Request{req("GET /?" + big)}, []*Request{req("GET /?a=1")}},
		{"size of body is its whole size", `{"SizeConstraintStatement":{"FieldToMatch":{"Body":{"OversizeHandling":"CONTINUE"}},"ComparisonOperator":"GT","Size":50,"TextTransformations":[]}}`,
			[]*Request{withBody(req("POST /"), big, 10)}, []*Request{withBody(req("POST /"), "small", 10)}},
		{"size eq ne le lt ge", `{"AndStatement":{"Statements":[
			{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"EQ","Size":4,"TextTransformations":[]}},
			{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"NE","Size":5,"TextTransformations":[]}},
			{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"LE","Size":4,"TextTransformations":[]}},
			{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"LT","Size":5,"TextTransformations":[]}},
			{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"GE","Size":4,"TextTransformations":[]}}]}}`,
			[]*Request{req("GET /abc")}, []*Request{req("GET /ab"), req("GET /abcd")}},
		{"size after transformation", `{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"EQ","Size":2,"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}`,
			[]*Request{req("GET /%41")}, []*Request{req("GET /AB")}},
		{"geo", `{"GeoMatchStatement":{"CountryCodes":["DE","FR"]}}`,
			[]*Request{from(req("GET /"), "127.2.0.1", "DE")}, []*Request{from(req("GET /"), "127.1.0.1", "US"), from(req("GET /"), "127.9.0.1", "")}},
		{"ip set v4", `{"IPSetReferenceStatement":{"ARN":"v4"}}`,
			[]*Request{from(req("GET /"), "10.1.2.3", ""), from(req("GET /"), "::ffff:10.9.9.9", ""), from(req("GET /"), "192.0.2.1", "")},
			[]*Request{from(req("GET /"), "11.0.0.1", ""), from(req("GET /"), "192.0.2.2", ""), from(req("GET /"), "2001:db8::1", "")}},
		{"ip set v6", `{"IPSetReferenceStatement":{"ARN":"v6"}}`,
			[]*Request{from(req("GET /"), "2001:db8:1::5", "")}, []*Request{from(req("GET /"), "2001:db8:2::5", ""), from(req("GET /"), "10.1.2.3", "")}},
		{"ip set forwarded first", `{"IPSetReferenceStatement":{"ARN":"v4","IPSetForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"NO_MATCH","Position":"FIRST"}}}`,
			[]*Request{req("GET /", "X-Forwarded-For: 10.0.0.1, 8.8.8.8")},
			[]*Request{req("GET /", "X-Forwarded-For: 8.8.8.8, 10.0.0.1"), req("GET /"), req("GET /", "X-Forwarded-For: junk")}},
		{"ip set forwarded last", `{"IPSetReferenceStatement":{"ARN":"v4","IPSetForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"MATCH","Position":"LAST"}}}`,
			[]*Request{req("GET /", "X-Forwarded-For: 8.8.8.8, 10.0.0.1"), req("GET /")}, []*Request{req("GET /", "X-Forwarded-For: 10.0.0.1, 8.8.8.8")}},
		{"ip set forwarded any", `{"IPSetReferenceStatement":{"ARN":"v4","IPSetForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"NO_MATCH","Position":"ANY"}}}`,
			[]*Request{req("GET /", "X-Forwarded-For: 8.8.8.8, 10.0.0.1, 9.9.9.9")}, []*Request{req("GET /", "X-Forwarded-For: 8.8.8.8")}},
		{"regex pattern set", `{"RegexPatternSetReferenceStatement":{"ARN":"arn:aws:wafv2:us-east-1:1:global/regexpatternset/paths/rx1","FieldToMatch":{"UriPath":{}},"TextTransformations":[]}}`,
			[]*Request{req("GET /wp-login.php"), req("GET /xmlrpc.php")}, []*Request{req("GET /index.php")}},
		{"or", `{"OrStatement":{"Statements":[{"GeoMatchStatement":{"CountryCodes":["DE"]}},` + byteMatch(`{"Method":{}}`, "PUT", "EXACTLY") + `]}}`,
			[]*Request{from(req("GET /"), "127.2.0.1", "DE"), req("PUT /")}, []*Request{req("GET /")}},
		{"not", `{"NotStatement":{"Statement":{"GeoMatchStatement":{"CountryCodes":["DE"]}}}}`,
			[]*Request{from(req("GET /"), "127.1.0.1", "US")}, []*Request{from(req("GET /"), "127.2.0.1", "DE")}},
		{"and", `{"AndStatement":{"Statements":[{"GeoMatchStatement":{"CountryCodes":["DE"]}},` + byteMatch(`{"Method":{}}`, "PUT", "EXACTLY") + `]}}`,
			[]*Request{from(req("PUT /"), "127.2.0.1", "DE")}, []*Request{from(req("GET /"), "127.2.0.1", "DE"), req("PUT /")}},
	}
	resolver := MapResolver{
		IPSets: map[string]*IPSet{
			"v4": {Name: "v4", IPAddressVersion: "IPV4", Addresses: []string{"10.0.0.0/8", "192.0.2.1/32"}},
			"v6": {Name: "v6", IPAddressVersion: "IPV6", Addresses: []string{"2001:db8:1::/48"}},
		},
		RegexPatternSets: map[string]*RegexPatternSet{"rx1": {Name: "paths", RegularExpressionList: []Regex{{RegexString: `^/wp-`}, {RegexString: `xmlrpc\.php$`}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := compileJSON(t, oneRule(c.stmt), Options{Resolver: resolver})
			for _, r := range c.match {
				if v := p.Evaluate(r); v.Action != Block {
					t.Errorf("%s %s?%s %v did not match", r.Method, r.Path, r.RawQuery, r.Header)
				}
			}
			for _, r := range c.miss {
				if v := p.Evaluate(r); v.Action != Allow {
					t.Errorf("%s %s?%s %v matched", r.Method, r.Path, r.RawQuery, r.Header)
				}
			}
		})
	}
}

func TestGeoForwarded(t *testing.T) {
	countryOf := func(a netip.Addr) string {
		if a.Is4() && a.As4()[1] == 2 {
			return "DE"
		}
		return ""
	}
	doc := `{"Name":"t","DefaultAction":{"Allow":{}},"Rules":[
	 {"Name":"de","Priority":0,"Action":{"Count":{}},"Statement":{"GeoMatchStatement":{"CountryCodes":["DE"],"ForwardedIPConfig":{"HeaderName":"X-Client-IP","FallbackBehavior":"NO_MATCH"}}}},
	 {"Name":"seen","Priority":1,"Action":{"Block":{}},"Statement":{"LabelMatchStatement":{"Scope":"LABEL","Key":"awswaf:forwardedip:geo:country:DE"}}}]}`
	p := compileJSON(t, doc, Options{CountryOf: countryOf})
	v := p.Evaluate(req("GET /", "X-Client-IP: 127.2.3.4"))
	if v.Action != Block || v.TerminatingRule != "seen" {
		t.Fatalf("forwarded DE: %+v", v)
	}
	if v := p.Evaluate(req("GET /", "X-Client-IP: 127.1.3.4")); v.Action != Allow || !contains(v.Labels, "awswaf:forwardedip:geo:country:XX") {
		t.Fatalf("forwarded unknown: %+v", v)
	}
}

func TestLabelMatch(t *testing.T) {
	cases := []struct {
		scope, key string
		want       bool
	}{
		{"LABEL", "ns1:ns2:name", true},
		{"LABEL", "name", true},
		{"LABEL", "ns2:name", true},
		{"LABEL", "awswaf:111:webacl:t:ns1:ns2:name", true},
		{"LABEL", "ame", false},
		{"LABEL", "ns2", false},
		{"NAMESPACE", "ns1:", true},
		{"NAMESPACE", "ns1:ns2:", true},
		{"NAMESPACE", "ns2", true},
		{"NAMESPACE", "awswaf:111:webacl:t:", true},
		{"NAMESPACE", "name:", false},
		{"NAMESPACE", "ns3:", false},
	}
	for _, c := range cases {
		t.Run(c.scope+" "+c.key, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Name":"t","DefaultAction":{"Allow":{}},"Rules":[
			 {"Name":"tag","Priority":0,"Action":{"Count":{}},"RuleLabels":[{"Name":"ns1:ns2:name"}],"Statement":{"ByteMatchStatement":{"SearchString":"/","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"STARTS_WITH"}}},
			 {"Name":"m","Priority":1,"Action":{"Block":{}},"Statement":{"LabelMatchStatement":{"Scope":%q,"Key":%q}}}]}`, c.scope, c.key)
			p := compileJSON(t, doc, Options{Account: "111"})
			if got := p.Evaluate(req("GET /")).Action == Block; got != c.want {
				t.Fatalf("matched %v, want %v", got, c.want)
			}
		})
	}
}

func TestIPTrieLarge(t *testing.T) {
	s := &IPSet{IPAddressVersion: "IPV4"}
	for i := range 9997 {
		s.Addresses = append(s.Addresses, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	s.Addresses = append(s.Addresses, "172.16.0.0/12", "172.16.5.0/24", "8.8.8.8")
	trie, err := CompileIPSet(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"10.0.0.1", true}, {"10.39.12.255", true}, {"10.39.13.0", false}, {"10.200.0.1", false},
		{"172.31.255.255", true}, {"172.32.0.0", false}, {"172.16.5.9", true}, {"8.8.8.8", true}, {"8.8.8.9", false},
	} {
		if got := trie.contains(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("%s: %v, want %v", c.ip, got, c.want)
		}
	}
	for _, bad := range []string{"0.0.0.0/0", "10.0.0.0/33", "2001:db8::/32", "ten"} {
		if _, err := CompileIPSet(&IPSet{IPAddressVersion: "IPV4", Addresses: []string{bad}}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkIPTrie10k(b *testing.B) {
	s := &IPSet{IPAddressVersion: "IPV4"}
	for i := range 10000 {
		s.Addresses = append(s.Addresses, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	trie, _ := CompileIPSet(s)
	a := netip.MustParseAddr("10.39.15.7")
	b.ReportAllocs()
	for b.Loop() {
		if !trie.contains(a) {
			b.Fatal("miss")
		}
	}
}
