package waf

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// req builds a request from "METHOD /path?query" and header lines.
func req(line string, headers ...string) *Request {
	method, target, _ := strings.Cut(line, " ")
	path, query, _ := strings.Cut(target, "?")
	r := &Request{Method: method, Path: path, RawQuery: query, Proto: "HTTP/1.1", Header: http.Header{},
		ClientIP: netip.MustParseAddr("203.0.113.9"), BodySize: -1, Host: "shop.example.com"}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	return r
}

func from(r *Request, ip, country string) *Request {
	r.ClientIP = netip.MustParseAddr(ip)
	r.Country = country
	return r
}

func withBody(r *Request, body string, limit int) *Request {
	r.BodySize = int64(len(body))
	if len(body) > limit {
		body, r.BodyOversize = body[:limit], true
	}
	r.Body = []byte(body)
	return r
}

// fakeClock is a settable clock for rate windows and samples.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// group is a managed rule group for tests: each rule matches requests
// whose path contains its trigger.
type group struct {
	rules []groupTestRule
}

type groupTestRule struct {
	name, trigger string
	action        Action
	labels        []string
}

func (g *group) Inspect(r *Request) []ManagedMatch {
	var out []ManagedMatch
	for _, rule := range g.rules {
		if strings.Contains(r.Path+"?"+r.RawQuery, rule.trigger) {
			out = append(out, ManagedMatch{Rule: rule.name, Action: rule.action, Labels: rule.labels, Msg: "found " + rule.trigger})
		}
	}
	return out
}

// groups is the test factory: AWSManagedRulesCommonRuleSet and
// AWSManagedRulesSQLiRuleSet with a few rules.
func groups(s *ManagedRuleGroupStatement, bodyLimit int) (ManagedGroup, error) {
	switch s.Name {
	case "AWSManagedRulesCommonRuleSet":
		return &group{rules: []groupTestRule{
			{name: "SizeRestrictions_BODY", trigger: "bigbody"},
			{name: "CrossSiteScripting_QUERYARGUMENTS", trigger: "<script", labels: []string{"CrossSiteScripting_QueryArguments"}},
			{name: "GenericLFI_URIPATH", trigger: "../"},
		}}, nil
	case "AWSManagedRulesSQLiRuleSet":
		return &group{rules: []groupTestRule{{name: "SQLi_QUERYARGUMENTS", trigger: "union select", labels: []string{"SQLi_QueryArguments"}}}}, nil
	}
	return nil, &DecodeError{Msg: "unknown managed rule group " + s.Name}
}

// compileJSON decodes and compiles a bare web ACL.
func compileJSON(t testing.TB, doc string, opts Options) *Program {
	t.Helper()
	acl, err := DecodeWebACL([]byte(doc))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	p, err := Compile(acl, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

// oneRule wraps a statement (JSON) into a web ACL that blocks on it.
func oneRule(stmt string) string {
	return `{"Name":"t","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Block":{}},"Statement":` + stmt + `}]}`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
