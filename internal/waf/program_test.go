package waf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEvaluationOrder: rules run by Priority (not list order); Count goes
// on and labels; labels are seen only by later rules; the first Allow or
// Block ends; headers from Count and Allow are inserted.
func TestEvaluationOrder(t *testing.T) {
	doc := `{"Name":"order","DefaultAction":{"Block":{"CustomResponse":{"ResponseCode":404,"CustomResponseBodyKey":"gone"}}},
	"CustomResponseBodies":{"gone":{"ContentType":"TEXT_PLAIN","Content":"not here"}},
	"Rules":[
	 {"Name":"allow-api","Priority":20,"Action":{"Allow":{"CustomRequestHandling":{"InsertHeaders":[{"Name":"Route","Value":"api"}]}}},
	  "Statement":{"ByteMatchStatement":{"SearchString":"/api/","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"STARTS_WITH"}}},
	 {"Name":"sees-later-label","Priority":5,"Action":{"Block":{}},
	  "Statement":{"LabelMatchStatement":{"Scope":"LABEL","Key":"late"}}},
	 {"Name":"count-all","Priority":10,"Action":{"Count":{"CustomRequestHandling":{"InsertHeaders":[{"Name":"seen","Value":"1"}]}}},"RuleLabels":[{"Name":"late"}],
	  "Statement":{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"GE","Size":0,"TextTransformations":[]}}},
	 {"Name":"block-labelled-api-admin","Priority":15,"Action":{"Block":{}},
	  "Statement":{"AndStatement":{"Statements":[{"LabelMatchStatement":{"Scope":"LABEL","Key":"late"}},
	   {"ByteMatchStatement":{"SearchString":"/api/admin","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"STARTS_WITH"}}]}}}
	]}`
	p := compileJSON(t, doc, Options{})
	v := p.Evaluate(req("GET /api/items"))
	if v.Action != Allow || v.TerminatingRule != "allow-api" || v.TerminatingRuleType != TypeRegular {
		t.Fatalf("api: %+v", v)
	}
	want := []HeaderNV{{Name: "x-amzn-waf-seen", Value: "1"}, {Name: "x-amzn-waf-route", Value: "api"}}
	if mustJSON(v.InsertHeaders) != mustJSON(want) {
		t.Errorf("inserted %v, want %v", v.InsertHeaders, want)
	}
	if len(v.Matches) != 2 || v.Matches[0].Rule != "count-all" || v.Matches[0].Action != Count {
		t.Errorf("matches %+v", v.Matches)
	}
	if !contains(v.Labels, "awswaf:strata:webacl:order:late") {
		t.Errorf("labels %v", v.Labels)
	}
	v = p.Evaluate(req("GET /api/admin/x"))
	if v.Action != Block || v.TerminatingRule != "block-labelled-api-admin" || v.Response != nil || v.InsertHeaders != nil {
		t.Fatalf("admin: %+v", v)
	}
	v = p.Evaluate(req("GET /other"))
	if v.Action != Block || v.TerminatingRule != DefaultActionRule || v.Response == nil || v.Response.Status != 404 ||
		string(v.Response.Body) != "not here" || v.Response.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("default: %+v", v)
	}
	m := p.Metrics()
	got := map[string]RuleMetrics{}
	for _, x := range m {
		got[x.Rule] = x
	}
	if got["ALL"].Allowed != 1 || got["ALL"].Blocked != 2 || got["count-all"].Counted != 3 ||
		got["allow-api"].Allowed != 1 || got["block-labelled-api-admin"].Blocked != 1 || got["sees-later-label"].Blocked != 0 {
		t.Fatalf("metrics %+v", m)
	}
	if m[1].Rule != "sees-later-label" {
		t.Errorf("metrics not in priority order: %+v", m)
	}
}

