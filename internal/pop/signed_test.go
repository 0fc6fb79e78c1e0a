package pop

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awssign "github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/pkg/cfsign"
)

func TestSignedURLsAndCookies(t *testing.T) {
	key, err := cfsign.GenerateKey(cfsign.KeyRSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := cfsign.MarshalPublicKeyPEM(key.Public())
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "private video, query="+r.URL.RawQuery)
	}
	mutate := func(cf *config.Config) {
		cf.PublicKeys = []config.PublicKey{{ID: "K1", Name: "k1", EncodedKey: string(pub)}}
		cf.KeyGroups = []config.KeyGroup{{ID: "g1", Name: "g1", Items: []string{"K1"}}}
		cf.Distributions[0].Aliases = []string{"videos.example"}
		cf.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/private/*", TargetOriginID: "o",
			CachePolicyID: "p", TrustedKeyGroups: []string{"g1"}}}
	}
	signer, err := cfsign.NewSigner("K1", key)
	if err != nil {
		t.Fatal(err)
	}
	eachTopology(t, netOpts{}, origin, mutate, func(t *testing.T, n *network) {
		base, o := n.urls[n.viewer], n.origin
		get := func(rawURL string, cookies ...*http.Cookie) response {
			req, _ := http.NewRequest("GET", strings.Replace(rawURL, "http://videos.example", base, 1), nil)
			req.Host = "videos.example"
			for _, ck := range cookies {
				req.AddCookie(ck)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return response{resp.StatusCode, resp.Header, string(b)}
		}
		resource := "http://videos.example/private/movie.mp4?quality=hd"
		signed, err := signer.SignURL(resource, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		r := get(signed)
		if r.status != 200 || r.body != "private video, query=quality=hd" {
			t.Fatalf("signed URL: %d %q", r.status, r.body)
		}
		// Another signature for the same resource hits the same cached object.
		again, _ := signer.SignURL(resource, time.Now().Add(2*time.Hour))
		if r := get(again); r.header.Get("X-Cache") != "Hit from strata" {
			t.Fatalf("signing parameters are in the cache key: %q", r.header.Get("X-Cache"))
		}
		// Refusals, before the cache is consulted.
		for name, u := range map[string]string{
			"unsigned":      resource,
			"tampered path": strings.Replace(signed, "movie", "movif", 1),
			"other query":   strings.Replace(signed, "quality=hd", "quality=4k", 1),
		} {
			if r := get(u); r.status != 403 || !strings.Contains(r.body, "signed URL refused") {
				t.Fatalf("%s: %d %q", name, r.status, r.body)
			}
		}
		expired, _ := signer.SignURL(resource, time.Now().Add(-time.Minute))
		if r := get(expired); r.status != 403 || !strings.Contains(r.body, "expired") {
			t.Fatalf("expired: %d %q", r.status, r.body)
		}
		// Signed cookies for a wildcard resource.
		sig, err := signer.SignCustom(cfsign.Policy{Resource: "http://videos.example/private/*", Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r := get("http://videos.example/private/other.mp4", sig.Cookies(cfsign.CookieOptions{})...); r.status != 200 {
			t.Fatalf("signed cookies: %d %q", r.status, r.body)
		}
		// A policy for /private/* covers neither /private-other nor, through
		// dot segments or encodings, anything outside its prefix.
		wide, _ := signer.SignCustom(cfsign.Policy{Resource: "http://videos.example/public/*", Expires: time.Now().Add(time.Hour)})
		for _, path := range []string{"/public/../private/movie.mp4", "/public/%2e%2e/private/movie.mp4", "/public/..%2fprivate/movie.mp4"} {
			if r := get("http://videos.example" + path + "?" + wide.Query()); r.status == 200 && strings.HasPrefix(r.body, "private video") {
				t.Fatalf("%s escaped the signed prefix: %q", path, r.body)
			}
		}
		narrow, _ := signer.SignCustom(cfsign.Policy{Resource: "http://videos.example/private/*", Expires: time.Now().Add(time.Hour)})
		_ = narrow // /private-other is outside the /private/* behavior; internal/signedurl tests that the policy does not match it
		// Paths outside the behavior need no signature.
		if r := get("http://videos.example/public.txt"); r.status != 200 {
			t.Fatalf("public path: %d", r.status)
		}
		if n := o.count("/private/movie.mp4"); n != 1 {
			t.Fatalf("origin count %d", n)
		}
	})
}

// TestSignedThroughTiers: URLs and cookies signed by the AWS SDK's
// reference signer are checked at the edge only, whatever tiers are behind
// it; what they protect is never handed to an unsigned or tampered request,
// from the edge's cache or from a regional PoP asked directly.
func TestSignedThroughTiers(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "private video "+r.URL.Path+" query="+r.URL.RawQuery+" cookie="+r.Header.Get("Cookie"))
	}
	mutate := func(cf *config.Config) {
		cf.PublicKeys = []config.PublicKey{{ID: "K1", Name: "k1", EncodedKey: string(pub)}}
		cf.KeyGroups = []config.KeyGroup{{ID: "g1", Name: "g1", Items: []string{"K1"}}}
		cf.Distributions[0].Aliases = []string{"videos.example"}
		cf.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/private/*", TargetOriginID: "o",
			CachePolicyID: "p", TrustedKeyGroups: []string{"g1"}}}
	}
	urls := awssign.NewURLSigner("K1", key)
	cookies := awssign.NewCookieSigner("K1", key)
	eachTopology(t, netOpts{tls: true}, origin, mutate, func(t *testing.T, n *network) {
		get := func(id, rawURL string, ck ...*http.Cookie) response {
			t.Helper()
			u, err := url.Parse(rawURL)
			if err != nil {
				t.Fatal(err)
			}
			return n.send(id, viewerReq{host: u.Host, path: u.RequestURI(), https: u.Scheme == "https", cookies: ck})
		}
		refused := func(what string, r response) {
			t.Helper()
			if r.status != 403 || strings.Contains(r.body, "private video") {
				t.Fatalf("%s: %d %q", what, r.status, r.body)
			}
		}
		for _, scheme := range []string{"https", "http"} {
			resource := scheme + "://videos.example/private/movie-" + scheme + ".mp4?quality=hd"
			path := "/private/movie-" + scheme + ".mp4"
			signed, err := urls.Sign(resource, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			r := get(n.viewer, signed)
			if r.status != 200 || r.body != "private video "+path+" query=quality=hd cookie=" {
				t.Fatalf("%s signed URL: %d %q", scheme, r.status, r.body)
			}
			// Another signature for the same resource: the edge's copy.
			again, _ := urls.Sign(resource, time.Now().Add(2*time.Hour))
			expectXCache(t, get(n.viewer, again), "Hit")
			// Refused at the edge, before its cache: unsigned, tampered,
			// signed for another query or for the other scheme.
			refused("unsigned", get(n.viewer, resource))
			refused("tampered path", get(n.viewer, strings.Replace(signed, "movie", "movif", 1)))
			refused("other query", get(n.viewer, strings.Replace(signed, "quality=hd", "quality=4k", 1)))
			other := "http"
			if scheme == "http" {
				other = "https"
			}
			refused("other scheme", get(n.viewer, strings.Replace(signed, scheme+"://", other+"://", 1)))
			if c := n.origin.count(path); c != 1 {
				t.Fatalf("%s: origin count %d, want 1", path, c)
			}
		}
		if c := n.origin.count("/private/movif-https.mp4"); c != 0 {
			t.Fatalf("a tampered URL reached the origin %d times", c)
		}
		// Signed cookies, canned and custom (a wildcard), made by the SDK.
		canned, err := cookies.Sign("https://videos.example/private/canned.mp4", time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if r := get(n.viewer, "https://videos.example/private/canned.mp4", canned...); r.status != 200 || !strings.HasPrefix(r.body, "private video /private/canned.mp4") {
			t.Fatalf("canned cookies: %d %q", r.status, r.body)
		}
		st := awssign.Statement{Resource: "https://videos.example/private/*",
			Condition: awssign.Condition{DateLessThan: awssign.NewAWSEpochTime(time.Now().Add(time.Hour))}}
		custom, err := cookies.SignWithPolicy(&awssign.Policy{Statements: []awssign.Statement{st}})
		if err != nil {
			t.Fatal(err)
		}
		r := get(n.viewer, "https://videos.example/private/other.mp4", custom...)
		if r.status != 200 || !strings.HasPrefix(r.body, "private video /private/other.mp4") || strings.Contains(r.body, "CloudFront-") {
			t.Fatalf("custom policy cookies: %d %q", r.status, r.body)
		}
		tampered := []*http.Cookie{}
		for _, c := range custom {
			c := *c
			if c.Name == "CloudFront-Signature" {
				orig := c.Value
				if c.Value = "A" + orig[1:]; c.Value == orig {
					c.Value = "B" + orig[1:]
				}
			}
			tampered = append(tampered, &c)
		}
		refused("tampered cookies", get(n.viewer, "https://videos.example/private/other.mp4", tampered...))
		refused("cookies for another path", get(n.viewer, "https://videos.example/public/../private/other.mp4", canned...))
		refused("unsigned, cached", get(n.viewer, "https://videos.example/private/other.mp4"))
		// The regional PoPs, asked directly, give nothing either.
		for _, id := range n.regionals() {
			refused(id+" unsigned", get(id, "http://videos.example/private/other.mp4"))
			refused(id+" with a guessed hop header", n.send(id, viewerReq{host: "videos.example", path: "/private/other.mp4",
				header: []string{hopHeader, "guess"}}))
		}
		if c := n.origin.count("/private/other.mp4"); c != 1 {
			t.Fatalf("/private/other.mp4: origin count %d, want 1", c)
		}
	})
}
