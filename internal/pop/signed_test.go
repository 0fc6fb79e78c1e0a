package pop

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/pkg/cfsign"
)

func TestSignedURLsAndCookies(t *testing.T) {
	key, err := cfsign.GenerateKey(cfsign.KeyRSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := cfsign.MarshalPublicKeyPEM(key.Public())
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "private video, query="+r.URL.RawQuery)
	})
	cfg := testConfig(o.URL, func(cf *config.Config) {
		cf.PublicKeys = []config.PublicKey{{ID: "K1", Name: "k1", EncodedKey: string(pub)}}
		cf.KeyGroups = []config.KeyGroup{{ID: "g1", Name: "g1", Items: []string{"K1"}}}
		cf.Distributions[0].Aliases = []string{"videos.example"}
		cf.Distributions[0].CacheBehaviors = []config.CacheBehavior{{PathPattern: "/private/*", TargetOriginID: "o",
			CachePolicyID: "p", TrustedKeyGroups: []string{"g1"}}}
	})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	base := serve(t, p)
	signer, err := cfsign.NewSigner("K1", key)
	if err != nil {
		t.Fatal(err)
	}
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
}