// TestManagedGroup: the group's first Block ends; ExcludedRules and
// RuleActionOverrides change rules' actions; OverrideAction Count makes
// the whole group count; a scope-down statement limits it.
func TestManagedGroup(t *testing.T) {
	mk := func(stmt, override string) *Program {
		return compileJSON(t, `{"Name":"m","DefaultAction":{"Allow":{}},"Rules":[{"Name":"crs","Priority":0,"OverrideAction":{`+override+`},
		 "Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesCommonRuleSet"`+stmt+`}}}]}`, Options{Managed: groups})
	}
	attack := req("GET /../x?q=<script>")
	p := mk("", `"None":{}`)
	v := p.Evaluate(attack)
	if v.Action != Block || v.RuleWithinGroup != "CrossSiteScripting_QUERYARGUMENTS" || v.TerminatingRuleType != TypeManaged {
		t.Fatalf("plain group: %+v", v)
	}
	p = mk(`,"ExcludedRules":[{"Name":"CrossSiteScripting_QUERYARGUMENTS"}]`, `"None":{}`)
	v = p.Evaluate(attack)
	if v.Action != Block || v.RuleWithinGroup != "GenericLFI_URIPATH" || v.Matches[0].Action != Count {
		t.Fatalf("excluded: %+v", v)
	}
	p = mk(`,"RuleActionOverrides":[{"Name":"CrossSiteScripting_QUERYARGUMENTS","ActionToUse":{"Count":{}}},{"Name":"GenericLFI_URIPATH","ActionToUse":{"Allow":{}}}]`, `"None":{}`)
	v = p.Evaluate(attack)
	if v.Action != Allow || v.TerminatingRule != "crs" || v.RuleWithinGroup != "GenericLFI_URIPATH" {
		t.Fatalf("overridden: %+v", v)
	}
	p = mk("", `"Count":{}`)
	v = p.Evaluate(attack)
	if v.Action != Allow || v.TerminatingRule != DefaultActionRule || len(v.Matches) != 2 ||
		!contains(v.Labels, "awswaf:managed:aws:AWSManagedRulesCommonRuleSet:CrossSiteScripting_QueryArguments") {
		t.Fatalf("counted group: %+v", v)
	}
	p = mk(`,"ScopeDownStatement":{"NotStatement":{"Statement":{"ByteMatchStatement":{"SearchString":"/..","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"STARTS_WITH"}}}}`, `"None":{}`)
	if v := p.Evaluate(attack); v.Action != Allow {
		t.Fatalf("scoped out: %+v", v)
	}
	if v := p.Evaluate(req("GET /x?q=<script>")); v.Action != Block {
		t.Fatalf("scoped in: %+v", v)
	}
}

func rateACL(stmt string) string {
	return `{"Name":"rl","DefaultAction":{"Allow":{}},"Rules":[{"Name":"limit","Priority":0,"Action":{"Block":{}},"Statement":{"RateBasedStatement":` + stmt + `}}]}`
}

// TestRateBased: a key is limited once it passes the limit within the
// window, released when its old requests leave the window; other keys are
// not; requests out of scope or missing a key component are not counted.
func TestRateBased(t *testing.T) {
	clock := newClock()
	p := compileJSON(t, rateACL(`{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"IP"}`), Options{Now: clock.Now})
	a := func() *Request { return from(req("GET /"), "198.51.100.1", "") }
	for i := range 10 {
		if v := p.Evaluate(a()); v.Action != Allow {
			t.Fatalf("request %d limited", i+1)
		}
		clock.Advance(time.Second)
	}
	v := p.Evaluate(a())
	if v.Action != Block || v.TerminatingRuleType != TypeRateBased || v.Matches[0].RateKey != "198.51.100.1" {
		t.Fatalf("11th request in 11 s: %+v", v)
	}
	if v := p.Evaluate(from(req("GET /"), "198.51.100.2", "")); v.Action != Allow {
		t.Fatal("another address limited")
	}
	// Blocked requests count too (as AWS): keep sending for 30 s, then
	// stop; release comes when fewer than 11 remain within 60 s.
	for range 30 {
		clock.Advance(time.Second)
		p.Evaluate(a())
	}
	clock.Advance(10 * time.Second)
	if v := p.Evaluate(a()); v.Action != Block {
		t.Fatal("released while the window still holds the burst")
	}
	clock.Advance(61 * time.Second)
	if v := p.Evaluate(a()); v.Action != Allow {
		t.Fatalf("not released a window after the burst: %+v", v)
	}
}

