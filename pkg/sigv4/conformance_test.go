package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// The reference for everything here is AWS's own signer.

var (
	testNow    = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	testRegion = "eu-central-1"
	testCreds  = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
)

func testSecrets(id string) (string, bool) {
	switch id {
	case testCreds.AccessKeyID:
		return testCreds.SecretAccessKey, true
	case "AKIDSECOND":
		return "second-secret", true
	}
	return "", false
}

// reqCase is a request to sign. Headers are name/value pairs, added in order
// (a name given twice has two values).
type reqCase struct {
	name     string
	method   string
	url      string
	host     string // r.Host, when not the URL's
	headers  [][2]string
	body     string
	unsigned bool // sign with UNSIGNED-PAYLOAD instead of the body's hash
	// wantSigned is the SignedHeaders value Sign must produce, when given
	// (x-amz-security-token is added for the session-token variant).
	wantSigned string
	wantHost   string // the host that must be signed (r.Host after signing), when given
}

var reqCases = []reqCase{
	{name: "plain GET", method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt",
		wantSigned: "host;x-amz-content-sha256;x-amz-date"},
	{name: "empty path", method: "GET", url: "https://example.com"},
	{name: "root", method: "GET", url: "https://example.com/"},
	{name: "spaces in path", method: "GET", url: "https://example.com/my%20bucket/a%20b%20%20c.txt"},
	{name: "unicode path", method: "GET", url: "https://example.com/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC.txt"},
	{name: "encoded slash", method: "GET", url: "https://example.com/a%2Fb/c%2f"},
	{name: "plus and equals", method: "GET", url: "https://example.com/a+b=c/d;e:f@g!$&'()*,"},
	{name: "percent in path", method: "GET", url: "https://example.com/100%25/%2525"},
	{name: "dots and double slashes", method: "GET", url: "https://example.com//a/./b/../c~d//"},
	{name: "query sorting and repeats", method: "GET",
		url: "https://example.com/q?b=2&a=1&a=0&a=10&c=&d&e=x%20y+z&f=%2F%3D%26%3F&g=a/b&g=a-b&%E2%9C%93=%E2%9C%93&Z=upper&~t.i-l_d=~.-_"},
	{name: "query specials", method: "GET",
		url: "https://example.com/q?x=%21%27%28%29%2A&y=%00%7F%FF&prefix=photos%2F2026%2F&list-type=2&delimiter=%2F&empty="},
	{name: "query key only", method: "GET", url: "https://example.com/?acl"},
	{name: "headers", method: "PUT", url: "https://example.com/obj",
		headers: [][2]string{
			{"Content-Type", "text/plain;  charset=utf-8"},
			{"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
			{"X-Amz-Meta-Spaces", "  a   b  c "},
			{"X-Amz-Meta-Multi", "one"},
			{"X-Amz-Meta-Multi", " two  too "},
			{"X-Amz-Meta-Tab", "a\tb"},
			{"X-Amz-Meta-Empty", ""},
			{"X-Amz-Storage-Class", "STANDARD_IA"},
			{"X-Custom", "not signed"},
			{"Accept", "*/*"},
			{"User-Agent", "strata-test"},
		},
		body:       "hello, world\n",
		wantSigned: "content-md5;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-empty;x-amz-meta-multi;x-amz-meta-spaces;x-amz-meta-tab;x-amz-storage-class"},
	{name: "unsigned payload", method: "PUT", url: "https://example.com/upload", body: "some bytes", unsigned: true},
	{name: "POST body", method: "POST", url: "https://example.com/form?action=go",
		headers: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}}, body: "a=1&b=2"},
	{name: "DELETE", method: "DELETE", url: "https://example.com/obj?versionId=3%2F4"},
	{name: "http default port", method: "GET", url: "http://example.com:80/x", wantHost: "example.com"},
	{name: "https default port", method: "GET", url: "https://example.com:443/x", wantHost: "example.com"},
	{name: "http custom port", method: "GET", url: "http://example.com:8080/x", wantHost: "example.com:8080"},
	{name: "https on port 80", method: "GET", url: "https://example.com:80/x", wantHost: "example.com:80"},
	{name: "http on port 443", method: "GET", url: "http://example.com:443/x", wantHost: "example.com:443"},
	{name: "loopback with port", method: "GET", url: "http://127.0.0.1:9000/bucket/key", wantHost: "127.0.0.1:9000"},
	{name: "host override", method: "GET", url: "http://127.0.0.1:9000/key", host: "origin.example.org", wantHost: "origin.example.org"},
	{name: "host override default port", method: "GET", url: "http://127.0.0.1:9000/key", host: "origin.example.org:80", wantHost: "origin.example.org"},
	{name: "upper-case host", method: "GET", url: "https://Example.COM/Key"},
}

func (c reqCase) payloadHash() string {
	if c.unsigned {
		return UnsignedPayload
	}
	sum := sha256.Sum256([]byte(c.body))
	return hex.EncodeToString(sum[:])
}

