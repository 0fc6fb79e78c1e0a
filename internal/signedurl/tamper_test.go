package signedurl

import (
	"crypto"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// urlSafe are the characters a tamper may put in: RFC 3986 unreserved.
const urlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// checkRaw checks a raw URL as a server would receive it; a URL that does
// not parse never reaches Check and counts as refused. The scheme is taken
// as written: url.Parse lowercases it, but a PoP knows it from the
// connection, and "HTTPS" is no tamper a viewer can make.
func checkRaw(v *Verifier, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return &Error{Reason: ReasonMissing, Detail: "unparsable"}
	}
	scheme, _, _ := strings.Cut(raw, "://")
	r := &http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}
	return v.Check(r, ResourceURL(r, scheme), viewerIP, testNow)
}

// TestTamperEveryPosition is a property test: changing any single byte of a
// signed URL (scheme, host, path, query, parameter names and values,
// separators) into any other URL-safe character gets the URL refused, except
// inside the part a wildcard policy deliberately leaves open.
func TestTamperEveryPosition(t *testing.T) {
	v := testVerifier(t)
	sdk := awssign.NewURLSigner(kidA, rsaA)
	sdkCanned, err := sdk.Sign("https://cdn.example.com/videos/a.mp4?lang=en&size=720", testExpires)
	if err != nil {
		t.Fatal(err)
	}
	sdkIP, err := sdk.SignWithPolicy("https://cdn.example.com/dl/report.pdf?v=2",
		sdkPolicy("https://cdn.example.com/dl/report.pdf?v=2", testExpires, testNow.Add(-time.Hour), "192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	sdkWild, err := sdk.SignWithPolicy("https://cdn.example.com/videos/intro.mp4?x=1",
		sdkPolicy("https://cdn.example.com/videos/*", testExpires, time.Time{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	ec, err := signer(t, kidEC, ecKey, cfsign.WithHash(crypto.SHA256)).SignURL("https://cdn.example.com/e.ts?q=1", testExpires)
	if err != nil {
		t.Fatal(err)
	}
	rsaB256, err := signer(t, kidB, rsaB, cfsign.WithHash(crypto.SHA256)).SignURLWithPolicy("https://cdn.example.com/b.ts",
		cfsign.Policy{Resource: "https://cdn.example.com/b.ts", Expires: testExpires, SourceIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		url  string
		// open is the part a wildcard covers: a change there may pass.
		open string
	}{
		{"sdk canned", sdkCanned, ""},
		{"sdk custom ip and start", sdkIP, ""},
		{"sdk wildcard", sdkWild, "intro.mp4?x=1"},
		{"ecdsa sha256 canned", ec, ""},
		{"rsa sha256 custom", rsaB256, ""},
	}
	// Outside the long base64 values every replacement is tried; inside them
	// (hundreds of characters that all end in a signature check), a rotating
	// quarter of the replacements at each position (an eighth under -short),
	// which still changes every position.
	stride := 4
	if testing.Short() {
		stride = 8
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkRaw(v, tc.url); err != nil {
				t.Fatalf("the untouched URL is refused: %v", err)
			}
			openFrom, openTo := -1, -1
			if tc.open != "" {
				openFrom = strings.Index(tc.url, tc.open)
				openTo = openFrom + len(tc.open)
			}
			// the base64 values: Policy (custom) and Signature
			valueFrom := strings.Index(tc.url, "Policy=")
			if valueFrom < 0 {
				valueFrom = strings.Index(tc.url, "Signature=")
			}
			valueTo := strings.Index(tc.url, "&Key-Pair-Id=")
			tried, accepted := 0, 0
			for i := 0; i < len(tc.url); i++ {
				inValue := i > valueFrom && i < valueTo
				for j := 0; j < len(urlSafe); j++ {
					c := urlSafe[j]
					if c == tc.url[i] {
						continue
					}
					if inValue && (i+j)%stride != 0 {
						continue
					}
					mutated := tc.url[:i] + string(c) + tc.url[i+1:]
					tried++
					err := checkRaw(v, mutated)
					if err == nil {
						accepted++
						if i < openFrom || i >= openTo {
							t.Errorf("accepted with byte %d (%q) changed to %q: %s", i, tc.url[i], c, mutated)
						}
						continue
					}
					if ReasonOf(err) == "" {
						t.Errorf("%s: error %T %v", mutated, err, err)
					}
				}
			}
			if tc.open != "" && accepted == 0 {
				t.Error("no change inside the wildcard passed: the test does not exercise what it claims")
			}
			t.Logf("%d tampered URLs, %d accepted (inside the wildcard)", tried, accepted)
		})
	}
}
