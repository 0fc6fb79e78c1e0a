package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/signedurl"
)

// signTestNow is the clock of the sign commands in these tests.
var signTestNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fixSignClock(t *testing.T) {
	t.Helper()
	old := signNow
	signNow = func() time.Time { return signTestNow }
	t.Cleanup(func() { signNow = old })
}

func runSign(t *testing.T, cmd func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmd(args, &out, &errb)
	return code, out.String(), errb.String()
}

// createKey runs "strata keys create" into a new directory and returns the
// directory, the key id and the configuration the printed YAML makes.
func createKey(t *testing.T, typ string) (dir, id string, cfg *config.Config) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keys")
	code, out, errs := runSign(t, Keys, "create", "--type", typ, "--out", dir, "--name", "test signer")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, errs)
	}
	// The printed YAML is a valid publicKeys section: with a key group
	// around it, the configuration loads and the key parses.
	doc := out + "keyGroups:\n  - id: signers\n    items: [" + idFromYAML(t, out) + "]\n"
	cfg, err := config.Parse([]byte(doc), "keys.yaml")
	if err != nil {
		t.Fatalf("printed YAML does not load: %v\n%s", err, doc)
	}
	if len(cfg.PublicKeys) != 1 || cfg.PublicKeys[0].Name != "test signer" {
		t.Fatalf("public keys %+v", cfg.PublicKeys)
	}
	return dir, cfg.PublicKeys[0].ID, cfg
}

func idFromYAML(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "- id: "); ok {
			return s
		}
	}
	t.Fatalf("no id in %q", out)
	return ""
}

func verifierFor(t *testing.T, cfg *config.Config) *signedurl.Verifier {
	t.Helper()
	keys, err := signedurl.KeysFromConfig(cfg, []string{"signers"})
	if err != nil {
		t.Fatal(err)
	}
	return signedurl.NewVerifier(keys)
}

