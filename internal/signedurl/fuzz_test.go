package signedurl

import (
	"crypto"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// fuzzSeeds are signed requests (and the resources they were signed for)
// for FuzzCheck: exact resources only, so that any accepted request must be
// for one of these URLs.
var fuzzSeeds = sync.OnceValue(func() (s struct {
	urls      []string
	cookies   []string // Cookie header values, for fuzzResource
	resources map[string]bool
}) {
	loadKeys()
	s.resources = map[string]bool{}
	fuzzResource := "https://cdn.example.com/c/page.html?x=1"
	s.resources[fuzzResource] = true
	add := func(u string, err error) {
		if err != nil {
			panic(err)
		}
		s.urls = append(s.urls, u)
		pu, _ := url.Parse(u)
		s.resources["https://"+pu.Host+pu.EscapedPath()+"?"+StripSigningParams(pu.RawQuery)] = true
	}
	sdk := awssign.NewURLSigner(kidA, rsaA)
	add(sdk.Sign("https://cdn.example.com/a.mp4?lang=en&x=%2F", testExpires))
	add(sdk.SignWithPolicy("https://cdn.example.com/b.pdf?v=2",
		sdkPolicy("https://cdn.example.com/b.pdf?v=2", testExpires, testNow.Add(-1), "192.0.2.0/24")))
	ecs, _ := cfsign.NewSigner(kidEC, ecKey, cfsign.WithHash(crypto.SHA256))
	add(ecs.SignURL("https://cdn.example.com/e.ts?q=1", testExpires))
	add(awssign.NewURLSigner(kidEC, ecKey).Sign("https://cdn.example.com/f.ts?q=1", testExpires))

	rs, _ := cfsign.NewSigner(kidB, rsaB)
	for _, p := range []cfsign.Policy{
		{Resource: fuzzResource, Expires: testExpires},
		{Resource: fuzzResource, Expires: testExpires, SourceIP: "192.0.2.7"},
	} {
		sig, err := rs.Sign(p)
		if err != nil {
			panic(err)
		}
		var parts []string
		for _, c := range sig.Cookies(cfsign.CookieOptions{}) {
			parts = append(parts, c.Name+"="+c.Value)
		}
		s.cookies = append(s.cookies, strings.Join(parts, "; "))
	}
	return s
})

// FuzzCheck: Check never panics, always answers nil or an *Error with a
// known reason, and never accepts a request for a URL nobody signed: the
// fuzzer can mutate the seeds' URLs and cookies but not forge a signature.
// StripSigningParams is idempotent and leaves no signing parameter.
func FuzzCheck(f *testing.F) {
	seeds := fuzzSeeds()
	for _, u := range seeds.urls {
		pu, _ := url.Parse(u)
		f.Add(pu.Host, pu.EscapedPath(), pu.RawQuery, "")
	}
	for _, c := range seeds.cookies {
		f.Add("cdn.example.com", "/c/page.html", "x=1", c)
	}
	// Attack shapes: duplicates, both policy kinds, odd encodings, huge or
	// negative numbers, empty and separator-only values.
	for _, q := range []string{
		"Expires=1&Expires=9999999999&Signature=AAAA&Key-Pair-Id=" + kidA,
		"Policy=e30_&Expires=1&Signature=AAAA&Key-Pair-Id=" + kidA,
		"Policy=%&Signature=%zz&Key-Pair-Id=%",
		"Expires=-1&Signature=&Key-Pair-Id=",
		"Expires=00000000001&Signature=____&Key-Pair-Id=" + kidA,
		"Policy=" + cfsign.Encoding.EncodeToString([]byte(`{"Statement":[{"Resource":"*"}]}`)) + "&Signature=AAAA&Key-Pair-Id=" + kidA,
		"&&&=&==&Signature&Key-Pair-Id&Expires",
		"Hash-Algorithm=SHA256&Hash-Algorithm=SHA1",
		"a=1;Expires=1;Signature=x",
		"Signature=" + strings.Repeat("~", 2000) + "&Key-Pair-Id=K&Expires=1",
	} {
		f.Add("cdn.example.com", "/a.mp4", q, "")
	}
	f.Add("cdn.example.com", "/", "", "CloudFront-Policy=; CloudFront-Signature=; CloudFront-Key-Pair-Id=")
	f.Add("cdn.example.com", "/", "", "CloudFront-Expires=1; CloudFront-Expires=2; CloudFront-Signature=AA__; CloudFront-Key-Pair-Id="+kidA)
	f.Add("cdn.example.com", "/", "", "CloudFront-Policy=%7E%7; CloudFront-Signature=\"x\"; CloudFront-Key-Pair-Id="+kidA+"; CloudFront-Hash-Algorithm=SHA256")

	v := testVerifier(f)
	f.Fuzz(func(t *testing.T, host, path, rawQuery, cookie string) {
		r := &http.Request{
			Method: "GET",
			Host:   host,
			URL:    &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: rawQuery},
			Header: http.Header{},
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		stripped := StripSigningParams(rawQuery)
		if again := StripSigningParams(stripped); again != stripped {
			t.Fatalf("StripSigningParams not idempotent: %q -> %q -> %q", rawQuery, stripped, again)
		}
		for _, seg := range strings.Split(stripped, "&") {
			if name, _, _ := strings.Cut(seg, "="); cfsign.IsSigningParam(name) {
				t.Fatalf("StripSigningParams(%q) = %q keeps %s", rawQuery, stripped, name)
			}
		}
		resource := "https://" + host + path
		if stripped != "" {
			resource += "?" + stripped
		}
		err := v.Check(r, resource, viewerIP, testNow)
		if err == nil {
			if !seeds.resources[resource] {
				t.Fatalf("accepted a request for %q, which nobody signed", resource)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		switch e.Reason {
		case ReasonMissing, ReasonMalformed, ReasonBadSignature, ReasonUnknownKey, ReasonExpired,
			ReasonNotYetValid, ReasonIPNotAllowed, ReasonResourceMismatch:
		default:
			t.Fatalf("unknown reason %q", e.Reason)
		}
	})
}

// TestFuzzSeedsAccepted: the signed seeds pass, so the fuzzer starts from
// accepted requests.
func TestFuzzSeedsAccepted(t *testing.T) {
	v := testVerifier(t)
	seeds := fuzzSeeds()
	for _, u := range seeds.urls {
		wantReason(t, check(t, v, u, viewerIP, testNow), "")
	}
	for _, c := range seeds.cookies {
		r := request(t, "https://cdn.example.com/c/page.html?x=1")
		r.Header.Set("Cookie", c)
		wantReason(t, v.Check(r, ResourceURL(r, "https"), viewerIP, testNow), "")
	}
}