func TestRateBasedKeys(t *testing.T) {
	clock := newClock()
	cases := []struct {
		name      string
		stmt      string
		same      func(i int) *Request // all count under one key
		other     *Request             // a different key (or out of scope), never limited
		uncounted bool                 // other is not counted at all
	}{
		{"forwarded ip", `{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"FORWARDED_IP","ForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"NO_MATCH"}}`,
			func(i int) *Request {
				return from(req("GET /", "X-Forwarded-For: 192.0.2.9, 10.0.0."+fmt.Sprint(i)), "10.0.0."+fmt.Sprint(i), "")
			},
			req("GET /", "X-Forwarded-For: 192.0.2.10"), false},
		{"constant with scope-down", `{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"CONSTANT","ScopeDownStatement":{"ByteMatchStatement":{"SearchString":"/search","FieldToMatch":{"UriPath":{}},"TextTransformations":[],"PositionalConstraint":"STARTS_WITH"}}}`,
			func(i int) *Request { return from(req("GET /search?q="+fmt.Sprint(i)), "10.1.0."+fmt.Sprint(i), "") },
			req("GET /home"), true},
		{"custom keys header and ip", `{"Limit":10,"EvaluationWindowSec":120,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"Header":{"Name":"x-api-key","TextTransformations":[{"Priority":0,"Type":"LOWERCASE"}]}},{"IP":{}}]}`,
			func(i int) *Request { return req("GET /x"+fmt.Sprint(i), "X-Api-Key: K"+strings.Repeat("", i)) },
			req("GET /", "X-Api-Key: other"), false},
		{"custom keys missing component", `{"Limit":10,"EvaluationWindowSec":600,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"Cookie":{"Name":"session","TextTransformations":[]}},{"HTTPMethod":{}}]}`,
			func(i int) *Request { return req("POST /", "Cookie: session=abc") },
			req("POST /"), true},
		{"custom keys query, path, label", `{"Limit":10,"EvaluationWindowSec":300,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"QueryArgument":{"Name":"user","TextTransformations":[]}},{"UriPath":{"TextTransformations":[{"Priority":0,"Type":"LOWERCASE"}]}},{"QueryString":{"TextTransformations":[]}}]}`,
			func(i int) *Request { return req("GET /Login?user=bob") },
			req("GET /login?user=alice"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := compileJSON(t, rateACL(c.stmt), Options{Now: clock.Now})
			for i := range 10 {
				if v := p.Evaluate(c.same(i)); v.Action != Allow {
					t.Fatalf("request %d limited", i+1)
				}
			}
			if v := p.Evaluate(c.same(10)); v.Action != Block {
				t.Fatalf("11th request not limited: %+v", v)
			}
			for range 10 {
				if v := p.Evaluate(c.other); v.Action != Allow {
					t.Fatalf("other key limited: %+v", v)
				}
			}
		})
	}
}

func TestSlidingWindowConcurrent(t *testing.T) {
	clock := newClock()
	w := NewSlidingWindow(time.Minute, clock.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				w.Add("k")
				w.Add(fmt.Sprint("g", g))
			}
		}()
	}
	wg.Wait()
	if n := w.Count("k"); n != 8000 {
		t.Fatalf("count %d, want 8000", n)
	}
	clock.Advance(61 * time.Second)
	w.Add("fresh")
	if n := w.Count("k"); n != 0 {
		t.Fatalf("count %d after the window, want 0", n)
	}
	clock.Advance(61 * time.Second)
	w.Add("fresh")
	if w.Keys() > 9 {
		t.Fatalf("%d keys held, idle ones are not dropped", w.Keys())
	}
}

// TestSampledRequests: matched requests are all sampled, others one in
// 16 with that weight, in AWS's shape; a rule with sampling off is left
// out of its own samples.
func TestSampledRequests(t *testing.T) {
	clock := newClock()
	p := loadExported(t, Options{Now: clock.Now})
	start := clock.Now()
	for i := range 32 {
		p.Evaluate(req(fmt.Sprintf("GET /page/%d", i), "User-Agent: Mozilla/5.0"))
		clock.Advance(time.Millisecond)
	}
	p.Evaluate(from(req("GET /x", "User-Agent: curl/8"), "192.0.2.5", "DE"))
	p.Evaluate(req("GET /wp-admin/"))
	end := clock.Now().Add(time.Second)

	all := p.Sampled("shop-prod", start, end, 100)
	if len(all.SampledRequests) != 4 || all.PopulationSize != 34 {
		t.Fatalf("all: %d samples, population %d, want 4 and 34", len(all.SampledRequests), all.PopulationSize)
	}
	s := all.SampledRequests[1] // newest first: wp-admin, then the blocked IP
	if s.Action != "BLOCK" || s.Request.ClientIP != "192.0.2.5" || s.Request.Country != "DE" || s.Request.URI != "/x" ||
		s.Request.Method != "GET" || s.Request.HTTPVersion != "HTTP/1.1" || s.ResponseCodeSent != 403 || s.Weight != 1 {
		t.Fatalf("sample %+v", s)
	}
	if all.SampledRequests[2].Weight != 16 {
		t.Errorf("default-action sample weight %d, want 16", all.SampledRequests[2].Weight)
	}
	if got := p.Sampled("block-bad-ips", start, end, 100); len(got.SampledRequests) != 1 {
		t.Errorf("rule samples: %+v", got)
	}
	if got := p.Sampled("admin-paths", start, end, 100); len(got.SampledRequests) != 0 {
		t.Errorf("a rule with sampling off has samples: %+v", got)
	}
	if got := p.Sampled("shop-prod", end, end.Add(time.Hour), 100); len(got.SampledRequests) != 0 {
		t.Errorf("samples outside the window: %+v", got)
	}
	js := mustJSON(s)
	for _, k := range []string{`"Request":{"ClientIP":`, `"Country":`, `"URI":`, `"HTTPVersion":`, `"Headers":[{"Name":"host"`, `"Weight":`, `"Timestamp":`, `"Action":"BLOCK"`, `"ResponseCodeSent":403`} {
		if !strings.Contains(js, k) {
			t.Errorf("sample JSON lacks %s: %s", k, js)
		}
	}
}

