package signedurl

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/pkg/cfsign"
)

const target = "https://cdn.example.com/videos/a.mp4?lang=en"

// sigOf returns the Signature value of a signed URL.
func sigOf(u string) string {
	_, s, _ := strings.Cut(u, "&Signature=")
	s, _, _ = strings.Cut(s, "&")
	return s
}

// customURL signs doc (any JSON, well formed or not) with key A and returns
// target carrying it.
func customURL(t *testing.T, doc string) string {
	t.Helper()
	loadKeys()
	sig, err := signer(t, kidA, rsaA).SignPolicyJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sig.AppendToURL(target)
}

func TestReasons(t *testing.T) {
	v := testVerifier(t)
	sa := signer(t, kidA, rsaA)
	canned, err := sa.SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	custom := func(p cfsign.Policy) string {
		t.Helper()
		u, err := sa.SignURLWithPolicy(target, p)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	unknownKey, err := signer(t, "KNOTTRUSTED", rsaWild).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := signer(t, kidA, rsaWild).SignURL(target, testExpires) // right id, wrong private key
	if err != nil {
		t.Fatal(err)
	}
	expBig := strings.Replace(canned, "Expires=", "Expires=9", 1)
	expires := strconv.FormatInt(testExpires.Unix(), 10)
	otherExp := strings.Replace(canned, "Expires="+expires, "Expires="+strconv.FormatInt(testExpires.Unix()+3600, 10), 1)

	cases := []struct {
		name string
		url  string
		ip   netip.Addr
		now  time.Time
		want Reason
	}{
		{"canned ok", canned, viewerIP, testNow, ""},
		{"canned last second", canned, viewerIP, testExpires.Add(-time.Second), ""},
		{"expired at the second", canned, viewerIP, testExpires, ReasonExpired},
		{"expired later", canned, viewerIP, testExpires.Add(24 * time.Hour), ReasonExpired},
		{"custom ok", custom(cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires}), viewerIP, testNow, ""},
		{"custom expired", custom(cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testNow}), viewerIP, testNow, ReasonExpired},
		{"not yet valid", custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Start: testNow.Add(time.Second), Expires: testExpires}), viewerIP, testNow, ReasonNotYetValid},
		{"valid from the second", custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Start: testNow, Expires: testExpires}), viewerIP, testNow, ""},
		{"wrong ip", custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires, SourceIP: "198.51.100.0/24"}), viewerIP, testNow, ReasonIPNotAllowed},
		{"wrong ip family", custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires, SourceIP: "2001:db8::/32"}), viewerIP, testNow, ReasonIPNotAllowed},
		{"right ipv6", custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires, SourceIP: "2001:db8::/32"}), netip.MustParseAddr("2001:db8:1::5"), testNow, ""},
		{"unknown key id", unknownKey, viewerIP, testNow, ReasonUnknownKey},
		{"bad signature (other key)", wrongKey, viewerIP, testNow, ReasonBadSignature},
		{"expires past 2038", expBig, viewerIP, testNow, ReasonMalformed},
		{"bad signature (other expiry)", otherExp, viewerIP, testNow, ReasonBadSignature},
		{"bad signature (swapped)", strings.Replace(canned, sigOf(canned), sigOf(wrongKey), 1), viewerIP, testNow, ReasonBadSignature},
		{"canned other path", strings.Replace(canned, "/a.mp4", "/b.mp4", 1), viewerIP, testNow, ReasonBadSignature},
		{"canned other host", strings.Replace(canned, "cdn.example.com", "evil.example.com", 1), viewerIP, testNow, ReasonBadSignature},
		{"custom other path", strings.Replace(custom(cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires}), "/videos/", "/private/", 1), viewerIP, testNow, ReasonResourceMismatch},
		{"custom other host", strings.Replace(custom(cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires}), "cdn.example.com", "evil.example.com", 1), viewerIP, testNow, ReasonResourceMismatch},
		{"custom extra query", strings.Replace(custom(cfsign.Policy{Resource: target, Expires: testExpires}), "lang=en", "lang=en&admin=1", 1), viewerIP, testNow, ReasonResourceMismatch},
		{"policy bad base64", strings.Replace(custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires}), "Policy=", "Policy=%", 1), viewerIP, testNow, ReasonMalformed},
		{"policy not base64 alphabet", strings.Replace(custom(cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires}), "Policy=", "Policy=.", 1), viewerIP, testNow, ReasonMalformed},
		{"policy bad json", customURL(t, `{"Statement":[{"Resource":"https://cdn.example.com/*",`), viewerIP, testNow, ReasonMalformed},
		{"policy no DateLessThan", customURL(t, `{"Statement":[{"Resource":"https://cdn.example.com/*","Condition":{"DateGreaterThan":{"AWS:EpochTime":1}}}]}`), viewerIP, testNow, ReasonMalformed},
		{"policy unknown condition", customURL(t, `{"Statement":[{"Resource":"https://cdn.example.com/*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"StringLike":{"x":"y"}}}]}`), viewerIP, testNow, ReasonMalformed},
		{"signature bad base64", strings.Replace(canned, "&Signature=", "&Signature=@", 1), viewerIP, testNow, ReasonMalformed},
		{"signature with space", strings.Replace(canned, "&Signature=", "&Signature=+", 1), viewerIP, testNow, ReasonMalformed},
		{"expires not a number", strings.Replace(canned, "Expires=", "Expires=x", 1), viewerIP, testNow, ReasonMalformed},
		{"expires leading zero", strings.Replace(canned, "Expires=", "Expires=0", 1), viewerIP, testNow, ReasonMalformed},
		{"unknown hash", canned + "&Hash-Algorithm=MD5", viewerIP, testNow, ReasonMalformed},
		{"no parameters", target, viewerIP, testNow, ReasonMissing},
		{"no signature", strings.Replace(canned, "&Signature=", "&Signatur=", 1), viewerIP, testNow, ReasonMissing},
		{"empty signature", strings.Replace(canned, "&Signature="+sigOf(canned), "&Signature=", 1), viewerIP, testNow, ReasonMissing},
		{"no key id", strings.Replace(canned, "&Key-Pair-Id=", "&Key-Pair-ID=", 1), viewerIP, testNow, ReasonMissing},
		{"no expires", strings.Replace(canned, "Expires=", "Expiry=", 1), viewerIP, testNow, ReasonMissing},
		{"expires and policy", canned + "&Policy=e30_", viewerIP, testNow, ReasonMalformed},
		{"duplicate expires", canned + "&Expires=2147483647", viewerIP, testNow, ReasonMalformed},
		{"duplicate key id", canned + "&Key-Pair-Id=" + kidA, viewerIP, testNow, ReasonMalformed},
		{"key id too long", strings.Replace(canned, "Key-Pair-Id=", "Key-Pair-Id="+strings.Repeat("K", 200), 1), viewerIP, testNow, ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := check(t, v, tc.url, tc.ip, tc.now)
			wantReason(t, err, tc.want)
			if _, ok := err.(*Error); err != nil && (!ok || !strings.HasPrefix(err.Error(), "signed url: "+string(tc.want))) {
				t.Errorf("error %T %q", err, err)
			}
		})
	}
}

