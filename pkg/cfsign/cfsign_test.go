package cfsign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey
}

var (
	testExpires = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	testStart   = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
)

// resources worth comparing byte for byte: query strings, characters that
// JSON or HTML escaping could touch.
var testResources = []string{
	"https://d111111abcdef8.cloudfront.net/image.jpg",
	"https://cdn.example.com/videos/a%20b.mp4?lang=en&size=720",
	"http://cdn.example.com/q?a=<b>&c='d'&e=\"f\"&g=\\h",
	"https://cdn.example.com/path/with~tilde_and-dash.js?x=1&y=%2F&z",
	"https://cdn.example.com:8443/port?x=%E2%82%AC",
}

func mustSigner(t *testing.T, key crypto.Signer, opts ...Option) *Signer {
	t.Helper()
	s, err := NewSigner("K2JCJMDEHXQW5F", key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCannedMatchesSDK: the canned policy and the RSA signature are the AWS
// SDK's, byte for byte (PKCS#1 v1.5 is deterministic).
func TestCannedMatchesSDK(t *testing.T) {
	rk, _ := testKeys(t)
	s := mustSigner(t, rk)
	for _, res := range testResources {
		t.Run(res, func(t *testing.T) {
			sdkSig, sdkPolicy, err := awssign.NewCannedPolicy(res, testExpires).Sign(rk)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Encoding.DecodeString(string(sdkPolicy))
			if err != nil {
				t.Fatal(err)
			}
			if got := CannedPolicy(res, testExpires.Unix()); !bytes.Equal(got, doc) {
				t.Errorf("canned policy:\n got %s\nwant %s", got, doc)
			}
			sig, err := s.SignCanned(res, testExpires)
			if err != nil {
				t.Fatal(err)
			}
			if sig.Signature != string(sdkSig) {
				t.Errorf("signature differs from the SDK's:\n got %s\nwant %s", sig.Signature, sdkSig)
			}
			if !sig.Canned() || sig.Expires != testExpires.Unix() || sig.HashAlgorithm != "" {
				t.Errorf("signature %+v", sig)
			}

			sdkURL, err := awssign.NewURLSigner("K2JCJMDEHXQW5F", rk).Sign(res, testExpires)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.SignURL(res, testExpires)
			if err != nil {
				t.Fatal(err)
			}
			if got != sdkURL {
				t.Errorf("signed URL:\n got %s\nwant %s", got, sdkURL)
			}
		})
	}
}

func TestCustomMatchesSDK(t *testing.T) {
	rk, _ := testKeys(t)
	s := mustSigner(t, rk)
	cases := []struct {
		name string
		p    Policy
		sdk  awssign.Statement
	}{
		{"wildcard", Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires},
			awssign.Statement{Resource: "https://cdn.example.com/videos/*", Condition: awssign.Condition{DateLessThan: awssign.NewAWSEpochTime(testExpires)}}},
		{"ip", Policy{Resource: "https://cdn.example.com/a?x=1&y=2", Expires: testExpires, SourceIP: "192.0.2.0/24"},
			awssign.Statement{Resource: "https://cdn.example.com/a?x=1&y=2", Condition: awssign.Condition{
				IPAddress: &awssign.IPAddress{SourceIP: "192.0.2.0/24"}, DateLessThan: awssign.NewAWSEpochTime(testExpires)}}},
		{"all", Policy{Resource: "http*://*.example.com/*", Expires: testExpires, Start: testStart, SourceIP: "2001:db8::/32"},
			awssign.Statement{Resource: "http*://*.example.com/*", Condition: awssign.Condition{
				IPAddress:       &awssign.IPAddress{SourceIP: "2001:db8::/32"},
				DateGreaterThan: awssign.NewAWSEpochTime(testStart), DateLessThan: awssign.NewAWSEpochTime(testExpires)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sdkPolicy := &awssign.Policy{Statements: []awssign.Statement{tc.sdk}}
			sdkSig, sdkB64, err := sdkPolicy.Sign(rk)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.SignCustom(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if sig.Policy != string(sdkB64) {
				doc, _ := tc.p.JSON()
				sdkDoc, _ := Encoding.DecodeString(string(sdkB64))
				t.Errorf("policy:\n got %s\nwant %s", doc, sdkDoc)
			}
			if sig.Signature != string(sdkSig) {
				t.Error("signature differs from the SDK's")
			}
			if sig.Canned() {
				t.Error("a custom signature says it is canned")
			}

			u := "https://cdn.example.com/videos/intro.mp4?x=1"
			sdkURL, err := awssign.NewURLSigner("K2JCJMDEHXQW5F", rk).SignWithPolicy(u, sdkPolicy)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.SignURLWithPolicy(u, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if got != sdkURL {
				t.Errorf("signed URL:\n got %s\nwant %s", got, sdkURL)
			}
		})
	}
}

func TestCookiesMatchSDK(t *testing.T) {
	rk, _ := testKeys(t)
	s := mustSigner(t, rk)
	res := "https://cdn.example.com/videos/a.mp4"
	opts := func(o *awssign.CookieOptions) { o.Path = "/videos/"; o.Domain = "cdn.example.com"; o.Secure = true }

	sdkCanned, err := awssign.NewCookieSigner("K2JCJMDEHXQW5F", rk, opts).Sign(res, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignCanned(res, testExpires)
	if err != nil {
		t.Fatal(err)
	}
	got := sig.Cookies(CookieOptions{Path: "/videos/", Domain: "cdn.example.com"})
	// The SDK names the canned cookie CloudFront-Policy but fills it with the
	// canned policy; CloudFront's documented canned cookie is
	// CloudFront-Expires. The signature and the key id are the same.
	if len(got) != 3 || got[0].Name != CookieExpires || got[0].Value != "1803902400" {
		t.Fatalf("canned cookies %v", got)
	}
	for i := 1; i < 3; i++ {
		if got[i].Name != sdkCanned[i].Name || got[i].Value != sdkCanned[i].Value {
			t.Errorf("cookie %d: got %s=%s, SDK %s=%s", i, got[i].Name, got[i].Value, sdkCanned[i].Name, sdkCanned[i].Value)
		}
	}

	p := Policy{Resource: "https://cdn.example.com/videos/*", Expires: testExpires, SourceIP: "192.0.2.1"}
	sdkCustom, err := awssign.NewCookieSigner("K2JCJMDEHXQW5F", rk, opts).SignWithPolicy(&awssign.Policy{Statements: []awssign.Statement{{
		Resource:  p.Resource,
		Condition: awssign.Condition{IPAddress: &awssign.IPAddress{SourceIP: "192.0.2.1"}, DateLessThan: awssign.NewAWSEpochTime(testExpires)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	sig, err = s.SignCustom(p)
	if err != nil {
		t.Fatal(err)
	}
	got = sig.Cookies(CookieOptions{Path: "/videos/", Domain: "cdn.example.com"})
	if len(got) != len(sdkCustom) {
		t.Fatalf("%d cookies, SDK %d", len(got), len(sdkCustom))
	}
	for i := range got {
		if got[i].Name != sdkCustom[i].Name || got[i].Value != sdkCustom[i].Value {
			t.Errorf("cookie %d: got %s=%s, SDK %s=%s", i, got[i].Name, got[i].Value, sdkCustom[i].Name, sdkCustom[i].Value)
		}
		if !got[i].Secure || !got[i].HttpOnly || got[i].Path != "/videos/" || got[i].Domain != "cdn.example.com" {
			t.Errorf("cookie %d attributes: %s", i, got[i])
		}
	}
	if line := got[0].String(); !strings.Contains(line, "; Secure") || !strings.Contains(line, "; HttpOnly") {
		t.Errorf("Set-Cookie %q", line)
	}
	insecure := sig.Cookies(CookieOptions{Insecure: true})
	if insecure[0].Secure {
		t.Error("Insecure cookies are Secure")
	}
}

// TestSignatures checks the signatures themselves, for both key types and
// both digests, against the standard library's verifiers.
func TestSignatures(t *testing.T) {
	rk, ek := testKeys(t)
	doc := CannedPolicy("https://cdn.example.com/x", testExpires.Unix())
	s1, s256 := sha1.Sum(doc), sha256.Sum256(doc)
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		hash   crypto.Hash
		param  string
		verify func(sig []byte) bool
	}{
		{"rsa-sha1", rk, crypto.SHA1, "", func(sig []byte) bool { return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA1, s1[:], sig) == nil }},
		{"rsa-sha256", rk, crypto.SHA256, "SHA256", func(sig []byte) bool { return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, s256[:], sig) == nil }},
		{"ecdsa-sha1", ek, crypto.SHA1, "", func(sig []byte) bool { return ecdsa.VerifyASN1(&ek.PublicKey, s1[:], sig) }},
		{"ecdsa-sha256", ek, crypto.SHA256, "SHA256", func(sig []byte) bool { return ecdsa.VerifyASN1(&ek.PublicKey, s256[:], sig) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSigner(t, tc.key, WithHash(tc.hash))
			sig, err := s.SignCanned("https://cdn.example.com/x", testExpires)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := Encoding.DecodeString(sig.Signature)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.verify(raw) {
				t.Error("the signature does not verify")
			}
			if sig.HashAlgorithm != tc.param {
				t.Errorf("HashAlgorithm %q, want %q", sig.HashAlgorithm, tc.param)
			}
			q := sig.Query()
			if has := strings.Contains(q, "&Hash-Algorithm=SHA256"); has != (tc.param != "") {
				t.Errorf("query %q", q)
			}
			if n := len(sig.Cookies(CookieOptions{})); n != 3+len(sig.HashAlgorithm)/len("SHA256") {
				t.Errorf("%d cookies", n)
			}
		})
	}
	if _, err := NewSigner("K1", rk, WithHash(crypto.MD5)); err == nil {
		t.Error("MD5 accepted")
	}
}

func TestEncoding(t *testing.T) {
	// bytes chosen to produce '+', '/' and padding in standard base64
	in := []byte{0xfb, 0xff, 0xfe, 0x3e}
	got := Encoding.EncodeToString(in)
	if got != "-~~-Pg__" {
		t.Errorf("got %q", got)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9~_-]*$`).MatchString(got) {
		t.Errorf("%q is not URL-safe", got)
	}
	back, err := Encoding.DecodeString(got)
	if err != nil || !bytes.Equal(back, in) {
		t.Errorf("round trip: %x %v", back, err)
	}
	// strict: non-zero unused bits are refused, so one value has one spelling
	if _, err := Encoding.DecodeString("-~~-Ph__"); err == nil {
		t.Error("non-canonical encoding accepted")
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"ok", Policy{Resource: "https://h/x", Expires: testExpires}, true},
		{"any resource", Policy{Expires: testExpires}, true},
		{"no expiry", Policy{Resource: "https://h/x"}, false},
		{"after 2038", Policy{Resource: "https://h/x", Expires: time.Date(2038, 2, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"start after expiry", Policy{Resource: "https://h/x", Expires: testStart, Start: testExpires}, false},
		{"bad ip", Policy{Resource: "https://h/x", Expires: testExpires, SourceIP: "192.0.2.0/33"}, false},
		{"bad ip text", Policy{Resource: "https://h/x", Expires: testExpires, SourceIP: "example.com"}, false},
		{"bare ip", Policy{Resource: "https://h/x", Expires: testExpires, SourceIP: "192.0.2.1"}, true},
		{"ipv6", Policy{Resource: "https://h/x", Expires: testExpires, SourceIP: "2001:db8::/48"}, true},
		{"non-ascii", Policy{Resource: "https://h/é", Expires: testExpires}, false},
		{"control", Policy{Resource: "https://h/\n", Expires: testExpires}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if (Policy{Resource: "https://h/x", Expires: testExpires}).IsCanned() != true ||
		(Policy{Resource: "https://h/*", Expires: testExpires}).IsCanned() ||
		(Policy{Resource: "https://h/x", Expires: testExpires, SourceIP: "192.0.2.1"}).IsCanned() ||
		(Policy{Resource: "https://h/x", Expires: testExpires, Start: testStart}).IsCanned() ||
		(Policy{Expires: testExpires}).IsCanned() {
		t.Error("IsCanned")
	}
	p, err := ParseSourceIP("2001:db8::1")
	if err != nil || p.Bits() != 128 {
		t.Errorf("bare IPv6: %v %v", p, err)
	}
}

func TestSignChoosesPolicy(t *testing.T) {
	rk, _ := testKeys(t)
	s := mustSigner(t, rk)
	sig, err := s.Sign(Policy{Resource: "https://h/x", Expires: testExpires})
	if err != nil || !sig.Canned() {
		t.Fatalf("%+v %v", sig, err)
	}
	sig, err = s.Sign(Policy{Resource: "https://h/*", Expires: testExpires})
	if err != nil || sig.Canned() {
		t.Fatalf("%+v %v", sig, err)
	}
	doc, err := Encoding.DecodeString(sig.Policy)
	if err != nil || string(doc) != `{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":1803902400}}}]}` {
		t.Errorf("policy %s %v", doc, err)
	}
	sig, err = s.Sign(Policy{Expires: testExpires})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ = Encoding.DecodeString(sig.Policy)
	if string(doc) != `{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1803902400}}}]}` {
		t.Errorf("policy without resource: %s", doc)
	}
}

func TestSignURLChecks(t *testing.T) {
	rk, _ := testKeys(t)
	s := mustSigner(t, rk)
	for _, u := range []string{
		"https://h/x?Expires=1",
		"https://h/x?a=1&Signature=x",
		"https://h/x?Key-Pair-Id=K",
		"https://h/x?Policy=",
		"https://h/x?Hash-Algorithm=SHA256",
		"/relative",
	} {
		if _, err := s.SignURL(u, testExpires); err == nil {
			t.Errorf("SignURL(%q) accepted", u)
		}
	}
	got, err := s.SignURL("https://h/x?a=1#frag", testExpires)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "https://h/x?a=1&Expires=1803902400&Signature=") || !strings.HasSuffix(got, "&Key-Pair-Id=K2JCJMDEHXQW5F#frag") {
		t.Errorf("got %s", got)
	}
	if _, err := NewSigner("", rk); err == nil {
		t.Error("empty key id accepted")
	}
	if _, err := NewSigner("K 1", rk); err == nil {
		t.Error("key id with a space accepted")
	}
}

func TestKeys(t *testing.T) {
	for _, kt := range []KeyType{KeyRSA, KeyECDSA} {
		t.Run(string(kt), func(t *testing.T) {
			key, err := GenerateKey(kt)
			if err != nil {
				t.Fatal(err)
			}
			privPEM, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivateKeyPEM(privPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Error("round trip changed the key")
			}
			pubPEM, err := MarshalPublicKeyPEM(key.Public())
			if err != nil || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
				t.Fatalf("%s %v", pubPEM, err)
			}
			if _, err := ParsePrivateKeyPEM(pubPEM); err == nil {
				t.Error("a public key parsed as a private key")
			}
			// The AWS SDK's loaders read what we write.
			switch kt {
			case KeyRSA:
				if _, err := awssign.LoadPEMPrivKey(bytes.NewReader(privPEM)); err != nil {
					t.Errorf("SDK LoadPEMPrivKey: %v", err)
				}
			case KeyECDSA:
				if _, err := awssign.LoadPEMPrivKeyPKCS8AsSigner(bytes.NewReader(privPEM)); err != nil {
					t.Errorf("SDK LoadPEMPrivKeyPKCS8AsSigner: %v", err)
				}
			}
		})
	}
	if _, err := GenerateKey("dsa"); err == nil {
		t.Error("unknown key type accepted")
	}

	_, ek := testKeys(t)
	// openssl ecparam -genkey writes EC PARAMETERS then EC PRIVATE KEY.
	sec1, err := x509.MarshalECPrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	openssl := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...)
	if k, err := ParsePrivateKeyPEM(openssl); err != nil || !k.Public().(*ecdsa.PublicKey).Equal(&ek.PublicKey) {
		t.Errorf("openssl EC key: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	if _, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err == nil {
		t.Error("P-384 key accepted")
	}
	if _, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted key: %v", err)
	}
	if _, err := ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Error("garbage accepted")
	}

	idRE := regexp.MustCompile(`^K[A-Z2-7]{13}$`)
	a, b := NewKeyID(), NewKeyID()
	if !idRE.MatchString(a) || a == b {
		t.Errorf("key ids %q %q", a, b)
	}
}

func TestCookieHeaderIsValid(t *testing.T) {
	rk, _ := testKeys(t)
	sig, err := mustSigner(t, rk, WithHash(crypto.SHA256)).SignCustom(Policy{Resource: "https://h/*", Expires: testExpires})
	if err != nil {
		t.Fatal(err)
	}
	// Every value survives a Set-Cookie / Cookie round trip through net/http.
	resp := http.Response{Header: http.Header{}}
	for _, c := range sig.Cookies(CookieOptions{Path: "/"}) {
		resp.Header.Add("Set-Cookie", c.String())
	}
	got := map[string]string{}
	for _, c := range resp.Cookies() {
		got[c.Name] = c.Value
	}
	if got[CookiePolicy] != sig.Policy || got[CookieSignature] != sig.Signature || got[CookieKeyPairID] != "K2JCJMDEHXQW5F" || got[CookieHashAlgorithm] != "SHA256" {
		t.Errorf("cookies after a round trip: %v", got)
	}
}