// typicalACL is a web ACL as a site would run it: an IP block list of
// 1,000 ranges, a geo block, a rate limit, bad-bot and admin-path rules,
// SQLi and XSS on the query and body.
const typicalACL = `{"Name":"typical","DefaultAction":{"Allow":{}},"Rules":[
 {"Name":"ips","Priority":0,"Action":{"Block":{}},"Statement":{"IPSetReferenceStatement":{"ARN":"bad"}}},
 {"Name":"geo","Priority":1,"Action":{"Block":{}},"Statement":{"GeoMatchStatement":{"CountryCodes":["KP","IR","SY"]}}},
 {"Name":"rate","Priority":2,"Action":{"Block":{}},"Statement":{"RateBasedStatement":{"Limit":2000000,"EvaluationWindowSec":300,"AggregateKeyType":"IP"}}},
 {"Name":"bots","Priority":3,"Action":{"Block":{}},"Statement":{"ByteMatchStatement":{"SearchString":"sqlmap","FieldToMatch":{"SingleHeader":{"Name":"user-agent"}},"TextTransformations":[{"Priority":0,"Type":"LOWERCASE"}],"PositionalConstraint":"CONTAINS"}}},
 {"Name":"admin","Priority":4,"Action":{"Block":{}},"Statement":{"RegexMatchStatement":{"RegexString":"^/(wp-admin|phpmyadmin)","FieldToMatch":{"UriPath":{}},"TextTransformations":[{"Priority":0,"Type":"LOWERCASE"}]}}},
 {"Name":"sqli","Priority":5,"Action":{"Block":{}},"Statement":{"OrStatement":{"Statements":[
   {"SqliMatchStatement":{"FieldToMatch":{"AllQueryArguments":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]}},
   {"SqliMatchStatement":{"FieldToMatch":{"Body":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}]}}},
 {"Name":"xss","Priority":6,"Action":{"Block":{}},"Statement":{"OrStatement":{"Statements":[
   {"XssMatchStatement":{"FieldToMatch":{"AllQueryArguments":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]}},
   {"XssMatchStatement":{"FieldToMatch":{"Body":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}]}}}
]}`

func typicalProgram(tb testing.TB) *Program {
	set := &IPSet{Name: "bad", IPAddressVersion: "IPV4"}
	for i := range 1000 {
		set.Addresses = append(set.Addresses, fmt.Sprintf("100.%d.%d.0/24", i/256, i%256))
	}
	return compileJSON(tb, typicalACL, Options{Resolver: MapResolver{IPSets: map[string]*IPSet{"bad": set}}})
}

