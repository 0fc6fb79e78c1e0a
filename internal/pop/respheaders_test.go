package pop

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// CORS header names, as the tests check them.
const (
	hACAO = "Access-Control-Allow-Origin"
	hACAC = "Access-Control-Allow-Credentials"
	hACEH = "Access-Control-Expose-Headers"
	hACAM = "Access-Control-Allow-Methods"
	hACAH = "Access-Control-Allow-Headers"
	hACMA = "Access-Control-Max-Age"
)

// rhpWorldIn is a world of topology tp whose default behavior uses the
// response headers policy rp (declared as "rhp"), or the managed policy named
// by id when rp is nil. mutate may change the config further.
func rhpWorldIn(t *testing.T, tp topology, h http.HandlerFunc, rp *config.ResponseHeadersPolicy, id string, mutate func(*config.Config)) *world {
	t.Helper()
	return tp.world(t, h, func(c *config.Config) {
		if rp != nil {
			rp.ID = "rhp"
			c.ResponseHeadersPolicies = append(c.ResponseHeadersPolicies, *rp)
			id = "rhp"
		}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = id
		if mutate != nil {
			mutate(c)
		}
	})
}

// cacheableOK answers 200 with a body, cacheable for an hour.
func cacheableOK(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=3600")
	io.WriteString(w, "body "+r.URL.Path)
}

func expectHeader(t *testing.T, r response, name, want string) {
	t.Helper()
	if got := strings.Join(r.header.Values(name), ", "); got != want {
		t.Fatalf("%s = %q, want %q (status %d, X-Cache %q)", name, got, want, r.status, r.header.Get("X-Cache"))
	}
}

func hasVary(r response, name string) bool {
	for _, v := range r.header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSSimpleRequests(t *testing.T) { throughTiers(t, testCORSSimpleRequests) }

func testCORSSimpleRequests(t *testing.T, tp topology) {
	w := rhpWorldIn(t, tp, cacheableOK, &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{
		AccessControlAllowOrigins:     []string{"https://app.example.com", "https://*.example.org", "http://localhost:3000"},
		AccessControlAllowHeaders:     []string{"X-Token"},
		AccessControlAllowMethods:     []string{"GET", "POST"},
		AccessControlAllowCredentials: true,
		AccessControlExposeHeaders:    []string{"ETag", "X-Request-Id"},
		AccessControlMaxAgeSec:        600,
	}}, "", nil)
	tests := []struct {
		name, origin string
		allowed      bool
	}{
		{"exact", "https://app.example.com", true},
		{"exact, other case", "https://APP.example.com", true},
		{"exact with port", "http://localhost:3000", true},
		{"wildcard", "https://cdn.example.org", true},
		{"wildcard, two labels", "https://a.b.example.org", true},
		{"wildcard, bare domain", "https://example.org", false},
		{"wildcard, other scheme", "http://cdn.example.org", false},
		{"wildcard, other port", "https://cdn.example.org:8443", false},
		{"wildcard, suffix trick", "https://evil-example.org", false},
		{"other port", "http://localhost:3001", false},
		{"other origin", "https://evil.example", false},
		{"null", "null", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.get("/obj", "Origin", tt.origin)
			if r.status != 200 || r.body != "body /obj" {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
			if i > 0 {
				expectXCache(t, r, "Hit") // computed per request, never stored
			}
			if !hasVary(r, "Origin") {
				t.Fatalf("no Vary: Origin: %q", r.header.Values("Vary"))
			}
			if !tt.allowed {
				for _, h := range []string{hACAO, hACAC, hACEH, hACAM, hACAH, hACMA} {
					if v := r.header.Values(h); len(v) > 0 {
						t.Fatalf("%s = %q for a refused origin", h, v)
					}
				}
				return
			}
			expectHeader(t, r, hACAO, tt.origin)
			expectHeader(t, r, hACAC, "true")
			expectHeader(t, r, hACEH, "ETag, X-Request-Id")
			// Preflight headers only go to preflights.
			for _, h := range []string{hACAM, hACAH, hACMA} {
				if v := r.header.Values(h); len(v) > 0 {
					t.Fatalf("%s = %q on a simple request", h, v)
				}
			}
		})
	}
	// No Origin: not a CORS request.
	r := w.get("/obj")
	if v := r.header.Values(hACAO); len(v) > 0 {
		t.Fatalf("ACAO %q without Origin", v)
	}
	if c := w.origin.count("/obj"); c != 1 {
		t.Fatalf("origin saw %d requests, want 1", c)
	}
}

