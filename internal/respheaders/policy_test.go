package respheaders

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

// request is a viewer request with header h (name, value pairs; a name may
// repeat).
func request(method string, h ...string) *http.Request {
	r, _ := http.NewRequest(method, "https://cdn.example/obj", nil)
	for i := 0; i+1 < len(h); i += 2 {
		r.Header.Add(h[i], h[i+1])
	}
	return r
}

var (
	corsExact = &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{
		AccessControlAllowOrigins: []string{"https://a.example", "https://*.c.example"},
		AccessControlAllowMethods: []string{"GET", "PUT"}, AccessControlAllowHeaders: []string{"X-Token"},
		AccessControlAllowCredentials: true, AccessControlExposeHeaders: []string{"X-Id", "X-Rev"},
		AccessControlMaxAgeSec: 600}}
	corsStar     = &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"*"}, AccessControlAllowMethods: []string{"ALL"}}}
	corsStarCred = &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"*"}, AccessControlAllowCredentials: true}}
	corsNoPre    = &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example"}}}
	corsOverride = &config.ResponseHeadersPolicy{CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example"},
		AccessControlAllowCredentials: true, OriginOverride: true}}
	security = &config.ResponseHeadersPolicy{SecurityHeaders: &config.SecurityHeadersConfig{
		StrictTransportSecurity: &config.StrictTransportSecurity{AccessControlMaxAgeSec: 31536000, IncludeSubdomains: true, Preload: true},
		ContentTypeOptions:      &config.ContentTypeOptions{Override: true},
		FrameOptions:            &config.FrameOptions{FrameOption: "DENY"},
		ReferrerPolicy:          &config.ReferrerPolicyHeader{ReferrerPolicy: "no-referrer", Override: true},
		ContentSecurityPolicy:   &config.ContentSecurityPolicyHeader{ContentSecurityPolicy: "default-src 'self'"},
		XSSProtection:           &config.XSSProtection{Protection: true, ModeBlock: true, ReportURI: "https://r.example/x"}}}
	custom = &config.ResponseHeadersPolicy{
		RemoveHeaders: []string{"x-powered-by", "SERVER", "X-Team"},
		CustomHeaders: []config.CustomResponseHeader{{Header: "x-team", Value: "web"},
			{Header: "X-Kept", Value: "policy"}, {Header: "x-replaced", Value: "policy", Override: true}}}
)