// TestMalformedPolicies: documents signed with a trusted key that are not
// valid policies are refused as malformed, never allowed.
func TestMalformedPolicies(t *testing.T) {
	v := testVerifier(t)
	const cond = `"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}`
	for _, doc := range []string{
		`not json`,
		`{}`,
		`[]`,
		`null`,
		`{"Statement":null}`,
		`{"Statement":[]}`,
		`{"Statement":[{` + cond + `},{` + cond + `}]}`,
		`{"Statement":[{"Resource":"https://cdn.example.com/*"}]}`,
		`{"Statement":[{"Resource":"https://cdn.example.com/*","Condition":null}]}`,
		`{"Statement":[{"Resource":null,` + cond + `}]}`,
		`{"Statement":[{"Resource":42,` + cond + `}]}`,
		`{"Statement":[{"Resource":"*",` + cond + `,"Effect":"Allow"}]}`,
		`{"Statement":[{"resource":"*",` + cond + `}]}`,
		`{"Statement":[{"Resource":"*",` + cond + `}],"Version":"2012"}`,
		`{"Statement":[{"Resource":"*",` + cond + `}]}garbage`,
		`{"Statement":[{"Resource":"*",` + cond + `}]}{}`,
		`{"Statement":[{"Resource":"*","Resource":"https://x/",` + cond + `}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":"2000000000"}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2e9}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000.5}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":-1}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":99999999999999999999}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"aws:epochtime":2000000000}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"IpAddress":{"AWS:SourceIp":"not-an-ip"}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"IpAddress":{"AWS:SourceIp":["192.0.2.0/24"]}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"IpAddress":{}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"IpAddress":{"AWS:SourceIp":"fe80::1%eth0"}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},"DateGreaterThan":{"AWS:EpochTime":null}}}]}`,
	} {
		t.Run(doc, func(t *testing.T) {
			wantReason(t, check(t, v, customURL(t, doc), viewerIP, testNow), ReasonMalformed)
		})
	}
	// Shapes CloudFront documents are accepted: a bare statement object,
	// whitespace, any order in Condition, no Resource (every URL).
	for _, doc := range []string{
		`{"Statement":{"Resource":"https://cdn.example.com/*",` + cond + `}}`,
		"{ \"Statement\" : [ {\n\"Condition\":{\"IpAddress\":{\"AWS:SourceIp\":\"192.0.2.0/24\"},\"DateLessThan\":{\"AWS:EpochTime\":2000000000}},\"Resource\":\"https://cdn.example.com/videos/*\"} ] }",
		`{"Statement":[{` + cond + `}]}`,
		`{"Statement":[{"Resource":"*",` + cond + `}]}`,
	} {
		t.Run("ok "+doc, func(t *testing.T) {
			wantReason(t, check(t, v, customURL(t, doc), viewerIP, testNow), "")
		})
	}
}