func TestTypicalACL(t *testing.T) {
	p := typicalProgram(t)
	if !p.InspectsBody() {
		t.Error("InspectsBody false for an ACL with Body statements")
	}
	if compileJSON(t, oneRule(`{"GeoMatchStatement":{"CountryCodes":["US"]}}`), Options{}).InspectsBody() {
		t.Error("InspectsBody true for a geo rule")
	}
	for _, c := range []struct {
		r    *Request
		rule string
	}{
		{req("GET /products?id=42&sort=price", "User-Agent: Mozilla/5.0"), DefaultActionRule},
		{withBody(req("POST /api/orders", "Content-Type: application/json"), `{"item":42,"note":"deliver after 5 o'clock"}`, 16384), DefaultActionRule},
		{from(req("GET /"), "100.1.2.3", ""), "ips"},
		{from(req("GET /"), "203.0.113.1", "SY"), "geo"},
		{req("GET /", "User-Agent: sqlmap/1.7"), "bots"},
		{req("GET /WP-Admin/"), "admin"},
		{req("GET /p?id=1%20UNION%20SELECT%20password%20FROM%20users"), "sqli"},
		{withBody(req("POST /login"), "user=admin%27%20OR%201=1--&pass=x", 16384), "sqli"},
		{req("GET /s?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), "xss"},
	} {
		if v := p.Evaluate(c.r); v.TerminatingRule != c.rule {
			t.Errorf("%s %s: %s by %s, want %s", c.r.Method, c.r.Path, v.Action, v.TerminatingRule, c.rule)
		}
	}
}

// BenchmarkEvaluate is a benign request through the typical ACL (every
// rule runs: the worst case for an allowed request).
func BenchmarkEvaluate(b *testing.B) {
	p := typicalProgram(b)
	r := withBody(req("POST /api/orders?id=42&sort=price&page=3", "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
		"Accept: text/html,application/xhtml+xml", "Accept-Language: en-US,en;q=0.9", "Cookie: session=abc123; theme=dark",
		"Content-Type: application/json"), `{"item":42,"quantity":3,"note":"please deliver after 5pm","address":{"street":"1 Main St","city":"Springfield"}}`, 16384)
	b.ReportAllocs()
	for b.Loop() {
		if v := p.Evaluate(r); v.Action != Allow {
			b.Fatal(v.TerminatingRule)
		}
	}
}

func TestLogRecord(t *testing.T) {
	clock := newClock()
	p := loadExported(t, Options{Now: clock.Now})
	r := req("GET /x?q=<script>alert(1)</script>", "User-Agent: Googlebot")
	r.ID = "req-1"
	v := p.Evaluate(r)
	rec := p.LogRecord(r, v, "shop-prod-id", "E2EXAMPLE")
	js := mustJSON(rec)
	for _, k := range []string{`"timestamp":1796212800000`, `"formatVersion":1`, `"webaclId":"shop-prod-id"`,
		`"terminatingRuleId":"AWS-AWSManagedRulesCommonRuleSet"`, `"terminatingRuleType":"MANAGED_RULE_GROUP"`, `"action":"BLOCK"`,
		`"httpSourceName":"CF"`, `"httpSourceId":"E2EXAMPLE"`,
		`"ruleGroupList":[{"ruleGroupId":"AWS-AWSManagedRulesCommonRuleSet","terminatingRule":{"ruleId":"CrossSiteScripting_QUERYARGUMENTS","action":"BLOCK"}`,
		`"nonTerminatingMatchingRules":[{"ruleId":"tag-bots","action":"COUNT"}]`, `"args":"q=\u003cscript\u003ealert(1)\u003c/script\u003e"`,
		`"requestId":"req-1"`, `"responseCodeSent":403`, `{"name":"awswaf:123456789012:webacl:shop-prod:traffic:bot"}`} {
		if !strings.Contains(js, k) {
			t.Errorf("log record lacks %s:\n%s", k, js)
		}
	}
	for range 100 {
		p.Evaluate(from(req("POST /login"), "203.0.113.50", "US"))
	}
	r = from(req("POST /login"), "203.0.113.50", "US")
	v = p.Evaluate(r)
	js = mustJSON(p.LogRecord(r, v, "id", "E2"))
	if !strings.Contains(js, `"rateBasedRuleList":[{"rateBasedRuleId":"login-rate-limit","limitKey":"IP","maxRateAllowed":100,"limitValue":"203.0.113.50"}]`) ||
		!strings.Contains(js, `"responseCodeSent":429`) {
		t.Errorf("rate-limited log record: %s", js)
	}
}

// TestRateCounterReuse: a caller that keeps counters by RateRule keeps the
// counts across recompilations of the same rule, and starts afresh when a
// rate setting changes (the fingerprint differs).
func TestRateCounterReuse(t *testing.T) {
	clock := newClock()
	kept := map[RateRule]RateCounter{}
	opts := Options{Now: clock.Now, RateCounter: func(r RateRule) RateCounter {
		if c, ok := kept[r]; ok {
			return c
		}
		c := NewSlidingWindow(r.Window, clock.Now)
		kept[r] = c
		return c
	}}
	stmt := `{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"IP"}`
	p := compileJSON(t, rateACL(stmt), opts)
	for range 10 {
		p.Evaluate(req("GET /"))
	}
	p = compileJSON(t, rateACL(stmt), opts)
	if v := p.Evaluate(req("GET /")); v.Action != Block {
		t.Fatal("counts lost on recompiling the same rule")
	}
	p = compileJSON(t, rateACL(`{"Limit":10,"EvaluationWindowSec":120,"AggregateKeyType":"IP"}`), opts)
	if v := p.Evaluate(req("GET /")); v.Action != Allow {
		t.Fatal("counts kept across a changed window")
	}
	if len(kept) != 2 {
		t.Fatalf("%d counters", len(kept))
	}
}