func TestCORSAnyOrigin(t *testing.T) { throughTiers(t, testCORSAnyOrigin) }

func testCORSAnyOrigin(t *testing.T, tp topology) {
	w := rhpWorldIn(t, tp, cacheableOK, nil, config.ManagedSimpleCORS, nil)
	r := w.get("/a", "Origin", "https://anyone.example")
	expectHeader(t, r, hACAO, "*")
	if hasVary(r, "Origin") {
		t.Fatalf("Vary: Origin with a fixed \"*\": %q", r.header.Values("Vary"))
	}
	for _, h := range []string{hACAC, hACEH, hACAM} {
		if v := r.header.Values(h); len(v) > 0 {
			t.Fatalf("SimpleCORS sent %s = %q", h, v)
		}
	}
	if r := w.get("/a"); len(r.header.Values(hACAO)) > 0 {
		t.Fatalf("ACAO without Origin: %q", r.header.Values(hACAO))
	}
	// SimpleCORS has no preflight part: a preflight goes to the origin.
	r = w.do("OPTIONS", "/pf", "Origin", "https://anyone.example", "Access-Control-Request-Method", "PUT")
	if c := w.origin.count("/pf"); c != 1 {
		t.Fatalf("SimpleCORS preflight: origin saw %d requests, want 1", c)
	}
	expectHeader(t, r, hACAO, "*")
}

func TestCORSPreflightAtTheEdge(t *testing.T) { throughTiers(t, testCORSPreflightAtTheEdge) }

