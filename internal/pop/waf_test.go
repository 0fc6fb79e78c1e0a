package pop

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/waf"
)

// testWebACL blocks an IP set (127.3.0.0/16), German viewers (with a
// custom response), SQL injection in the query; and counts every request.
const testWebACL = `{"Name":"shop-acl","DefaultAction":{"Allow":{}},
 "CustomResponseBodies":{"no-de":{"ContentType":"TEXT_PLAIN","Content":"not in Germany"}},
 "Rules":[
  {"Name":"count-all","Priority":0,"Action":{"Count":{}},"RuleLabels":[{"Name":"seen"}],
   "Statement":{"SizeConstraintStatement":{"FieldToMatch":{"UriPath":{}},"ComparisonOperator":"GE","Size":0,"TextTransformations":[]}}},
  {"Name":"block-ips","Priority":1,"Action":{"Block":{}},"Statement":{"IPSetReferenceStatement":{"ARN":"bad-ips"}}},
  {"Name":"no-de","Priority":2,"Action":{"Block":{"CustomResponse":{"ResponseCode":403,"CustomResponseBodyKey":"no-de","ResponseHeaders":[{"Name":"x-why","Value":"geo"}]}}},
   "Statement":{"GeoMatchStatement":{"CountryCodes":["DE"]}}},
  {"Name":"sqli","Priority":3,"Action":{"Block":{}},
   "Statement":{"SqliMatchStatement":{"FieldToMatch":{"QueryString":{}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}}
 ]}`

func withWebACL(t *testing.T, doc string) func(*config.Config) {
	acl, err := waf.DecodeWebACL([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) {
		c.IPSets = []config.IPSet{{ID: "bad-ips", Set: waf.IPSet{Name: "bad-ips", IPAddressVersion: "IPV4", Addresses: []string{"127.3.0.0/16"}}}}
		c.WebACLs = []config.WebACL{{ID: "shop-acl", ACL: *acl}}
		c.Distributions[0].WebACLID = "shop-acl"
	}
}

// wafMetrics are the counts of the web ACL of a PoP's first distribution.
func wafMetrics(p *PoP) map[string]waf.RuleMetrics {
	out := map[string]waf.RuleMetrics{}
	for _, m := range p.snap.Load().all[0].waf.prog.Metrics() {
		out[m.Rule] = m
	}
	return out
}

// TestWebACLThroughTiers: the web ACL blocks an IP set, a country (with its
// custom response) and SQL injection at the edge, before any cache or
// origin; it lets others through; and it runs once, at the edge: a parent
// does not evaluate the edge's requests again.
func TestWebACLThroughTiers(t *testing.T) {
	db := testGeoDB(t)
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "object "+r.URL.Path+" seen="+r.Header.Get("X-Amzn-Waf-Seen"))
	}
	eachTopology(t, netOpts{geo: db}, origin, withWebACL(t, testWebACL), func(t *testing.T, n *network) {
		if r := n.send(n.viewer, viewerReq{path: "/a", src: "127.1.0.9"}); r.status != 200 || !strings.HasPrefix(r.body, "object /a") {
			t.Fatalf("US viewer: %d %q", r.status, r.body)
		}
		r := n.send(n.viewer, viewerReq{path: "/a", src: "127.3.0.9"})
		if r.status != 403 || !strings.Contains(r.body, "Request blocked") {
			t.Fatalf("blocked address: %d %q", r.status, r.body)
		}
		r = n.send(n.viewer, viewerReq{path: "/b", src: "127.2.0.9"})
		if r.status != 403 || r.body != "not in Germany" || r.header.Get("X-Why") != "geo" || r.header.Get("Content-Type") != "text/plain" {
			t.Fatalf("DE viewer: %d %q %v", r.status, r.body, r.header)
		}
		if r := n.send(n.viewer, viewerReq{path: "/c?id=1%27%20OR%201=1--", src: "127.1.0.9"}); r.status != 403 {
			t.Fatalf("SQL injection: %d %q", r.status, r.body)
		}
		if r := n.send(n.viewer, viewerReq{path: "/c?id=42", src: "127.1.0.9"}); r.status != 200 {
			t.Fatalf("ordinary query: %d %q", r.status, r.body)
		}
		if c := n.origin.count("/b"); c != 0 {
			t.Errorf("a blocked request reached the origin %d times", c)
		}
		m := wafMetrics(n.pops[n.viewer])
		if m["count-all"].Counted != 5 || m["block-ips"].Blocked != 1 || m["no-de"].Blocked != 1 || m["sqli"].Blocked != 1 ||
			m["ALL"].Allowed != 2 || m["ALL"].Blocked != 3 {
			t.Errorf("edge metrics %+v", m)
		}
		for _, id := range n.regionals() {
			if m := wafMetrics(n.pops[id]); m["count-all"].Counted != 0 || m["ALL"].Allowed != 0 {
				t.Errorf("%s evaluated the edge's requests again: %+v", id, m)
			}
		}
		s := n.pops[n.viewer].snap.Load().all[0].waf.prog
		got := s.Sampled(s.MetricName(), n.clock.Now().Add(-time.Minute), n.clock.Now().Add(time.Minute), 100)
		blocked := 0
		for _, sr := range got.SampledRequests {
			if sr.Action == "BLOCK" {
				blocked++
			}
		}
		if blocked != 3 {
			t.Errorf("%d blocked requests sampled, want 3: %+v", blocked, got)
		}
	})
}

// TestWebACLInspectsBody: a body statement sees the first 16 KiB of a POST
// body; an attack in it is refused before the origin; a benign body larger
// than the limit reaches the origin whole, byte for byte, whether its
// length was announced or not.
func TestWebACLInspectsBody(t *testing.T) {
	const acl = `{"Name":"body","DefaultAction":{"Allow":{}},"Rules":[
	 {"Name":"sqli-body","Priority":0,"Action":{"Block":{}},
	  "Statement":{"SqliMatchStatement":{"FieldToMatch":{"Body":{"OversizeHandling":"CONTINUE"}},"TextTransformations":[{"Priority":0,"Type":"URL_DECODE"}]}}}]}`
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "stored") }, withWebACL(t, acl))
	if r := w.doBody("POST", "/login", strings.NewReader("user=admin%27%20OR%201=1--&pass=x"), "Content-Type", "application/x-www-form-urlencoded"); r.status != 403 {
		t.Fatalf("SQL injection in the body: %d %q", r.status, r.body)
	}
	if c := w.origin.count("/login"); c != 0 {
		t.Fatalf("the refused request reached the origin")
	}
	big := strings.Repeat(`{"item":42,"note":"deliver after five"},`, 1000) // 40 KB
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(strings.NewReader(big)) // no length: sent chunked
		}
		if r := w.doBody("POST", "/upload", body, "Content-Type", "application/json"); r.status != 200 || r.body != "stored" {
			t.Fatalf("benign large body (chunked %v): %d %q", chunked, r.status, r.body)
		}
		if got := string(w.origin.lastBody("/upload")); got != big {
			t.Fatalf("the origin got %d bytes, want %d (chunked %v)", len(got), len(big), chunked)
		}
	}
}
