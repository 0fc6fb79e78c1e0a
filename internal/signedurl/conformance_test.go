package signedurl

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// The AWS SDK for Go is the reference signer: what it produces must pass.

func sdkPolicy(resource string, expires time.Time, start time.Time, ip string) *awssign.Policy {
	st := awssign.Statement{Resource: resource, Condition: awssign.Condition{DateLessThan: awssign.NewAWSEpochTime(expires)}}
	if !start.IsZero() {
		st.Condition.DateGreaterThan = awssign.NewAWSEpochTime(start)
	}
	if ip != "" {
		st.Condition.IPAddress = &awssign.IPAddress{SourceIP: ip}
	}
	return &awssign.Policy{Statements: []awssign.Statement{st}}
}

func TestSDKCannedURLs(t *testing.T) {
	v := testVerifier(t)
	s := awssign.NewURLSigner(kidA, rsaA)
	for _, u := range []string{
		"https://cdn.example.com/image.jpg",
		"https://cdn.example.com/videos/a%20b.mp4?lang=en&size=720",
		"http://cdn.example.com/q?a=%3Cb%3E&c=%27d%27&e&f=",
		"https://cdn.example.com:8443/dir/?x=1&x=2",
		"https://cdn.example.com/path/with~tilde_and-dash.js?y=%2F&z=a+b",
	} {
		t.Run(u, func(t *testing.T) {
			signed, err := s.Sign(u, testExpires)
			if err != nil {
				t.Fatal(err)
			}
			wantReason(t, check(t, v, signed, viewerIP, testNow), "")
			// Canned: any other URL is another policy, so a bad signature.
			other := strings.Replace(signed, "cdn.example.com", "cdn2.example.com", 1)
			wantReason(t, check(t, v, other, viewerIP, testNow), ReasonBadSignature)
			wantReason(t, check(t, v, signed, viewerIP, testExpires), ReasonExpired)
		})
	}
}

