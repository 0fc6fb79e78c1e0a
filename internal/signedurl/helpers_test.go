package signedurl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// Test keys: two RSA 2048 keys (rotation) and one ECDSA P-256 key, made once.
var (
	keysOnce            sync.Once
	rsaA, rsaB, rsaWild *rsa.PrivateKey
	ecKey               *ecdsa.PrivateKey
)

const (
	kidA  = "K2JCJMDEHXQW5F"
	kidB  = "KROTATEDKEY2B"
	kidEC = "KECDSAP256KEY"
)

func loadKeys() {
	keysOnce.Do(func() {
		var err error
		for _, k := range []**rsa.PrivateKey{&rsaA, &rsaB, &rsaWild} {
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

// testVerifier trusts kidA, kidB and kidEC (rsaWild is trusted by nobody).
func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	loadKeys()
	return NewVerifier([]Key{
		{ID: kidA, Public: &rsaA.PublicKey},
		{ID: kidB, Public: &rsaB.PublicKey},
		{ID: kidEC, Public: &ecKey.PublicKey},
	})
}

// testNow is the time the checks run at; URLs expire an hour later.
var (
	testNow     = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	testExpires = testNow.Add(time.Hour)
	viewerIP    = netip.MustParseAddr("192.0.2.7")
)

func signer(t testing.TB, kid string, key crypto.Signer, opts ...cfsign.Option) *cfsign.Signer {
	t.Helper()
	s, err := cfsign.NewSigner(kid, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// request builds a GET for rawURL as a server would see it.
func request(t testing.TB, rawURL string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatalf("%s: %v", rawURL, err)
	}
	return r
}

// check runs v.Check for rawURL as a viewer at ip would send it.
func check(t testing.TB, v *Verifier, rawURL string, ip netip.Addr, now time.Time) error {
	t.Helper()
	r := request(t, rawURL)
	return v.Check(r, ResourceURL(r, r.URL.Scheme), ip, now)
}

func wantReason(t testing.TB, err error, want Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("refused: %v", err)
		}
		return
	}
	if got := ReasonOf(err); got != want {
		t.Errorf("reason %q (%v), want %q", got, err, want)
	}
}

// withQuery returns rawURL with the signing query of signedURL appended:
// the way one custom-policy signature is reused for several URLs.
func withQuery(t testing.TB, rawURL, signedURL string) string {
	t.Helper()
	u, err := url.Parse(signedURL)
	if err != nil {
		t.Fatal(err)
	}
	var sig []string
	for _, seg := range strings.Split(u.RawQuery, "&") {
		if name, _, _ := strings.Cut(seg, "="); cfsign.IsSigningParam(name) {
			sig = append(sig, seg)
		}
	}
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + strings.Join(sig, "&")
}