func TestApply(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy *config.ResponseHeadersPolicy
		req    *http.Request
		resp   http.Header // what the response has before the policy
		want   http.Header // all of it after
	}{
		{"cors allowed exact", corsExact, request("GET", "Origin", "https://a.example"), http.Header{"Content-Type": {"text/plain"}},
			http.Header{"Content-Type": {"text/plain"}, "Vary": {"Origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors allowed exact, other case", corsExact, request("GET", "Origin", "HTTPS://A.example"), http.Header{},
			http.Header{"Vary": {"Origin"}, hACAO: {"HTTPS://A.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors allowed wildcard", corsExact, request("GET", "Origin", "https://x.y.c.example"), http.Header{},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://x.y.c.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors denied", corsExact, request("GET", "Origin", "https://evil.example"), http.Header{},
			http.Header{"Vary": {"Origin"}}},
		{"cors denied: wildcard apex", corsExact, request("GET", "Origin", "https://c.example"), http.Header{},
			http.Header{"Vary": {"Origin"}}},
		{"cors no Origin", corsExact, request("GET"), http.Header{"Vary": {"Accept-Encoding"}},
			http.Header{"Vary": {"Accept-Encoding", "Origin"}}},
		{"cors two Origin fields", corsExact, request("GET", "Origin", "https://a.example", "Origin", "https://a.example"), http.Header{},
			http.Header{"Vary": {"Origin"}}},
		{"cors Vary already lists origin", corsExact, request("GET", "Origin", "https://a.example"), http.Header{"Vary": {"accept-encoding, origin"}},
			http.Header{"Vary": {"accept-encoding, origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors preflight", corsExact, request("OPTIONS", "Origin", "https://a.example", "Access-Control-Request-Method", "PUT"), http.Header{},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"},
				hACAM: {"GET, PUT"}, hACAH: {"X-Token"}, hACMA: {"600"}}},
		{"cors preflight denied", corsExact, request("OPTIONS", "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT"), http.Header{},
			http.Header{"Vary": {"Origin"}}},
		{"cors OPTIONS without request method is not a preflight", corsExact, request("OPTIONS", "Origin", "https://a.example"), http.Header{},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors star", corsStar, request("GET", "Origin", "https://any.example"), http.Header{},
			http.Header{hACAO: {"*"}}},
		{"cors star preflight, ALL methods", corsStar, request("OPTIONS", "Origin", "null", "Access-Control-Request-Method", "DELETE"), http.Header{},
			http.Header{hACAO: {"*"}, hACAM: {allMethods}}},
		{"cors star with credentials echoes", corsStarCred, request("GET", "Origin", "https://any.example"), http.Header{},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://any.example"}, hACAC: {"true"}}},
		{"cors keeps the origin's", corsExact, request("GET", "Origin", "https://a.example"), http.Header{hACAO: {"https://o.example"}},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://o.example"}, hACAC: {"true"}, hACEH: {"X-Id, X-Rev"}}},
		{"cors overrides the origin's", corsOverride, request("GET", "Origin", "https://a.example"), http.Header{hACAO: {"https://o.example"}, hACAC: {"false"}},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}}},
		{"cors override leaves headers it does not set", corsOverride, request("GET", "Origin", "https://a.example"), http.Header{hACAM: {"GET"}},
			http.Header{"Vary": {"Origin"}, hACAO: {"https://a.example"}, hACAC: {"true"}, hACAM: {"GET"}}},
		{"security headers", security, request("GET"), http.Header{},
			http.Header{"Strict-Transport-Security": {"max-age=31536000; includeSubDomains; preload"}, "X-Content-Type-Options": {"nosniff"},
				"X-Frame-Options": {"DENY"}, "Referrer-Policy": {"no-referrer"}, "Content-Security-Policy": {"default-src 'self'"},
				"X-Xss-Protection": {"1; mode=block; report=https://r.example/x"}}},
		{"security headers keep or override the origin's", security, request("GET"),
			http.Header{"X-Frame-Options": {"SAMEORIGIN"}, "Referrer-Policy": {"origin"}, "X-Content-Type-Options": {"sniff"}},
			http.Header{"Strict-Transport-Security": {"max-age=31536000; includeSubDomains; preload"}, "X-Content-Type-Options": {"nosniff"},
				"X-Frame-Options": {"SAMEORIGIN"}, "Referrer-Policy": {"no-referrer"}, "Content-Security-Policy": {"default-src 'self'"},
				"X-Xss-Protection": {"1; mode=block; report=https://r.example/x"}}},
		{"xss protection off", &config.ResponseHeadersPolicy{SecurityHeaders: &config.SecurityHeadersConfig{
			XSSProtection:           &config.XSSProtection{ModeBlock: true},
			StrictTransportSecurity: &config.StrictTransportSecurity{AccessControlMaxAgeSec: 60}}}, request("GET"), http.Header{},
			http.Header{"X-Xss-Protection": {"0"}, "Strict-Transport-Security": {"max-age=60"}}},
		{"custom and removed headers", custom, request("GET"),
			http.Header{"X-Powered-By": {"php"}, "Server": {"origin"}, "X-Team": {"origin"}, "X-Kept": {"origin"}, "X-Replaced": {"origin"}, "Etag": {`"1"`}},
			http.Header{"X-Team": {"web"}, "X-Kept": {"origin"}, "X-Replaced": {"policy"}, "Etag": {`"1"`}}},
		{"custom headers on an empty response", custom, request("GET"), http.Header{},
			http.Header{"X-Team": {"web"}, "X-Kept": {"policy"}, "X-Replaced": {"policy"}}},
		{"empty policy", &config.ResponseHeadersPolicy{}, request("GET", "Origin", "https://a.example"), http.Header{"X-A": {"1"}},
			http.Header{"X-A": {"1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			New(tt.policy).Apply(tt.req, tt.resp)
			if !reflect.DeepEqual(tt.resp, tt.want) {
				t.Errorf("got  %v\nwant %v", tt.resp, tt.want)
			}
		})
	}
}

// TestManagedPolicies: the managed policies resolve and apply as CloudFront
// documents them.
func TestManagedPolicies(t *testing.T) {
	var c config.Config
	for _, tt := range []struct {
		id        string
		preflight bool
		acao      string
	}{
		{config.ManagedSecurityHeadersPolicy, false, ""},
		{config.ManagedCORSAndSecurityHeadersPolicy, false, "*"},
		{config.ManagedCORSWithPreflightAndSecurityHeadersPolicy, true, "*"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			rc := c.ResponseHeadersPolicy(tt.id)
			if rc == nil {
				t.Fatal("no such managed policy")
			}
			p := New(rc)
			pre := request("OPTIONS", "Origin", "https://a.example", "Access-Control-Request-Method", "GET")
			if got := p.AnswersPreflight(pre); got != tt.preflight {
				t.Errorf("AnswersPreflight = %v, want %v", got, tt.preflight)
			}
			h := http.Header{}
			p.Apply(request("GET", "Origin", "https://a.example"), h)
			if got := h.Get(hACAO); got != tt.acao {
				t.Errorf("%s = %q, want %q", hACAO, got, tt.acao)
			}
			if h.Get("Strict-Transport-Security") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", h)
			}
		})
	}
}

func TestAnswersPreflight(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy *config.ResponseHeadersPolicy
		req    *http.Request
		want   bool
	}{
		{"preflight", corsExact, request("OPTIONS", "Origin", "https://a.example", "Access-Control-Request-Method", "PUT"), true},
		// Answered whatever the Origin: a denied one gets no CORS headers.
		{"preflight from a denied origin", corsExact, request("OPTIONS", "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT"), true},
		{"no request method", corsExact, request("OPTIONS", "Origin", "https://a.example"), false},
		{"no origin", corsExact, request("OPTIONS", "Access-Control-Request-Method", "PUT"), false},
		{"not OPTIONS", corsExact, request("GET", "Origin", "https://a.example", "Access-Control-Request-Method", "PUT"), false},
		{"policy lists no methods", corsNoPre, request("OPTIONS", "Origin", "https://a.example", "Access-Control-Request-Method", "GET"), false},
		{"policy without CORS", security, request("OPTIONS", "Origin", "https://a.example", "Access-Control-Request-Method", "GET"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.policy).AnswersPreflight(tt.req); got != tt.want {
				t.Errorf("AnswersPreflight = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWantsTiming(t *testing.T) {
	timing := func(on bool, rate float64) *config.ResponseHeadersPolicy {
		return &config.ResponseHeadersPolicy{ServerTiming: &config.ServerTimingConfig{Enabled: on, SamplingRate: rate}}
	}
	for _, tt := range []struct {
		name   string
		policy *config.ResponseHeadersPolicy
		req    *http.Request
		on     bool // ServerTiming()
		want   bool
	}{
		{"every request", timing(true, 100), request("GET"), true, true},
		{"none sampled", timing(true, 0), request("GET"), true, false},
		{"none sampled, asked for", timing(true, 0), request("GET", "Pragma", "server-timing"), true, true},
		{"asked for in a list, any case", timing(true, 0), request("GET", "Pragma", "no-cache, Server-Timing"), true, true},
		{"asked for in a second field", timing(true, 0), request("GET", "Pragma", "no-cache", "Pragma", " server-timing "), true, true},
		{"other pragma", timing(true, 0), request("GET", "Pragma", "server-timings"), true, false},
		{"disabled, asked for", timing(false, 100), request("GET", "Pragma", "server-timing"), false, false},
		{"no server timing part", &config.ResponseHeadersPolicy{}, request("GET", "Pragma", "server-timing"), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.policy)
			if got := p.ServerTiming(); got != tt.on {
				t.Errorf("ServerTiming = %v, want %v", got, tt.on)
			}
			for range 20 { // sampling at 0 or 100 percent is not random
				if got := p.WantsTiming(tt.req); got != tt.want {
					t.Fatalf("WantsTiming = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestWantsTimingSamples: a 50 percent rate samples some requests, not all.
func TestWantsTimingSamples(t *testing.T) {
	p := New(&config.ResponseHeadersPolicy{ServerTiming: &config.ServerTimingConfig{Enabled: true, SamplingRate: 50}})
	yes := 0
	for range 1000 {
		if p.WantsTiming(request("GET")) {
			yes++
		}
	}
	if yes == 0 || yes == 1000 { // each has probability 2^-1000
		t.Fatalf("%d of 1000 sampled at 50%%", yes)
	}
}

func TestCORSAllows(t *testing.T) {
	c := newCORSPolicy(&config.CORSConfig{AccessControlAllowOrigins: []string{
		"https://a.example:443", "http://b.example:80", "https://*.c.example", "http://*.d.example:8080"}})
	for origin, want := range map[string]bool{
		"https://a.example":         true,
		"http://b.example":          true,
		"https://x.c.example":       true,
		"https://x.y.c.example":     true,
		"https://.c.example":        false,
		"https://x..c.example":      false,
		"https://c.example":         false,
		"https://xc.example":        false,
		"https://x/.c.example":      false,
		"http://x.d.example:8080":   true,
		"http://x.d.example":        false,
		"http://x.d.example:80801":  false,
		"https://a.example.evil":    false,
		"":                          false,
		"https://A.C.EXAMPLE":       true,
		"https://x.c.example:443/p": false,
	} {
		if got := c.allows(origin); got != want {
			t.Errorf("allows(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestAddVaryNeverWritesASharedSlice(t *testing.T) {
	stored := []string{"Accept-Encoding", "X-Spare"}[:1] // spare capacity
	h := http.Header{"Vary": stored}
	AddVary(h, "Origin")
	if got := h["Vary"]; len(got) != 2 || got[1] != "Origin" {
		t.Fatalf("Vary %q", got)
	}
	if full := stored[:2]; full[1] != "X-Spare" {
		t.Fatalf("the stored slice was written: %q", full)
	}
	AddVary(h, "origin")
	if len(h["Vary"]) != 2 {
		t.Fatalf("Origin added twice: %q", h["Vary"])
	}
	h = http.Header{"Vary": {"*"}}
	if AddVary(h, "Origin"); len(h["Vary"]) != 1 {
		t.Fatalf("Vary * grew: %q", h["Vary"])
	}
}

// FuzzCORSAllows: whatever a viewer sends as Origin, only an allowed origin
// is accepted: the exact one, or an https origin whose host is one or more
// labels under c.example, on the default port.
func FuzzCORSAllows(f *testing.F) {
	for _, s := range []string{"https://a.example", "https://x.c.example", "https://c.example", "https://x.c.example@evil",
		"https://evil/.c.example", "https://x.c.example:443", "null", "", "https://x..c.example", "HTTPS://X.C.EXAMPLE",
		"https://a.example.evil", "https://%2e.c.example", "https://x.c.example/", "https://x y.c.example"} {
		f.Add(s)
	}
	c := newCORSPolicy(&config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example", "https://*.c.example"}})
	f.Fuzz(func(t *testing.T, origin string) {
		if !c.allows(origin) {
			return
		}
		o := strings.ToLower(origin)
		if o == "https://a.example" {
			return
		}
		host, ok := strings.CutPrefix(o, "https://")
		labels, ok2 := strings.CutSuffix(host, ".c.example")
		if !ok || !ok2 {
			t.Fatalf("allowed %q", origin)
		}
		for _, l := range strings.Split(labels, ".") {
			if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				t.Fatalf("allowed %q (label %q)", origin, l)
			}
		}
	})
}

// FuzzApply: whatever the viewer's request and the origin's response hold,
// Apply never panics, never writes a slice it did not allocate (the
// response's, which may be a stored object's, nor the policy's own shared
// values), is idempotent, adds CORS headers only for an allowed Origin, and
// leaves no removed header the policy does not add back.
func FuzzApply(f *testing.F) {
	policies := []*config.ResponseHeadersPolicy{corsExact, corsStar, corsStarCred, corsNoPre, corsOverride, security, custom,
		{RemoveHeaders: []string{"Vary", "Access-Control-Allow-Origin"}, CORS: corsExact.CORS,
			CustomHeaders: []config.CustomResponseHeader{{Header: "Vary", Value: "X-Policy", Override: true}}}}
	f.Add(uint8(0), "GET", "https://a.example", false, "Accept-Encoding", "X-Team", "origin")
	f.Add(uint8(0), "OPTIONS", "https://x.c.example", true, "", "Access-Control-Allow-Origin", "https://o.example")
	f.Add(uint8(1), "OPTIONS", "null", true, "*", "Vary", "Origin")
	f.Add(uint8(2), "GET", "https://a.example", false, "origin, accept-encoding", "X-Frame-Options", "SAMEORIGIN")
	f.Add(uint8(4), "GET", "https://a.example", false, "", "Access-Control-Allow-Credentials", "false")
	f.Add(uint8(6), "GET", "", false, "", "x-powered-by", "php")
	f.Add(uint8(7), "OPTIONS", "https://a.example", true, "Origin", "Server", "x")
	f.Fuzz(func(t *testing.T, which uint8, method, origin string, acrm bool, vary, name, value string) {
		pc := policies[int(which)%len(policies)]
		p := New(pc)
		r := &http.Request{Method: method, Header: http.Header{}}
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		if acrm {
			r.Header["Access-Control-Request-Method"] = []string{"PUT"}
		}
		// The response's slices have spare capacity holding a sentinel,
		// as a stored object's may.
		const sentinel = "\x00spare"
		spare := func(v string) []string { return []string{v, sentinel}[:1] }
		name = http.CanonicalHeaderKey(name)
		resp := http.Header{}
		if vary != "" {
			resp["Vary"] = spare(vary)
		}
		if name != "" {
			resp[name] = spare(value)
		}
		before := clone(resp)
		backing := map[string][]string{}
		for k, v := range resp {
			backing[k] = v[:cap(v)]
		}

		h := clone(resp)
		for k, v := range resp {
			h[k] = v // the response's own slices, as deliver hands them over
		}
		p.Apply(r, h)
		for k, full := range backing {
			if full[0] != before[k][0] || full[1] != sentinel {
				t.Fatalf("%s: the response's slice was written: %q", k, full)
			}
		}

		// Idempotent.
		again := clone(h)
		p.Apply(r, again)
		if !reflect.DeepEqual(again, h) {
			t.Fatalf("second Apply changed\n%v\ninto\n%v", h, again)
		}

		// A later writer appending to the result does not change what the
		// policy adds next time.
		got := clone(h)
		for k := range h {
			h.Add(k, "later")
			h[k][0] = "overwritten"
		}
		next := clone(before)
		p.Apply(r, next)
		if !reflect.DeepEqual(next, got) {
			t.Fatalf("the policy's values changed: first\n%v\nthen\n%v", got, next)
		}

		// CORS headers only for an allowed Origin (or kept from the response).
		if c := p.cors; c != nil && name != hACAO && got[hACAO] != nil {
			if !c.allows(origin) {
				t.Fatalf("%s %q for Origin %q", hACAO, got[hACAO], origin)
			}
			if want := map[bool]string{true: "*", false: origin}[c.star]; got.Get(hACAO) != want {
				t.Fatalf("%s %q for Origin %q (star %v)", hACAO, got[hACAO], origin, c.star)
			}
		}
		if got[hACAM] != nil && name != hACAM && (!isPreflight(r) || origin == "") {
			t.Fatalf("%s on a non-preflight: %v", hACAM, got)
		}
		// Removed headers are gone unless the policy adds them.
		for _, rm := range p.remove {
			if v, ok := got[rm]; ok && !p.adds(rm) {
				t.Fatalf("removed %s is there: %q", rm, v)
			}
		}
	})
}

// adds reports whether the policy itself adds the header name.
func (p *Policy) adds(name string) bool {
	for _, a := range p.add {
		if a.name == name {
			return true
		}
	}
	return p.cors != nil && (name == "Vary" || strings.HasPrefix(name, "Access-Control-"))
}

func clone(h http.Header) http.Header {
	c := make(http.Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// A response that may be compressed lists Accept-Encoding in its Vary
// once, after the origin's names, and never beside "*".
func TestCompressVaryAddedOnce(t *testing.T) {
	h := http.Header{"Vary": {"Origin"}}
	AddVary(h, "Accept-Encoding")
	AddVary(h, "Accept-Encoding")
	if got := strings.Join(h.Values("Vary"), ","); got != "Origin,Accept-Encoding" {
		t.Errorf("Vary %q", got)
	}
	h = http.Header{"Vary": {"*"}}
	if AddVary(h, "Accept-Encoding"); len(h["Vary"]) != 1 {
		t.Errorf("Vary * grew: %q", h["Vary"])
	}
}