func TestSDKCustomURLs(t *testing.T) {
	v := testVerifier(t)
	s := awssign.NewURLSigner(kidA, rsaA)
	start := testNow.Add(-time.Minute)
	v6 := netip.MustParseAddr("2001:db8::42")
	cases := []struct {
		name     string
		resource string
		start    time.Time
		ip       string
		url      string // the URL given to the SDK
		allowed  []string
		refused  map[string]Reason
		viewer   netip.Addr
	}{
		{
			name: "exact", resource: "https://cdn.example.com/a.mp4?x=1",
			url:     "https://cdn.example.com/a.mp4?x=1",
			allowed: []string{"https://cdn.example.com/a.mp4?x=1"},
			refused: map[string]Reason{
				"https://cdn.example.com/a.mp4?x=2":  ReasonResourceMismatch,
				"https://cdn.example.com/a.mp4":      ReasonResourceMismatch,
				"https://evil.example.com/a.mp4?x=1": ReasonResourceMismatch,
			},
		},
		{
			name: "wildcard path", resource: "https://cdn.example.com/videos/*",
			url: "https://cdn.example.com/videos/intro.mp4",
			allowed: []string{
				"https://cdn.example.com/videos/intro.mp4",
				"https://cdn.example.com/videos/",
				"https://cdn.example.com/videos/season1/ep2.mp4?quality=hd",
			},
			refused: map[string]Reason{
				"https://cdn.example.com/private/x.mp4":      ReasonResourceMismatch,
				"https://cdn.example.com/videos":             ReasonResourceMismatch,
				"http://cdn.example.com/videos/intro.mp4":    ReasonResourceMismatch,
				"https://cdn.example.org/videos/intro.mp4":   ReasonResourceMismatch,
				"https://cdn.example.com.evil/videos/a.mp4":  ReasonResourceMismatch,
				"https://evil.example.com/videos/intro.mp4":  ReasonResourceMismatch,
				"https://cdn.example.com/other/videos/a.mp4": ReasonResourceMismatch,
			},
		},
		{
			name: "wildcard host and scheme", resource: "http*://*.example.com/*.m3u8*",
			url: "https://a.example.com/live/index.m3u8",
			allowed: []string{
				"https://a.example.com/live/index.m3u8",
				"http://b.example.com/x.m3u8?token=1",
			},
			refused: map[string]Reason{
				"https://a.example.com/live/seg1.ts": ReasonResourceMismatch,
				"https://a.example.org/x.m3u8":       ReasonResourceMismatch,
			},
		},
		{
			name: "ipv4 range and start", resource: "https://cdn.example.com/*", start: start, ip: "192.0.2.0/24",
			url:     "https://cdn.example.com/report.pdf",
			allowed: []string{"https://cdn.example.com/report.pdf", "https://cdn.example.com/x"},
		},
		{
			name: "ipv6 range", resource: "https://cdn.example.com/*", ip: "2001:db8::/32",
			url: "https://cdn.example.com/report.pdf", viewer: v6,
			allowed: []string{"https://cdn.example.com/report.pdf"},
		},
		{
			name: "single address", resource: "https://cdn.example.com/*", ip: "192.0.2.7",
			url:     "https://cdn.example.com/report.pdf",
			allowed: []string{"https://cdn.example.com/report.pdf"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := s.SignWithPolicy(tc.url, sdkPolicy(tc.resource, testExpires, tc.start, tc.ip))
			if err != nil {
				t.Fatal(err)
			}
			viewer := tc.viewer
			if !viewer.IsValid() {
				viewer = viewerIP
			}
			for _, u := range tc.allowed {
				wantReason(t, check(t, v, withQuery(t, u, signed), viewer, testNow), "")
			}
			for u, reason := range tc.refused {
				wantReason(t, check(t, v, withQuery(t, u, signed), viewer, testNow), reason)
			}
			wantReason(t, check(t, v, signed, viewer, testExpires), ReasonExpired)
			if !tc.start.IsZero() {
				wantReason(t, check(t, v, signed, viewer, tc.start.Add(-time.Second)), ReasonNotYetValid)
				wantReason(t, check(t, v, signed, viewer, tc.start), "")
			}
			if tc.ip != "" {
				wantReason(t, check(t, v, signed, netip.MustParseAddr("198.51.100.1"), testNow), ReasonIPNotAllowed)
				wantReason(t, check(t, v, signed, netip.MustParseAddr("2001:db9::1"), testNow), ReasonIPNotAllowed)
				wantReason(t, check(t, v, signed, netip.Addr{}, testNow), ReasonIPNotAllowed)
			}
			if tc.ip == "192.0.2.0/24" {
				// a dual-stack listener reports IPv4 viewers as ::ffff:a.b.c.d
				wantReason(t, check(t, v, signed, netip.MustParseAddr("::ffff:192.0.2.200"), testNow), "")
			}
		})
	}
}

func TestSDKCookies(t *testing.T) {
	v := testVerifier(t)
	cs := awssign.NewCookieSigner(kidA, rsaA)
	target := "https://cdn.example.com/videos/a.mp4"

	canned, err := cs.Sign(target, testExpires) // the SDK sends the canned policy as CloudFront-Policy
	if err != nil {
		t.Fatal(err)
	}
	custom, err := cs.SignWithPolicy(sdkPolicy("https://cdn.example.com/videos/*", testExpires, time.Time{}, "192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		url     string
		ip      netip.Addr
		want    Reason
	}{
		{"canned", canned, target, viewerIP, ""},
		{"canned other file", canned, "https://cdn.example.com/videos/b.mp4", viewerIP, ReasonResourceMismatch},
		{"custom", custom, "https://cdn.example.com/videos/b.mp4?x=1", viewerIP, ""},
		{"custom other path", custom, "https://cdn.example.com/private/b.mp4", viewerIP, ReasonResourceMismatch},
		{"custom other ip", custom, target, netip.MustParseAddr("203.0.113.9"), ReasonIPNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, tc.url)
			for _, c := range tc.cookies {
				r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			wantReason(t, v.Check(r, ResourceURL(r, "https"), tc.ip, testNow), tc.want)
		})
	}
}