func checkURL(t *testing.T, v *signedurl.Verifier, raw string, ip string, cookies ...*http.Cookie) error {
	t.Helper()
	r, err := http.NewRequest("GET", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return v.Check(r, signedurl.ResourceURL(r, r.URL.Scheme), netip.MustParseAddr(ip), signTestNow)
}

func TestKeysCreate(t *testing.T) {
	for _, typ := range []string{"rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			dir, id, cfg := createKey(t, typ)
			st, err := os.Stat(filepath.Join(dir, "private.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("private.pem mode %v", st.Mode().Perm())
			}
			pub, err := os.ReadFile(filepath.Join(dir, "public.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(pub)) != strings.TrimSpace(cfg.PublicKeys[0].EncodedKey) {
				t.Error("public.pem and the printed key differ")
			}
			key, err := cfg.PublicKeys[0].ParseKey()
			if err != nil {
				t.Fatal(err)
			}
			switch key.(type) {
			case *rsa.PublicKey:
				if typ != "rsa" {
					t.Errorf("got an RSA key for %s", typ)
				}
			case *ecdsa.PublicKey:
				if typ != "ecdsa" {
					t.Errorf("got an ECDSA key for %s", typ)
				}
			}
			if !strings.HasPrefix(id, "K") || len(id) != 14 {
				t.Errorf("key id %q", id)
			}

			// A second run never overwrites the key.
			priv, _ := os.ReadFile(filepath.Join(dir, "private.pem"))
			code, _, errs := runSign(t, Keys, "create", "--out", dir)
			if code != 1 || !strings.Contains(errs, "already exists") {
				t.Errorf("second create: %d %q", code, errs)
			}
			again, _ := os.ReadFile(filepath.Join(dir, "private.pem"))
			if !bytes.Equal(priv, again) {
				t.Error("the private key was overwritten")
			}
		})
	}
	for _, args := range [][]string{
		nil,
		{"rotate"},
		{"create", "--type", "dsa"},
		{"create", "--id", "-bad"},
		{"create", "extra"},
	} {
		if code, _, _ := runSign(t, Keys, args...); code != 2 {
			t.Errorf("keys %q: exit %d, want 2", args, code)
		}
	}
	dir := t.TempDir()
	code, out, _ := runSign(t, Keys, "create", "--out", dir, "--id", "signer-2026")
	if code != 0 || !strings.Contains(out, "  - id: signer-2026\n") {
		t.Errorf("--id: %d %q", code, out)
	}
}

// TestSignURLMatchesSDK: for an RSA key, "strata sign-url" prints what the
// AWS SDK prints, byte for byte, and Strata's verifier accepts it.
func TestSignURLMatchesSDK(t *testing.T) {
	fixSignClock(t)
	dir, id, cfg := createKey(t, "rsa")
	keyFile := filepath.Join(dir, "private.pem")
	v := verifierFor(t, cfg)
	sdkKey, err := awssign.LoadPEMPrivKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	u := "https://cdn.example.com/videos/a.mp4?lang=en&x=%2F"

	code, out, errs := runSign(t, SignURL, "--key", keyFile, "--key-id", id, "--url", u, "--ttl", "1h")
	if code != 0 {
		t.Fatalf("sign-url: %d %s", code, errs)
	}
	signed := strings.TrimSpace(out)
	want, err := awssign.NewURLSigner(id, sdkKey).Sign(u, signTestNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if signed != want {
		t.Errorf("sign-url:\n got %s\nwant %s", signed, want)
	}
	if err := checkURL(t, v, signed, "192.0.2.7"); err != nil {
		t.Errorf("refused: %v", err)
	}
	if err := checkURL(t, v, strings.Replace(signed, "lang=en", "lang=fr", 1), "192.0.2.7"); signedurl.ReasonOf(err) != signedurl.ReasonBadSignature {
		t.Errorf("tampered: %v", err)
	}

	// --expires and a positional URL give the same URL.
	code, out, _ = runSign(t, SignURL, u, "--key", keyFile, "--key-id", id, "--expires", "2026-06-01T13:00:00Z")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("--expires: %d %s", code, out)
	}

	// Custom policy: the SDK's custom URL for the same policy.
	code, out, errs = runSign(t, SignURL, "--key", keyFile, "--key-id", id, "--url", u,
		"--expires", "2026-06-01T13:00:00Z", "--start", "2026-06-01T11:00:00Z", "--ip", "192.0.2.0/24")
	if code != 0 {
		t.Fatalf("custom: %d %s", code, errs)
	}
	want, err = awssign.NewURLSigner(id, sdkKey).SignWithPolicy(u, &awssign.Policy{Statements: []awssign.Statement{{
		Resource: u,
		Condition: awssign.Condition{
			IPAddress:       &awssign.IPAddress{SourceIP: "192.0.2.0/24"},
			DateGreaterThan: awssign.NewAWSEpochTime(time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)),
			DateLessThan:    awssign.NewAWSEpochTime(time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC)),
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != want {
		t.Errorf("custom:\n got %s\nwant %s", out, want)
	}
	if err := checkURL(t, v, strings.TrimSpace(out), "192.0.2.9"); err != nil {
		t.Errorf("custom refused: %v", err)
	}
	if err := checkURL(t, v, strings.TrimSpace(out), "198.51.100.1"); signedurl.ReasonOf(err) != signedurl.ReasonIPNotAllowed {
		t.Errorf("custom from another address: %v", err)
	}
}

func TestSignURLWildcardAndECDSA(t *testing.T) {
	fixSignClock(t)
	dir, id, cfg := createKey(t, "ecdsa")
	keyFile := filepath.Join(dir, "private.pem")
	v := verifierFor(t, cfg)

	for _, hash := range []string{"sha1", "sha256"} {
		t.Run(hash, func(t *testing.T) {
			// A wildcard URL forces a custom policy; the query works on every covered URL.
			code, out, errs := runSign(t, SignURL, "--key", keyFile, "--key-id", id, "--hash", hash,
				"--url", "https://cdn.example.com/videos/*", "--ttl", "30m")
			if code != 0 {
				t.Fatalf("%d %s", code, errs)
			}
			signed := strings.TrimSpace(out)
			if !strings.Contains(signed, "?Policy=") || strings.Contains(signed, "Expires=") {
				t.Fatalf("not a custom policy: %s", signed)
			}
			if got := strings.Contains(signed, "&Hash-Algorithm=SHA256"); got != (hash == "sha256") {
				t.Errorf("Hash-Algorithm in %s", signed)
			}
			if !strings.Contains(errs, "wildcard") {
				t.Errorf("no note about the wildcard: %q", errs)
			}
			_, query, _ := strings.Cut(signed, "?")
			for _, u := range []string{"https://cdn.example.com/videos/a.mp4", "https://cdn.example.com/videos/s1/e2.ts"} {
				if err := checkURL(t, v, u+"?"+query, "203.0.113.5"); err != nil {
					t.Errorf("%s refused: %v", u, err)
				}
			}
			if err := checkURL(t, v, "https://cdn.example.com/private/a.mp4?"+query, "203.0.113.5"); signedurl.ReasonOf(err) != signedurl.ReasonResourceMismatch {
				t.Errorf("outside the wildcard: %v", err)
			}
			if err := checkURL(t, v, "https://cdn.example.com/videos/a.mp4?"+query, "203.0.113.5"); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}

	// --resource with a concrete --url.
	code, out, errs := runSign(t, SignURL, "--key", keyFile, "--key-id", id,
		"--url", "https://cdn.example.com/videos/a.mp4", "--resource", "https://cdn.example.com/videos/*", "--ttl", "30m")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	if err := checkURL(t, v, strings.TrimSpace(out), "203.0.113.5"); err != nil {
		t.Errorf("--resource: %v", err)
	}
	// Expired by the verifier's clock an hour later.
	r, _ := http.NewRequest("GET", strings.TrimSpace(out), nil)
	if err := v.Check(r, signedurl.ResourceURL(r, "https"), netip.MustParseAddr("203.0.113.5"), signTestNow.Add(time.Hour)); signedurl.ReasonOf(err) != signedurl.ReasonExpired {
		t.Errorf("after the ttl: %v", err)
	}
}

func TestSignCookie(t *testing.T) {
	fixSignClock(t)
	dir, id, cfg := createKey(t, "rsa")
	keyFile := filepath.Join(dir, "private.pem")
	v := verifierFor(t, cfg)
	parse := func(out string) []*http.Cookie {
		t.Helper()
		resp := http.Response{Header: http.Header{}}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			v, ok := strings.CutPrefix(line, "Set-Cookie: ")
			if !ok {
				t.Fatalf("not a Set-Cookie line: %q", line)
			}
			resp.Header.Add("Set-Cookie", v)
		}
		return resp.Cookies()
	}

	// Custom, with a wildcard and SHA-256: four cookies.
	code, out, errs := runSign(t, SignCookie, "--key", keyFile, "--key-id", id, "--hash", "sha256",
		"--resource", "https://cdn.example.com/videos/*", "--ttl", "1h", "--domain", "cdn.example.com", "--path", "/videos/")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	cookies := parse(out)
	names := []string{}
	for _, c := range cookies {
		names = append(names, c.Name)
		if !c.Secure || !c.HttpOnly || c.Path != "/videos/" || c.Domain != "cdn.example.com" {
			t.Errorf("cookie attributes: %s", c)
		}
	}
	if strings.Join(names, ",") != "CloudFront-Policy,CloudFront-Signature,CloudFront-Key-Pair-Id,CloudFront-Hash-Algorithm" {
		t.Errorf("cookies %v", names)
	}
	if err := checkURL(t, v, "https://cdn.example.com/videos/x/y.ts", "192.0.2.1", cookies...); err != nil {
		t.Errorf("custom cookies refused: %v", err)
	}
	if err := checkURL(t, v, "https://cdn.example.com/other.ts", "192.0.2.1", cookies...); signedurl.ReasonOf(err) != signedurl.ReasonResourceMismatch {
		t.Errorf("custom cookies elsewhere: %v", err)
	}

	// Canned: three cookies for exactly one URL.
	u := "https://cdn.example.com/videos/a.mp4"
	code, out, errs = runSign(t, SignCookie, "--key", keyFile, "--key-id", id, "--url", u, "--expires", "2026-06-02", "--insecure")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	cookies = parse(out)
	if len(cookies) != 3 || cookies[0].Name != "CloudFront-Expires" || cookies[0].Value != "1780358400" || cookies[0].Secure {
		t.Fatalf("canned cookies %v", cookies)
	}
	if err := checkURL(t, v, u, "192.0.2.1", cookies...); err != nil {
		t.Errorf("canned cookies refused: %v", err)
	}
	if err := checkURL(t, v, "https://cdn.example.com/videos/b.mp4", "192.0.2.1", cookies...); signedurl.ReasonOf(err) != signedurl.ReasonBadSignature {
		t.Errorf("canned cookies for another file: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	fixSignClock(t)
	dir, id, _ := createKey(t, "rsa")
	keyFile := filepath.Join(dir, "private.pem")
	base := []string{"--key", keyFile, "--key-id", id}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no key", []string{"--key-id", id, "--url", "https://h/x", "--ttl", "1h"}, 2, "--key"},
		{"no key id", []string{"--key", keyFile, "--url", "https://h/x", "--ttl", "1h"}, 2, "--key-id"},
		{"no url", append(base, "--ttl", "1h"), 2, "--url"},
		{"no expiry", append(base, "--url", "https://h/x"), 2, "--expires"},
		{"both expiries", append(base, "--url", "https://h/x", "--ttl", "1h", "--expires", "2027-01-01"), 2, "not both"},
		{"bad time", append(base, "--url", "https://h/x", "--expires", "tomorrow"), 2, "not a time"},
		{"past", append(base, "--url", "https://h/x", "--expires", "2020-01-01"), 1, "not in the future"},
		{"after 2038", append(base, "--url", "https://h/x", "--expires", "2040-01-01"), 1, "2038"},
		{"relative url", append(base, "--url", "/x", "--ttl", "1h"), 2, "absolute"},
		{"ftp url", append(base, "--url", "ftp://h/x", "--ttl", "1h"), 2, "http"},
		{"canned with ip", append(base, "--url", "https://h/x", "--ttl", "1h", "--ip", "192.0.2.1", "--policy", "canned"), 2, "custom"},
		{"canned with wildcard", append(base, "--url", "https://h/*", "--ttl", "1h", "--policy", "canned"), 2, "custom"},
		{"bad policy", append(base, "--url", "https://h/x", "--ttl", "1h", "--policy", "fancy"), 2, "auto"},
		{"bad ip", append(base, "--url", "https://h/x", "--ttl", "1h", "--ip", "300.1.1.1"), 1, "source IP"},
		{"bad hash", append(base, "--url", "https://h/x", "--ttl", "1h", "--hash", "md5"), 2, "sha256"},
		{"reserved param", append(base, "--url", "https://h/x?Expires=1", "--ttl", "1h"), 1, "Expires"},
		{"missing key file", []string{"--key", filepath.Join(dir, "nope.pem"), "--key-id", id, "--url", "https://h/x", "--ttl", "1h"}, 1, "nope.pem"},
		{"public key file", []string{"--key", filepath.Join(dir, "public.pem"), "--key-id", id, "--url", "https://h/x", "--ttl", "1h"}, 1, "private key"},
		{"unknown flag", append(base, "--bogus"), 2, "bogus"},
		{"two urls", append(base, "https://h/a", "https://h/b", "--ttl", "1h"), 2, "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runSign(t, SignURL, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, out, errs, tc.msg)
			}
		})
	}
	if code, _, errs := runSign(t, SignCookie, "--key", keyFile, "--key-id", id, "--ttl", "1h"); code != 2 || !strings.Contains(errs, "--resource") {
		t.Errorf("sign-cookie without a resource: %d %q", code, errs)
	}
	if code, _, errs := runSign(t, SignCookie, "--key", keyFile, "--key-id", id, "--url", "https://h/x", "--ttl", "1h", "--domain", "bad domain"); code != 2 || !strings.Contains(errs, "omain") {
		t.Errorf("sign-cookie with a bad domain: %d %q", code, errs)
	}
	if code, _, errs := runSign(t, SignURL, "-h"); code != 0 || !strings.Contains(errs, "Usage: strata sign-url") {
		t.Errorf("-h: %d %q", code, errs)
	}
}