func testCORSPreflightAtTheEdge(t *testing.T, tp topology) {
	w := rhpWorldIn(t, tp, cacheableOK, &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{
		AccessControlAllowOrigins:  []string{"https://app.example.com"},
		AccessControlAllowHeaders:  []string{"Content-Type", "X-Token"},
		AccessControlAllowMethods:  []string{"GET", "POST", "PUT"},
		AccessControlExposeHeaders: []string{"ETag"},
		AccessControlMaxAgeSec:     600,
	}}, "", func(c *config.Config) {
		c.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/ro/*", TargetOriginID: "o",
			CachePolicyID: "p", ResponseHeadersPolicyID: "rhp"}} // GET, HEAD only
	})
	r := w.do("OPTIONS", "/api/x", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type, x-token")
	if r.status != http.StatusNoContent || r.body != "" {
		t.Fatalf("preflight: status %d body %q", r.status, r.body)
	}
	expectHeader(t, r, hACAO, "https://app.example.com")
	expectHeader(t, r, hACAM, "GET, POST, PUT")
	expectHeader(t, r, hACAH, "Content-Type, X-Token")
	expectHeader(t, r, hACMA, "600")
	if !hasVary(r, "Origin") {
		t.Fatalf("no Vary: Origin")
	}
	if !strings.Contains(r.header.Get("Cache-Status"), "detail=cors-preflight") {
		t.Fatalf("Cache-Status %q", r.header.Get("Cache-Status"))
	}
	// A refused origin gets an answer without CORS headers: the browser
	// fails the preflight; the origin is still not asked.
	r = w.do("OPTIONS", "/api/x", "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT")
	if r.status != http.StatusNoContent || len(r.header.Values(hACAO)) > 0 || len(r.header.Values(hACAM)) > 0 {
		t.Fatalf("refused preflight: status %d headers %v", r.status, r.header)
	}
	if c := w.origin.count("/api/x"); c != 0 {
		t.Fatalf("preflights reached the origin %d times", c)
	}
	// An OPTIONS request that is not a preflight goes to the origin.
	w.do("OPTIONS", "/api/x", "Origin", "https://app.example.com")
	if c := w.origin.count("/api/x"); c != 1 {
		t.Fatalf("plain OPTIONS: origin saw %d requests, want 1", c)
	}
	// A behavior that does not allow OPTIONS refuses the preflight, as it
	// refuses any OPTIONS request, without asking the origin.
	r = w.do("OPTIONS", "/ro/x", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
	if r.status != http.StatusMethodNotAllowed || w.origin.count("/ro/x") != 0 {
		t.Fatalf("preflight on a GET-only behavior: status %d, origin count %d", r.status, w.origin.count("/ro/x"))
	}
}

func TestCORSOriginOverride(t *testing.T) { throughTiers(t, testCORSOriginOverride) }

func testCORSOriginOverride(t *testing.T, tp topology) {
	fromOrigin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set(hACAO, "https://origin-choice.example")
		w.Header().Set(hACEH, "X-From-Origin")
		w.Header().Set(hACAM, "GET")
		io.WriteString(w, "x")
	}
	cors := func(override bool) *config.CORSConfig {
		return &config.CORSConfig{AccessControlAllowOrigins: []string{"https://app.example.com"},
			AccessControlAllowHeaders: []string{"*"}, AccessControlExposeHeaders: []string{"ETag"},
			AccessControlAllowCredentials: true, OriginOverride: override}
	}
	w := tp.world(t, fromOrigin, func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "keep", CORS: cors(false)}, {ID: "replace", CORS: cors(true)}}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "keep"
		c.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/replace/*", TargetOriginID: "o",
			CachePolicyID: "p", ResponseHeadersPolicyID: "replace"}}
	})
	for _, path := range []string{"/keep/a", "/keep/a"} { // miss, then hit
		r := w.get(path, "Origin", "https://app.example.com")
		expectHeader(t, r, hACAO, "https://origin-choice.example")
		expectHeader(t, r, hACEH, "X-From-Origin")
		expectHeader(t, r, hACAC, "true") // the origin did not send it: added
	}
	for _, path := range []string{"/replace/a", "/replace/a"} {
		r := w.get(path, "Origin", "https://app.example.com")
		expectHeader(t, r, hACAO, "https://app.example.com")
		expectHeader(t, r, hACEH, "ETag")
		expectHeader(t, r, hACAC, "true")
		expectHeader(t, r, hACAM, "GET") // not a header this policy sets
	}
}

func TestSecurityHeaders(t *testing.T) { throughTiers(t, testSecurityHeaders) }

func testSecurityHeaders(t *testing.T, tp topology) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if r.URL.Query().Get("sends") == "1" {
			for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
				"Referrer-Policy", "Content-Security-Policy", "X-XSS-Protection"} {
				w.Header().Set(h, "origin")
			}
		}
		io.WriteString(w, "x")
	}
	all := func(override bool) *config.SecurityHeadersConfig {
		return &config.SecurityHeadersConfig{
			StrictTransportSecurity: &config.StrictTransportSecurity{AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Preload: true, Override: override},
			ContentTypeOptions:      &config.ContentTypeOptions{Override: override},
			FrameOptions:            &config.FrameOptions{FrameOption: "DENY", Override: override},
			ReferrerPolicy:          &config.ReferrerPolicyHeader{ReferrerPolicy: "no-referrer", Override: override},
			ContentSecurityPolicy:   &config.ContentSecurityPolicyHeader{ContentSecurityPolicy: "default-src 'self'; img-src *", Override: override},
			XSSProtection:           &config.XSSProtection{Protection: true, ReportURI: "https://r.example/xss", Override: override},
		}
	}
	w := tp.world(t, origin, func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{
			{ID: "keep", SecurityHeaders: all(false)},
			{ID: "replace", SecurityHeaders: all(true)},
			{ID: "xss-block", SecurityHeaders: &config.SecurityHeadersConfig{XSSProtection: &config.XSSProtection{Protection: true, ModeBlock: true}}},
			{ID: "xss-off", SecurityHeaders: &config.SecurityHeadersConfig{XSSProtection: &config.XSSProtection{}}},
		}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "keep"
		for _, id := range []string{"replace", "xss-block", "xss-off"} {
			c.Distributions[0].CacheBehaviors = append(c.Distributions[0].CacheBehaviors, config.CacheBehavior{
				PathPattern: "/" + id + "/*", TargetOriginID: "o", CachePolicyID: "p", ResponseHeadersPolicyID: id})
		}
	})
	want := map[string]string{
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"Content-Security-Policy":   "default-src 'self'; img-src *",
		"X-XSS-Protection":          "1; report=https://r.example/xss",
	}
	for _, tt := range []struct {
		path        string
		originValue bool // the origin's header is what the viewer gets
	}{
		{"/keep/a", false}, {"/keep/a?sends=1", true}, {"/replace/a", false}, {"/replace/a?sends=1", false},
	} {
		for range 2 { // miss, then hit
			r := w.get(tt.path)
			for h, v := range want {
				if tt.originValue {
					v = "origin"
				}
				expectHeader(t, r, h, v)
			}
		}
	}
	expectHeader(t, w.get("/xss-block/a"), "X-XSS-Protection", "1; mode=block")
	expectHeader(t, w.get("/xss-off/a"), "X-XSS-Protection", "0")
}

func TestCustomAndRemovedHeaders(t *testing.T) { throughTiers(t, testCustomAndRemovedHeaders) }

func testCustomAndRemovedHeaders(t *testing.T, tp topology) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("X-Keep", "origin")
		w.Header().Set("X-Replace", "origin")
		w.Header().Set("X-Powered-By", "php")
		w.Header().Set("Server", "apache")
		w.Header().Set("X-Frame-Options", "ALLOW-FROM https://old.example")
		io.WriteString(w, "x")
	}
	w := rhpWorldIn(t, tp, origin, &config.ResponseHeadersPolicy{
		CustomHeaders: []config.CustomResponseHeader{
			{Header: "X-Added", Value: "policy"},
			{Header: "x-keep", Value: "policy"},
			{Header: "X-Replace", Value: "policy", Override: true},
			{Header: "X-Empty"},
			{Header: "Cache-Control", Value: "no-store", Override: true}, // to viewers only
		},
		RemoveHeaders: []string{"x-powered-by", "Server", "X-Frame-Options", "Age"},
		// Removed first, then added: the policy's value wins though it does
		// not override.
		SecurityHeaders: &config.SecurityHeadersConfig{FrameOptions: &config.FrameOptions{FrameOption: "SAMEORIGIN"}},
	}, "", nil)
	for i := range 2 {
		r := w.get("/c")
		if i == 1 {
			expectXCache(t, r, "Hit") // Cache-Control: no-store went to the viewer only
		}
		expectHeader(t, r, "X-Added", "policy")
		expectHeader(t, r, "X-Keep", "origin")
		expectHeader(t, r, "X-Replace", "policy")
		expectHeader(t, r, "Cache-Control", "no-store")
		expectHeader(t, r, "X-Frame-Options", "SAMEORIGIN")
		once(t, r, "X-Empty") // applied by the edge only, through any tiers
		if _, ok := r.header["X-Empty"]; !ok {
			t.Fatalf("X-Empty (no value) missing: %v", r.header)
		}
		for _, h := range []string{"X-Powered-By", "Server", "Age"} {
			if v := r.header.Values(h); len(v) > 0 {
				t.Fatalf("%s = %q not removed", h, v)
			}
		}
		// Strata's own headers are untouched.
		if r.header.Get("X-Strata-Pop") != w.pop.ID() || r.header.Get("Via") == "" || r.header.Get("Date") == "" {
			t.Fatalf("Strata's headers: %v", r.header)
		}
	}
}

// timingMetrics parses a Server-Timing value into name -> params (params
// without their quotes), keeping the order of names.
func timingMetrics(t *testing.T, v string) ([]string, map[string]map[string]string) {
	t.Helper()
	var names []string
	m := map[string]map[string]string{}
	for _, metric := range strings.Split(v, ",") {
		parts := strings.Split(strings.TrimSpace(metric), ";")
		name := parts[0]
		if name == "" {
			t.Fatalf("empty metric in %q", v)
		}
		params := map[string]string{}
		for _, p := range parts[1:] {
			k, val, ok := strings.Cut(p, "=")
			if !ok {
				t.Fatalf("param %q of %q", p, v)
			}
			params[k] = strings.Trim(val, `"`)
		}
		names = append(names, name)
		m[name] = params
	}
	return names, m
}

func durOf(t *testing.T, m map[string]map[string]string, name string) int64 {
	t.Helper()
	p, ok := m[name]
	if !ok {
		t.Fatalf("no %s", name)
	}
	d, err := strconv.ParseInt(p["dur"], 10, 64)
	if err != nil || d < 0 {
		t.Fatalf("%s dur %q", name, p["dur"])
	}
	return d
}

func TestServerTiming(t *testing.T) { throughTiers(t, testServerTiming) }

func testServerTiming(t *testing.T, tp topology) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(150 * time.Millisecond)
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Server-Timing", "app;dur=7")
		io.WriteString(w, "x")
	}
	w := tp.world(t, origin, func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{
			{ID: "all", ServerTiming: &config.ServerTimingConfig{Enabled: true, SamplingRate: 100}},
			{ID: "none", ServerTiming: &config.ServerTimingConfig{Enabled: true, SamplingRate: 0}},
		}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "all"
		c.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/none/*", TargetOriginID: "o",
			CachePolicyID: "p", ResponseHeadersPolicyID: "none"}}
	})

	miss := w.get("/slow")
	expectXCache(t, miss, "Miss")
	names, m := timingMetrics(t, miss.header.Get("Server-Timing"))
	wantOrder := []string{"cdn-upstream-layer", "cdn-upstream-dns", "cdn-upstream-connect", "cdn-upstream-fbl",
		"cdn-cache-miss", "cdn-pop", "cdn-rid", "cdn-downstream-fbl", "app"}
	if strings.Join(names, ",") != strings.Join(wantOrder, ",") {
		t.Fatalf("miss metrics %v, want %v", names, wantOrder)
	}
	if m["cdn-upstream-layer"]["desc"] != tp.edgeLayer() || m["cdn-pop"]["desc"] != w.pop.ID() ||
		m["cdn-rid"]["desc"] != miss.header.Get("X-Strata-Request-Id") || m["app"]["dur"] != "7" {
		t.Fatalf("miss metrics %v", m)
	}
	// The origin took at least 150 ms to answer: measured, not invented.
	if fbl := durOf(t, m, "cdn-upstream-fbl"); fbl < 140 {
		t.Fatalf("cdn-upstream-fbl %d ms for an origin that waits 150 ms", fbl)
	}
	if dfbl := durOf(t, m, "cdn-downstream-fbl"); dfbl < durOf(t, m, "cdn-upstream-fbl") {
		t.Fatalf("downstream fbl %d < upstream fbl", dfbl)
	}
	durOf(t, m, "cdn-upstream-dns")
	durOf(t, m, "cdn-upstream-connect")

	hit := w.get("/slow")
	expectXCache(t, hit, "Hit")
	names, m = timingMetrics(t, hit.header.Get("Server-Timing"))
	wantOrder = []string{"cdn-cache-hit", "cdn-pop", "cdn-rid", "cdn-hit-layer", "cdn-downstream-fbl"}
	if strings.Join(names, ",") != strings.Join(wantOrder, ",") {
		t.Fatalf("hit metrics %v, want %v (the origin's value is not on a hit)", names, wantOrder)
	}
	if m["cdn-hit-layer"]["desc"] != "EDGE" || m["cdn-rid"]["desc"] != hit.header.Get("X-Strata-Request-Id") {
		t.Fatalf("hit metrics %v", m)
	}
	if len(hit.header.Values("Server-Timing")) != 1 {
		t.Fatalf("Server-Timing fields: %q", hit.header.Values("Server-Timing"))
	}

	// A pass (POST) is measured too.
	post := w.doBody("POST", "/p", strings.NewReader("x"))
	_, m = timingMetrics(t, post.header.Get("Server-Timing"))
	if _, ok := m["cdn-cache-miss"]; !ok || m["cdn-upstream-layer"]["desc"] != "EDGE" {
		t.Fatalf("pass metrics %v", m)
	}
	durOf(t, m, "cdn-upstream-fbl")

	// Sampling 0: the origin's header passes unchanged; Pragma asks for ours.
	r := w.get("/none/a")
	expectHeader(t, r, "Server-Timing", "app;dur=7")
	r = w.get("/none/a", "Pragma", "no-cache, server-timing")
	names, _ = timingMetrics(t, r.header.Get("Server-Timing"))
	if names[0] != "cdn-cache-hit" {
		t.Fatalf("Pragma: server-timing: %v", names)
	}
}

func TestServerTimingSampling(t *testing.T) { throughTiers(t, testServerTimingSampling) }

func testServerTimingSampling(t *testing.T, tp topology) {
	w := rhpWorldIn(t, tp, cacheableOK, &config.ResponseHeadersPolicy{
		ServerTiming: &config.ServerTimingConfig{Enabled: true, SamplingRate: 50}}, "", nil)
	with := 0
	const n = 200
	for range n {
		if w.get("/s").header.Get("Server-Timing") != "" {
			with++
		}
	}
	// Binomial(200, 0.5): outside 40..160 has probability far below 1e-15.
	if with < 40 || with > 160 {
		t.Fatalf("%d of %d responses had Server-Timing at a 50%% rate", with, n)
	}
}

// TestPolicyOnEveryResponse: the policy goes on hits, passes, the origin's
// errors, Strata's own errors, redirects, 304s and custom error pages.
func TestPolicyOnEveryResponse(t *testing.T) { throughTiers(t, testPolicyOnEveryResponse) }

func testPolicyOnEveryResponse(t *testing.T, tp topology) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/503":
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(503)
		case "/404", "/page-error":
			w.WriteHeader(404)
		case "/errors/404.html":
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "sorry")
		default:
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "ok")
		}
	}
	w := rhpWorldIn(t, tp, origin, nil, config.ManagedCORSAndSecurityHeadersPolicy, func(c *config.Config) {
		d := &c.Distributions[0]
		d.Origins = append(d.Origins, config.Origin{ID: "down", URL: "http://127.0.0.1:1"})
		d.CacheBehaviors = []config.CacheBehavior{
			{PathPattern: "/down/*", TargetOriginID: "down", CachePolicyID: "p", ResponseHeadersPolicyID: config.ManagedCORSAndSecurityHeadersPolicy},
			{PathPattern: "/secure/*", TargetOriginID: "o", CachePolicyID: "p", ViewerProtocolPolicy: "redirect-to-https",
				ResponseHeadersPolicyID: config.ManagedCORSAndSecurityHeadersPolicy},
			{PathPattern: "/errors/*", TargetOriginID: "o", CachePolicyID: "p"}, // no policy of its own
		}
		d.CustomErrorResponses = []config.CustomErrorResponse{{ErrorCode: 404, ResponsePagePath: "/errors/404.html"}}
	})
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	check := func(name string, r response, status int) {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: status %d, want %d", name, r.status, status)
		}
		expectHeader(t, r, "Strict-Transport-Security", "max-age=31536000")
		expectHeader(t, r, "X-Content-Type-Options", "nosniff")
		expectHeader(t, r, "X-Frame-Options", "SAMEORIGIN")
		expectHeader(t, r, "Referrer-Policy", "strict-origin-when-cross-origin")
		expectHeader(t, r, "X-XSS-Protection", "1; mode=block")
		expectHeader(t, r, hACAO, "*")
	}
	o := []string{"Origin", "https://app.example"}
	check("miss", w.get("/a", o...), 200)
	hit := w.get("/a", o...)
	expectXCache(t, hit, "Hit")
	check("hit", hit, 200)
	check("304", w.get("/a", "Origin", "https://app.example", "If-None-Match", `"v1"`), 304)
	check("pass", w.doBody("POST", "/a", strings.NewReader("x"), o...), 200)
	check("origin 503", w.get("/503", o...), 503)
	bad := w.get("/down/x", o...)
	check("strata 502", bad, 502)
	if !strings.Contains(bad.body, "origin") {
		t.Fatalf("502 body %q", bad.body)
	}
	check("redirect", w.get("/secure/x", o...), 301)
	check("405", w.do("TRACE", "/a", o...), 405)
	page := w.get("/404", o...)
	check("custom error page", page, 404)
	if page.body != "sorry" {
		t.Fatalf("error page body %q", page.body)
	}
}

func TestManagedPreflightPolicies(t *testing.T) { throughTiers(t, testManagedPreflightPolicies) }

func testManagedPreflightPolicies(t *testing.T, tp topology) {
	for _, id := range []string{config.ManagedCORSWithPreflight, config.ManagedCORSWithPreflightAndSecurityHeadersPolicy} {
		t.Run(id, func(t *testing.T) {
			w := rhpWorldIn(t, tp, cacheableOK, nil, id, nil)
			r := w.do("OPTIONS", "/x", "Origin", "https://a.example", "Access-Control-Request-Method", "DELETE")
			if r.status != http.StatusNoContent || w.origin.count("/x") != 0 {
				t.Fatalf("preflight: status %d, origin count %d", r.status, w.origin.count("/x"))
			}
			expectHeader(t, r, hACAO, "*")
			expectHeader(t, r, hACAM, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
			expectHeader(t, r, hACEH, "*")
			if v := r.header.Values(hACAH); len(v) > 0 {
				t.Fatalf("Access-Control-Allow-Headers %q: the managed policy has none", v)
			}
			sec := r.header.Get("X-Content-Type-Options") == "nosniff"
			if sec != (id == config.ManagedCORSWithPreflightAndSecurityHeadersPolicy) {
				t.Fatalf("security headers present: %v", sec)
			}
			g := w.get("/x", "Origin", "https://a.example")
			expectHeader(t, g, hACAO, "*")
			if v := g.header.Values(hACAM); len(v) > 0 {
				t.Fatalf("methods on a simple request: %q", v)
			}
		})
	}
}

func TestManagedSecurityHeadersPolicy(t *testing.T) {
	throughTiers(t, testManagedSecurityHeadersPolicy)
}

func testManagedSecurityHeadersPolicy(t *testing.T, tp topology) {
	origin := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "sniff-away")
		w.Header().Set("X-Frame-Options", "DENY")
		io.WriteString(w, "x")
	}
	w := rhpWorldIn(t, tp, origin, nil, config.ManagedSecurityHeadersPolicy, nil)
	r := w.get("/s")
	expectHeader(t, r, "X-Content-Type-Options", "nosniff") // the one header it overrides
	expectHeader(t, r, "X-Frame-Options", "DENY")           // the origin's kept
	expectHeader(t, r, "Strict-Transport-Security", "max-age=31536000")
	expectHeader(t, r, "Referrer-Policy", "strict-origin-when-cross-origin")
	expectHeader(t, r, "X-XSS-Protection", "1; mode=block")
	if v := r.header.Values("Content-Security-Policy"); len(v) > 0 {
		t.Fatalf("CSP %q", v)
	}
}

// TestPolicyAtTheEdgeOnly: between tiers no policy is applied (the edge
// applies its own, once, to what its viewer gets), so an echoed origin is
// never stored; Server-Timing at the edge tells a regional hit.
func TestPolicyAtTheEdgeOnly(t *testing.T) {
	n := newNetwork(t, 2, 0, cacheable, func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "rhp",
			CORS:            &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example", "https://b.example"}},
			SecurityHeaders: &config.SecurityHeadersConfig{FrameOptions: &config.FrameOptions{FrameOption: "DENY"}},
			ServerTiming:    &config.ServerTimingConfig{Enabled: true, SamplingRate: 100}}}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "rhp"
	})
	r := n.get("EA1", "/t", "Origin", "https://a.example")
	expectHeader(t, r, hACAO, "https://a.example")
	expectHeader(t, r, "X-Frame-Options", "DENY")
	_, m := timingMetrics(t, r.header.Get("Server-Timing"))
	if _, ok := m["cdn-cache-miss"]; !ok || m["cdn-upstream-layer"]["desc"] != "REC" || m["cdn-pop"]["desc"] != "EA1" {
		t.Fatalf("edge miss through the regional cache: %v", m)
	}
	// Another edge: a miss there, a hit at the regional cache, which must
	// not have stored a://'s answer.
	r = n.get("EA2", "/t", "Origin", "https://b.example")
	expectHeader(t, r, hACAO, "https://b.example")
	expectHeader(t, r, "X-Frame-Options", "DENY")
	_, m = timingMetrics(t, r.header.Get("Server-Timing"))
	if _, ok := m["cdn-cache-hit"]; !ok || m["cdn-hit-layer"]["desc"] != "REC" {
		t.Fatalf("edge miss, regional hit: %v", m)
	}
	if len(r.header.Values("Server-Timing")) != 1 {
		t.Fatalf("Server-Timing %q", r.header.Values("Server-Timing"))
	}
	// And the edge's own copy answers b:// and a:// alike.
	r = n.get("EA1", "/t", "Origin", "https://b.example")
	expectXCache(t, r, "Hit")
	expectHeader(t, r, hACAO, "https://b.example")
	if c := n.origin.count("/t"); c != 1 {
		t.Fatalf("origin count %d", c)
	}
}

// BenchmarkResponsePolicyHit: a cache hit under the managed CORS and
// security headers policy, CORS request included.
func BenchmarkResponsePolicyHit(b *testing.B) {
	for _, id := range []string{"", config.ManagedSecurityHeadersPolicy, config.ManagedCORSAndSecurityHeadersPolicy} {
		name := id
		if name == "" {
			name = "none"
		}
		b.Run(name, func(b *testing.B) {
			origin := httptest.NewServer(http.HandlerFunc(cacheableOK))
			defer origin.Close()
			p := benchPoP(b, origin.URL, func(c *config.Config) {
				c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = id
			})
			req := httptest.NewRequest("GET", "http://bench.example/obj", nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("Origin", "https://app.example")
			runHits(b, p, req, nil)
		})
	}
}

// TestResponseHeadersThroughTiers: a response headers policy is applied
// once, at the edge, to what its viewer gets: CORS for each viewer's Origin
// (a parent never stores one viewer's answer), preflights answered at the
// edge, security and custom headers present once, removed headers gone.
func TestResponseHeadersThroughTiers(t *testing.T) {
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("X-Powered-By", "origin")
		io.WriteString(rw, "object "+r.Method+" "+r.URL.Path)
	}
	mutate := func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "rhp",
			CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example", "https://b.example"},
				AccessControlAllowMethods: []string{"GET", "PUT"}, AccessControlAllowHeaders: []string{"X-Token"}},
			SecurityHeaders: &config.SecurityHeadersConfig{FrameOptions: &config.FrameOptions{FrameOption: "DENY"}},
			CustomHeaders:   []config.CustomResponseHeader{{Header: "X-Team", Value: "web"}},
			RemoveHeaders:   []string{"X-Powered-By"}}}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "rhp"
	}
	eachTopology(t, netOpts{}, origin, mutate, func(t *testing.T, n *network) {
		for i, o := range []string{"https://a.example", "https://b.example", "https://evil.example"} {
			r := n.send(n.viewer, viewerReq{path: "/t", header: []string{"Origin", o}})
			if r.status != 200 || r.body != "object GET /t" {
				t.Fatalf("%s: %d %q", o, r.status, r.body)
			}
			want := o
			if i == 2 {
				want = ""
			}
			expectHeader(t, r, hACAO, want)
			expectHeader(t, r, "X-Frame-Options", "DENY")
			expectHeader(t, r, "X-Team", "web")
			expectHeader(t, r, "X-Powered-By", "")
			if !hasVary(r, "Origin") {
				t.Fatalf("%s: Vary %q", o, r.header.Values("Vary"))
			}
		}
		r := n.send(n.viewer, viewerReq{method: http.MethodOptions, path: "/t",
			header: []string{"Origin", "https://b.example", "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "X-Token"}})
		if r.status != 204 {
			t.Fatalf("preflight: %d %q", r.status, r.body)
		}
		expectHeader(t, r, hACAO, "https://b.example")
		if c, p := n.origin.count("/t"), len(r.header.Values("Cache-Status")); c != 1 || p != 1 {
			t.Fatalf("origin count %d (want 1), preflight Cache-Status entries %d (want 1: the edge answered)", c, p)
		}
	})
}