func TestSizeBounds(t *testing.T) {
	v := testVerifier(t)
	big := `{"Statement":[{"Resource":"https://cdn.example.com/` + strings.Repeat("a", 7000) + `*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}`
	wantReason(t, check(t, v, customURL(t, big), viewerIP, testNow), ReasonMalformed)
	canned, _ := signer(t, kidA, rsaA).SignURL(target, testExpires)
	wantReason(t, check(t, v, strings.Replace(canned, "&Signature=", "&Signature="+strings.Repeat("A", 2000), 1), viewerIP, testNow), ReasonMalformed)
	wantReason(t, check(t, v, strings.Replace(canned, "&Signature=", "&Signature="+strings.Repeat("A", 20000), 1), viewerIP, testNow), ReasonMalformed)
	// A policy just under the bound is fine.
	ok := `{"Statement":[{"Resource":"https://cdn.example.com/` + strings.Repeat("a", 5000) + `*","Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}`
	u := customURL(t, ok)
	wantReason(t, check(t, v, strings.Replace(u, "/videos/a.mp4", "/"+strings.Repeat("a", 5000)+"/x", 1), viewerIP, testNow), "")
}

func TestHashAlgorithms(t *testing.T) {
	v := testVerifier(t)
	p := cfsign.Policy{Resource: "https://cdn.example.com/*", Expires: testExpires}
	rsa256, err := signer(t, kidA, rsaA, cfsign.WithHash(crypto.SHA256)).SignURLWithPolicy(target, p)
	if err != nil {
		t.Fatal(err)
	}
	ec256, err := signer(t, kidEC, ecKey, cfsign.WithHash(crypto.SHA256)).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	ec1, err := signer(t, kidEC, ecKey).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	rsa1, err := signer(t, kidA, rsaA).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rsa256, "&Hash-Algorithm=SHA256") {
		t.Fatalf("no Hash-Algorithm in %s", rsa256)
	}
	drop := func(u string) string { return strings.TrimSuffix(u, "&Hash-Algorithm=SHA256") }
	for _, tc := range []struct {
		name, url string
		want      Reason
	}{
		{"rsa sha256", rsa256, ""},
		{"rsa sha256 without the parameter", drop(rsa256), ReasonBadSignature},
		{"rsa sha1 claiming sha256", rsa1 + "&Hash-Algorithm=SHA256", ReasonBadSignature},
		{"rsa sha1 explicit", rsa1 + "&Hash-Algorithm=SHA1", ""},
		{"ecdsa sha1", ec1, ""},
		{"ecdsa sha256", ec256, ""},
		{"ecdsa sha256 without the parameter", drop(ec256), ""}, // accepted for ECDSA keys
		{"ecdsa sha1 claiming sha256", ec1 + "&Hash-Algorithm=SHA256", ReasonBadSignature},
		{"lowercase", strings.Replace(rsa256, "=SHA256", "=sha256", 1), ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantReason(t, check(t, v, tc.url, viewerIP, testNow), tc.want)
		})
	}

	// Cookies carry it as CloudFront-Hash-Algorithm.
	sig, err := signer(t, kidA, rsaA, cfsign.WithHash(crypto.SHA256)).SignCustom(p)
	if err != nil {
		t.Fatal(err)
	}
	r := request(t, target)
	for _, c := range sig.Cookies(cfsign.CookieOptions{}) {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	wantReason(t, v.Check(r, ResourceURL(r, "https"), viewerIP, testNow), "")

	// An ECDSA signature over SHA-256 of the wrong document still fails.
	d := sha256.Sum256([]byte("other"))
	bad, _ := ecKey.Sign(nil, d[:], crypto.SHA256)
	forged := strings.Replace(drop(ec256), "&Signature="+sigOf(ec256), "&Signature="+cfsign.Encoding.EncodeToString(bad), 1)
	wantReason(t, check(t, v, forged, viewerIP, testNow), ReasonBadSignature)
}

