package waf

import (
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// FuzzDecodeWebACL: the decoder never panics; what it accepts and
// Compile accepts evaluates a request to Allow or Block; what it accepts
// encodes back to JSON it accepts again.
func FuzzDecodeWebACL(f *testing.F) {
	data, _ := os.ReadFile("testdata/aws-get-web-acl.json")
	f.Add(string(data))
	f.Add(typicalACL)
	f.Add(oneRule(`{"NotStatement":{"Statement":{"LabelMatchStatement":{"Scope":"NAMESPACE","Key":"a:"}}}}`))
	f.Add(`{"WebACL":{"Name":"x","DefaultAction":{"Block":{}}},"LockToken":"t"}`)
	f.Add(`{"Name":"x","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Count":{}},"Statement":{"RateBasedStatement":{"Limit":10,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"Header":{"Name":"a","TextTransformations":[]}},{"IP":{}}]}}}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		acl, err := DecodeWebACL([]byte(doc))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "waf: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if _, err := DecodeWebACL([]byte(mustJSON(acl))); err != nil {
			t.Fatalf("re-encoded ACL refused: %v\n%s", err, mustJSON(acl))
		}
		p, err := Compile(acl, Options{Managed: groups, Resolver: MapResolver{IPSets: map[string]*IPSet{
			"bad": {Name: "bad", IPAddressVersion: "IPV4", Addresses: []string{"10.0.0.0/8"}}}}})
		if err != nil {
			return
		}
		v := p.Evaluate(req("GET /a?b=c", "X-Forwarded-For: 10.0.0.1"))
		if v.Action != Allow && v.Action != Block {
			t.Fatalf("action %q", v.Action)
		}
	})
}

// FuzzEvaluate sends arbitrary requests through the typical ACL and the
// exported one: no panic, always Allow or Block, and the same request
// twice gets the same verdict (nothing but rate counts changes between).
func FuzzEvaluate(f *testing.F) {
	f.Add("GET", "/p", "id=1%27%20OR%201=1--", "Mozilla/5.0", "session=a", "", "203.0.113.9")
	f.Add("POST", "/login", "", "sqlmap", "", "user=admin%27--", "100.1.2.3")
	f.Add("GET", "/s", "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", "", "<img src=x onerror=alert(1)>", "2001:db8::1")
	f.Add("GET", "/a/../checkout", "a&&=&b=%zz", "bot", "x", "\x00\xff", "::ffff:192.0.2.1")
	typical := typicalProgram(f)
	exported := loadExported(f, Options{})
	f.Fuzz(func(t *testing.T, method, path, query, ua, cookie, body, ip string) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			a = netip.MustParseAddr("203.0.113.9")
		}
		r := &Request{ClientIP: a, Method: method, Path: path, RawQuery: query, Proto: "HTTP/1.1",
			Header: http.Header{"User-Agent": {ua}, "Cookie": {cookie}}, Body: []byte(body), BodySize: int64(len(body))}
		for _, p := range []*Program{typical, exported} {
			v1 := p.Evaluate(r)
			v2 := p.Evaluate(r)
			if v1.Action != Allow && v1.Action != Block {
				t.Fatalf("action %q", v1.Action)
			}
			if v1.TerminatingRule != v2.TerminatingRule && v2.TerminatingRuleType != TypeRateBased {
				t.Fatalf("same request, different verdicts: %s then %s", v1.TerminatingRule, v2.TerminatingRule)
			}
		}
	})
}