func (c reqCase) newRequest(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = c.host
	for _, h := range c.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

// awsSign signs r with AWS's signer the way the SDK would: the path
// pre-escaped as the SDK escapes S3 keys, X-Amz-Content-Sha256 set (the SDK's
// middleware does that, not the signer), path escaping disabled for s3.
func awsSign(t testing.TB, r *http.Request, creds Credentials, service, payloadHash string) {
	t.Helper()
	r.URL.RawPath = httpbinding.EscapePath(r.URL.Path, false)
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := awsv4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
		r, payloadHash, service, testRegion, testNow,
		func(o *awsv4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		t.Fatal(err)
	}
}

// signedByUs says, independently of the code under test, whether Sign signs
// a header.
func signedByUs(name string) bool {
	l := strings.ToLower(name)
	return l == "content-type" || l == "content-md5" || strings.HasPrefix(l, "x-amz-")
}

// variants runs f for every case, for s3 and another service, with and
// without a session token.
func variants(t *testing.T, f func(t *testing.T, c reqCase, service string, creds Credentials)) {
	for _, c := range reqCases {
		for _, service := range []string{"s3", "strata"} {
			for _, token := range []string{"", "FwoGZXIvYXdzEBYaDH+token/with=specials"} {
				creds := testCreds
				creds.SessionToken = token
				name := c.name + "/" + service
				if token != "" {
					name += "/token"
				}
				t.Run(name, func(t *testing.T) { f(t, c, service, creds) })
			}
		}
	}
}

func TestSignMatchesAWS(t *testing.T) {
	variants(t, func(t *testing.T, c reqCase, service string, creds Credentials) {
		ph := c.payloadHash()
		ours := c.newRequest(t)
		if err := Sign(ours, creds, testRegion, service, testNow, ph); err != nil {
			t.Fatal(err)
		}

		theirs := c.newRequest(t)
		for k := range theirs.Header {
			if !signedByUs(k) {
				delete(theirs.Header, k)
			}
		}
		theirs.ContentLength = 0 // AWS signs content-length when positive; Sign does not
		awsSign(t, theirs, creds, service, ph)

		if got, want := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
			t.Errorf("Authorization\n got %s\nwant %s", got, want)
		}
		for _, h := range []string{"X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"} {
			if got, want := ours.Header.Values(h), theirs.Header.Values(h); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s = %q, AWS has %q", h, got, want)
			}
		}
		if ours.Host != theirs.Host {
			t.Errorf("r.Host = %q, AWS set %q", ours.Host, theirs.Host)
		}
		if c.wantHost != "" && ours.Host != c.wantHost && !(ours.Host == "" && ours.URL.Host == c.wantHost) {
			t.Errorf("signed host: r.Host %q, URL.Host %q; want %q", ours.Host, ours.URL.Host, c.wantHost)
		}
		if c.wantSigned != "" {
			names := strings.Split(c.wantSigned, ";")
			if creds.SessionToken != "" {
				names = append(names, "x-amz-security-token")
			}
			slices.Sort(names)
			want := strings.Join(names, ";")
			if !strings.Contains(ours.Header.Get("Authorization"), "SignedHeaders="+want+",") {
				t.Errorf("Authorization %s: want SignedHeaders=%s", ours.Header.Get("Authorization"), want)
			}
		}
		if err := Verify(ours, testSecrets, testRegion, service, testNow, 0); err != nil {
			t.Errorf("Verify(signed by Sign): %v", err)
		}
	})
}

// TestVerifyAcceptsAWS: every request AWS's signer signs, with all the
// headers it chooses to sign (content-length, accept, ...), passes Verify,
// and its body reads back whole.
func TestVerifyAcceptsAWS(t *testing.T) {
	variants(t, func(t *testing.T, c reqCase, service string, creds Credentials) {
		r := c.newRequest(t)
		awsSign(t, r, creds, service, c.payloadHash())
		if err := Verify(r, testSecrets, testRegion, service, testNow, 0); err != nil {
			t.Fatalf("Verify: %v\nAuthorization: %s", err, r.Header.Get("Authorization"))
		}
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil || string(b) != c.body {
				t.Fatalf("body read = %q, %v; want %q", b, err, c.body)
			}
		}
	})
}

// TestSignIPv6Host: the one place Sign departs from AWS's signer on purpose.
func TestSignIPv6Host(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://[::1]:443/x", "[::1]"},
		{"http://[::1]:80/x", "[::1]"},
		{"http://[::1]:8080/x", "[::1]:8080"},
		{"http://[fe80::1]/x", "[fe80::1]"},
	} {
		r, _ := http.NewRequest("GET", tc.url, nil)
		if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
			t.Fatal(err)
		}
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		if host != tc.want {
			t.Errorf("%s: signed host %q, want %q", tc.url, host, tc.want)
		}
		if err := Verify(r, testSecrets, testRegion, "strata", testNow, 0); err != nil {
			t.Errorf("%s: Verify: %v", tc.url, err)
		}
	}
}

// awsv4Sign signs r with AWS's signer as it is, without the SDK's
// middleware: no X-Amz-Content-Sha256 header, no path pre-escaping.
func awsv4Sign(r *http.Request, service, payloadHash string) error {
	return awsv4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey},
		r, payloadHash, service, testRegion, testNow)
}