func TestCookies(t *testing.T) {
	v := testVerifier(t)
	sa := signer(t, kidA, rsaA)
	cannedSig, err := sa.SignCanned(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	customSig, err := sa.SignCustom(cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires})
	if err != nil {
		t.Fatal(err)
	}
	withCookies := func(u string, cs []*http.Cookie) *http.Request {
		r := request(t, u)
		for _, c := range cs {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return r
	}
	chk := func(r *http.Request, now time.Time) error { return v.Check(r, ResourceURL(r, "https"), viewerIP, now) }
	canned := cannedSig.Cookies(cfsign.CookieOptions{})
	custom := customSig.Cookies(cfsign.CookieOptions{})

	wantReason(t, chk(withCookies(target, canned), testNow), "")
	wantReason(t, chk(withCookies(target, canned), testExpires), ReasonExpired)
	wantReason(t, chk(withCookies("https://cdn.example.com/videos/b.mp4", canned), testNow), ReasonBadSignature)
	wantReason(t, chk(withCookies("https://cdn.example.com/videos/b.mp4?x=1", custom), testNow), "")
	wantReason(t, chk(withCookies("https://cdn.example.com/img/b.png", custom), testNow), ReasonResourceMismatch)
	wantReason(t, chk(withCookies(target, custom[1:]), testNow), ReasonMissing)                           // no policy
	wantReason(t, chk(withCookies(target, custom[:2]), testNow), ReasonMissing)                           // no key id
	wantReason(t, chk(withCookies(target, []*http.Cookie{custom[0], custom[2]}), testNow), ReasonMissing) // no signature
	wantReason(t, chk(withCookies(target, nil), testNow), ReasonMissing)

	// Policy wins over a leftover CloudFront-Expires.
	mixed := append([]*http.Cookie{canned[0]}, custom...)
	wantReason(t, chk(withCookies(target, mixed), testNow), "")

	// Percent-encoded values (some frameworks escape '~') are decoded.
	escaped := []*http.Cookie{
		{Name: custom[0].Name, Value: strings.ReplaceAll(custom[0].Value, "~", "%7E")},
		{Name: custom[1].Name, Value: strings.ReplaceAll(custom[1].Value, "~", "%7E")},
		custom[2],
	}
	wantReason(t, chk(withCookies(target, escaped), testNow), "")

	// A signed URL wins over cookies, both ways.
	goodURL, _ := sa.SignURL(target, testExpires)
	badURL := strings.Replace(goodURL, "lang=en", "lang=fr", 1)
	wantReason(t, chk(withCookies(badURL, custom), testNow), ReasonBadSignature)
	wantReason(t, chk(withCookies(goodURL, []*http.Cookie{{Name: "CloudFront-Policy", Value: "garbage"}, custom[1], custom[2]}), testNow), "")
	// A Hash-Algorithm parameter alone does not switch to the URL.
	wantReason(t, chk(withCookies(target+"&Hash-Algorithm=SHA1", custom), testNow), "")
}

func TestKeyRotation(t *testing.T) {
	v := testVerifier(t)
	ua, err := signer(t, kidA, rsaA).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := signer(t, kidB, rsaB).SignURL(target, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, check(t, v, ua, viewerIP, testNow), "")
	wantReason(t, check(t, v, ub, viewerIP, testNow), "")
	// Each signature only under its own key id.
	wantReason(t, check(t, v, strings.Replace(ua, kidA, kidB, 1), viewerIP, testNow), ReasonBadSignature)
	wantReason(t, check(t, v, strings.Replace(ub, kidB, kidA, 1), viewerIP, testNow), ReasonBadSignature)
	// After rotation (only B trusted), A's URLs are refused.
	vb := NewVerifier([]Key{{ID: kidB, Public: &rsaB.PublicKey}})
	wantReason(t, check(t, vb, ua, viewerIP, testNow), ReasonUnknownKey)
	wantReason(t, check(t, vb, ub, viewerIP, testNow), "")
	// No keys: everything is an unknown key.
	wantReason(t, check(t, NewVerifier(nil), ub, viewerIP, testNow), ReasonUnknownKey)
	// An unsupported key type verifies nothing.
	vx := NewVerifier([]Key{{ID: kidA, Public: "not a key"}})
	wantReason(t, check(t, vx, ua, viewerIP, testNow), ReasonBadSignature)
}

func TestStripSigningParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a=1&b=2", "a=1&b=2"},
		{"Expires=1&Signature=x&Key-Pair-Id=K", ""},
		{"b=2&a=1&Expires=1&Signature=x&Key-Pair-Id=K", "b=2&a=1"},
		{"z=%2F&Policy=abc&y=a+b&Signature=x&Key-Pair-Id=K&x=%7e", "z=%2F&y=a+b&x=%7e"},
		{"a=1&Expires=1&Signature=x&Key-Pair-Id=K&Hash-Algorithm=SHA256", "a=1"},
		{"a&b=&=c&Signature", "a&b=&=c"},
		{"a=1&&b=2", "a=1&&b=2"},
		{"a=1&&Expires=1", "a=1&"},
		{"expires=1&EXPIRES=2&Expires2=3&MyPolicy=4", "expires=1&EXPIRES=2&Expires2=3&MyPolicy=4"},
		{"Key%2DPair-Id=K&x=Signature", "Key%2DPair-Id=K&x=Signature"},
		{"x=1&x=2&x=1", "x=1&x=2&x=1"},
	} {
		if got := StripSigningParams(tc.in); got != tc.want {
			t.Errorf("StripSigningParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResourceURL(t *testing.T) {
	r := httptest.NewRequest("GET", "/a%20b/c%2Fd?x=1&Expires=2&y=%2F&Signature=s&Key-Pair-Id=K", nil)
	r.Host = "cdn.example.com:8443"
	if got, want := ResourceURL(r, "https"), "https://cdn.example.com:8443/a%20b/c%2Fd?x=1&y=%2F"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	r = httptest.NewRequest("GET", "/plain?Expires=2&Signature=s&Key-Pair-Id=K", nil)
	r.Host = "h"
	if got := ResourceURL(r, "http"); got != "http://h/plain" {
		t.Errorf("got %s", got)
	}
	// A path written with needless escapes keeps them, as the signer wrote it.
	r = httptest.NewRequest("GET", "/%61bc", nil)
	r.Host = "h"
	if got := ResourceURL(r, "http"); got != "http://h/%61bc" {
		t.Errorf("got %s", got)
	}
}

func TestMatchResource(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"https://h/a", "https://h/a", true},
		{"https://h/a", "https://h/ab", false},
		{"https://h/a", "https://h/", false},
		{"*", "", true},
		{"*", "anything://at/all?x", true},
		{"https://h/*", "https://h/", true},
		{"https://h/*", "https://h/a/b/c?x=1", true},
		{"https://h/*", "https://h", false},
		{"https://h/*.mp4", "https://h/a/b.mp4", true},
		{"https://h/*.mp4", "https://h/a/b.mp4?x=1", false},
		{"https://h/*.mp4*", "https://h/a/b.mp4?x=1", true},
		{"https://h/*game_download.zip*", "https://h/example_game_download.zip?license=yes", true},
		{"https://h/*game_download.zip*", "https://h/game_download.zip", true},
		{"https://h/*game_download.zip*", "https://h/game.zip", false},
		{"*://h/x", "http://h/x", true},
		{"http*://h/x", "https://h/x", true},
		{"http*://h/x", "ftp://h/x", false},
		{"https://*.example.com/*", "https://a.example.com/x", true},
		{"https://*.example.com/*", "https://example.com/x", false},
		{"https://h/a?b", "https://h/a?b", true}, // unescaped '?' is a one-character wildcard
		{"https://h/a?b", "https://h/axb", true},
		{"https://h/a?b", "https://h/ab", false},
		{"https://h/a\\?b", "https://h/a?b", true},
		{"https://h/a\\?b", "https://h/axb", false},
		{"https://h/file-???.ts", "https://h/file-001.ts", true},
		{"https://h/file-???.ts", "https://h/file-01.ts", false},
		{"https://h/a*b*c", "https://h/abc", true},
		{"https://h/a*b*c", "https://h/aXbYbZc", true},
		{"https://h/a*b*c", "https://h/acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"**", "", true},
		{"a*?b", "ab", false},
		{"a*?b", "axb", true},
		{"*?\\?*", "x?", true},
		{"*?\\?*", "?", false},
		{"https://h/a\\b", "https://h/a\\b", true},
		{"https://h/*", "https://H/x", false}, // case-sensitive
		{"", "", true},
		{"", "x", false},
	} {
		if got := matchResource(tc.pattern, tc.s); got != tc.want {
			t.Errorf("matchResource(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestMatchResourceLong(t *testing.T) {
	// Many stars against a long URL that almost matches: linear-ish, not exponential.
	pattern := strings.Repeat("a*", 200) + "b"
	s := strings.Repeat("a", 100000)
	start := time.Now()
	if matchResource(pattern, s) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestReasonOf(t *testing.T) {
	if ReasonOf(nil) != "" || ReasonOf(http.ErrNoCookie) != "" {
		t.Error("ReasonOf of a non-refusal")
	}
	if (&Error{Reason: ReasonExpired}).Error() != "signed url: expired" {
		t.Error("Error()")
	}
}

func TestKeysFromConfig(t *testing.T) {
	loadKeys()
	pemA, _ := cfsign.MarshalPublicKeyPEM(&rsaA.PublicKey)
	pemB, _ := cfsign.MarshalPublicKeyPEM(&rsaB.PublicKey)
	pemEC, _ := cfsign.MarshalPublicKeyPEM(&ecKey.PublicKey)
	cfg := &config.Config{
		PublicKeys: []config.PublicKey{
			{ID: kidA, EncodedKey: string(pemA)},
			{ID: kidB, EncodedKey: string(pemB)},
			{ID: kidEC, EncodedKey: string(pemEC)},
		},
		KeyGroups: []config.KeyGroup{
			{ID: "old", Items: []string{kidA}},
			{ID: "new", Items: []string{kidB, kidA}},
			{ID: "ec", Items: []string{kidEC}},
			{ID: "broken", Items: []string{"KMISSING"}},
		},
	}
	keys, err := KeysFromConfig(cfg, []string{"old", "new"})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != kidA || keys[1].ID != kidB {
		t.Fatalf("keys %v", keys)
	}
	v := NewVerifier(keys)
	ub, _ := signer(t, kidB, rsaB).SignURL(target, testExpires)
	uec, _ := signer(t, kidEC, ecKey).SignURL(target, testExpires)
	wantReason(t, check(t, v, ub, viewerIP, testNow), "")
	wantReason(t, check(t, v, uec, viewerIP, testNow), ReasonUnknownKey)
	keys, err = KeysFromConfig(cfg, []string{"ec"})
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, check(t, NewVerifier(keys), uec, viewerIP, testNow), "")
	if _, err := KeysFromConfig(cfg, []string{"nope"}); err == nil {
		t.Error("unknown group accepted")
	}
	if _, err := KeysFromConfig(cfg, []string{"broken"}); err == nil {
		t.Error("group with an undeclared key accepted")
	}
}

func TestCheckNilAndOddRequests(t *testing.T) {
	v := testVerifier(t)
	wantReason(t, v.Check(nil, "", viewerIP, testNow), ReasonMissing)
	wantReason(t, v.Check(&http.Request{}, "", viewerIP, testNow), ReasonMissing)
	r := &http.Request{Header: http.Header{"Cookie": {"CloudFront-Key-Pair-Id=" + kidA + "; CloudFront-Signature=AAAA; CloudFront-Expires=notanumber"}}}
	wantReason(t, v.Check(r, "https://h/", viewerIP, testNow), ReasonMalformed)
}

// TestVerifiedCache: a signature that verified once is remembered, but only
// for the same key id, digest, policy and signature; the conditions are
// checked on every request; concurrent checks agree.
func TestVerifiedCache(t *testing.T) {
	v := testVerifier(t)
	sa := signer(t, kidA, rsaA)
	good, err := sa.SignURLWithPolicy(target, cfsign.Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires, SourceIP: "192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, check(t, v, good, viewerIP, testNow), "")
	if len(v.verified) != 1 {
		t.Fatalf("%d remembered signatures, want 1", len(v.verified))
	}
	// Remembered, yet every condition still applies.
	wantReason(t, check(t, v, good, viewerIP, testExpires), ReasonExpired)
	wantReason(t, check(t, v, good, netip.MustParseAddr("198.51.100.1"), testNow), ReasonIPNotAllowed)
	wantReason(t, check(t, v, strings.Replace(good, "/videos/", "/private/", 1), viewerIP, testNow), ReasonResourceMismatch)
	// The same signature under another trusted key id is not the same entry.
	wantReason(t, check(t, v, strings.Replace(good, kidA, kidB, 1), viewerIP, testNow), ReasonBadSignature)
	wantReason(t, check(t, v, good+"&Hash-Algorithm=SHA256", viewerIP, testNow), ReasonBadSignature)

	other, _ := sa.SignURL(target, testExpires)
	urls := []struct {
		url  string
		want Reason
	}{
		{good, ""},
		{other, ""},
		{strings.Replace(other, "lang=en", "lang=de", 1), ReasonBadSignature},
		{strings.Replace(good, kidA, kidB, 1), ReasonBadSignature},
	}
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 20; i++ {
				u := urls[(g+i)%len(urls)]
				if err := check(t, v, u.url, viewerIP, testNow); ReasonOf(err) != u.want {
					t.Errorf("%s: %v, want %q", u.url, err, u.want)
					return
				}
			}
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}

	// The memory is bounded.
	v2 := testVerifier(t)
	for i := range maxVerified + 10 {
		v2.verified[fmt.Sprint("memo-", i)] = struct{}{}
		if len(v2.verified) > maxVerified {
			break
		}
	}
	wantReason(t, check(t, v2, good, viewerIP, testNow), "")
	if len(v2.verified) > maxVerified {
		t.Errorf("%d remembered signatures", len(v2.verified))
	}
}

func BenchmarkCheck(b *testing.B) {
	v := testVerifier(b)
	rsaURL, _ := signer(b, kidA, rsaA).SignURL(target, testExpires)
	ecURL, _ := signer(b, kidEC, ecKey).SignURL(target, testExpires)
	for _, bc := range []struct{ name, url string }{{"rsa", rsaURL}, {"ecdsa", ecURL}} {
		r := request(b, bc.url)
		res := ResourceURL(r, "https")
		b.Run(bc.name+"/repeat", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Check(r, res, viewerIP, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/first", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(v.verified)
				clear(v.accepted)
				if err := v.Check(r, res, viewerIP, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareRSAVerify is the reference for BenchmarkCheck/rsa/first: the
// SHA-1 digest and PKCS#1 v1.5 verification alone, same key size.
func BenchmarkBareRSAVerify(b *testing.B) {
	msg := []byte(`{"Statement":[{"Resource":"https://d.example/private/a.mp4","Condition":{"DateLessThan":{"AWS:EpochTime":1795639888}}}]}`)
	sum := sha1.Sum(msg)
	sig, err := rsa.SignPKCS1v15(nil, rsaA, crypto.SHA1, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := sha1.Sum(msg)
		if err := rsa.VerifyPKCS1v15(&rsaA.PublicKey, crypto.SHA1, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// A policy for a prefix covers that prefix only: not a sibling whose name
// merely starts the same way, and the second before expiry still passes.
func TestPrefixAndBoundary(t *testing.T) {
	v := testVerifier(t)
	s := signer(t, kidA, rsaA)
	sig, err := s.SignCustom(cfsign.Policy{Resource: "https://d.example/private/*", Expires: testExpires})
	if err != nil {
		t.Fatal(err)
	}
	q := "?" + sig.Query()
	wantReason(t, check(t, v, "https://d.example/private/a.mp4"+q, viewerIP, testExpires.Add(-time.Second)), "")
	wantReason(t, check(t, v, "https://d.example/private/a.mp4"+q, viewerIP, testExpires), ReasonExpired)
	wantReason(t, check(t, v, "https://d.example/private-other/a.mp4"+q, viewerIP, testNow), ReasonResourceMismatch)
	wantReason(t, check(t, v, "https://d.example/privatex"+q, viewerIP, testNow), ReasonResourceMismatch)
	wantReason(t, check(t, v, "https://d.example/Private/a.mp4"+q, viewerIP, testNow), ReasonResourceMismatch)
}

// A URL remembered as accepted still has its conditions checked each time.
func TestAcceptedMemoKeepsConditions(t *testing.T) {
	v := testVerifier(t)
	s := signer(t, kidA, rsaA)
	sig, err := s.SignCustom(cfsign.Policy{Resource: "https://d.example/v/*", Expires: testExpires, SourceIP: "192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	u := "https://d.example/v/a.mp4?" + sig.Query()
	inside, outside := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.7")
	wantReason(t, check(t, v, u, inside, testNow), "")
	if len(v.accepted) != 1 {
		t.Fatalf("%d accepted entries", len(v.accepted))
	}
	wantReason(t, check(t, v, u, outside, testNow), ReasonIPNotAllowed)
	wantReason(t, check(t, v, u, inside, testExpires), ReasonExpired)
	wantReason(t, check(t, v, "https://d.example/w/a.mp4?"+sig.Query(), inside, testNow), ReasonResourceMismatch)
	canned, _ := s.SignURL("https://d.example/v/b.mp4", testExpires)
	wantReason(t, check(t, v, canned, inside, testNow), "")
	wantReason(t, check(t, v, canned, inside, testExpires), ReasonExpired)
}