// TestSDKECDSA: the SDK signs with any crypto.Signer; with an ECDSA key it
// hashes with SHA-1 and produces an ASN.1 signature, as "openssl sha1 -sign"
// does and CloudFront verifies.
func TestSDKECDSA(t *testing.T) {
	v := testVerifier(t)
	s := awssign.NewURLSigner(kidEC, ecKey)
	canned, err := s.Sign("https://cdn.example.com/a.mp4?x=1", testExpires)
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, check(t, v, canned, viewerIP, testNow), "")
	wantReason(t, check(t, v, strings.Replace(canned, "x=1", "x=2", 1), viewerIP, testNow), ReasonBadSignature)

	custom, err := s.SignWithPolicy("https://cdn.example.com/a.mp4", sdkPolicy("https://cdn.example.com/*", testExpires, time.Time{}, "192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, check(t, v, custom, viewerIP, testNow), "")
	wantReason(t, check(t, v, withQuery(t, "https://cdn.example.com/b/c", custom), viewerIP, testNow), "")
	wantReason(t, check(t, v, custom, netip.MustParseAddr("198.51.100.1"), testNow), ReasonIPNotAllowed)

	// The same signature under the RSA key id is refused.
	wantReason(t, check(t, v, strings.Replace(custom, kidEC, kidA, 1), viewerIP, testNow), ReasonBadSignature)
}

// TestSDKOverHTTP drives a real server: the resource URL is rebuilt from
// what arrives on the socket (raw path, Host, raw query), the viewer address
// from the connection; a refusal carries its reason.
func TestSDKOverHTTP(t *testing.T) {
	v := testVerifier(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip, _ := netip.ParseAddr(host)
		if err := v.Check(r, ResourceURL(r, "http"), ip, testNow); err != nil {
			http.Error(w, string(ReasonOf(err)), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "ok %s?%s", r.URL.EscapedPath(), StripSigningParams(r.URL.RawQuery))
	}))
	defer srv.Close()
	client := srv.Client()
	client.Timeout = 10 * time.Second

	get := func(u string, cookies []*http.Cookie) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	us := awssign.NewURLSigner(kidB, rsaB)
	signed, err := us.Sign(srv.URL+"/videos/a%20b%2Fc.mp4?lang=en&q=x%26y", testExpires)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(signed, nil); code != 200 || body != "ok /videos/a%20b%2Fc.mp4?lang=en&q=x%26y" {
		t.Errorf("canned URL: %d %q", code, body)
	}
	tampered := strings.Replace(signed, "lang=en", "lang=fr", 1)
	if code, body := get(tampered, nil); code != 403 || !strings.Contains(body, string(ReasonBadSignature)) {
		t.Errorf("tampered URL: %d %q", code, body)
	}
	if code, body := get(srv.URL+"/videos/x.mp4", nil); code != 403 || !strings.Contains(body, string(ReasonMissing)) {
		t.Errorf("unsigned: %d %q", code, body)
	}
	if code, body := get(strings.Replace(signed, kidB, "KNOTTRUSTED", 1), nil); code != 403 || !strings.Contains(body, string(ReasonUnknownKey)) {
		t.Errorf("unknown key: %d %q", code, body)
	}

	cs := awssign.NewCookieSigner(kidA, rsaA)
	cookies, err := cs.SignWithPolicy(sdkPolicy(srv.URL+"/videos/*", testExpires, time.Time{}, "127.0.0.0/8"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(srv.URL+"/videos/hd/1.ts?part=2", cookies); code != 200 || body != "ok /videos/hd/1.ts?part=2" {
		t.Errorf("cookies: %d %q", code, body)
	}
	if code, _ := get(srv.URL+"/private/1.ts", cookies); code != 403 {
		t.Errorf("cookies outside their resource: %d", code)
	}
}
