package pop

import (
	"crypto/tls"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/viewertls/ocsptest"
)

// ocspWorld is a tlsWorld whose distribution "a" (a.example.com) serves a
// certificate naming a real OCSP responder, its issuer after it.
func ocspWorld(t *testing.T, mode ocsptest.Mode) (*tlsWorld, *ocsptest.Responder, func(*tls.Config)) {
	r := ocsptest.New(t)
	r.Set(mode, time.Hour)
	cert, key, _ := r.Issue(t, t.TempDir(), "a-ocsp", []string{"a.example.com"}, false)
	tw := newTLSWorld(t, "", func(c *config.Config) {
		c.Distributions[1].ViewerCertificate.CertificateFile, c.Distributions[1].ViewerCertificate.KeyFile = cert, key
	})
	return tw, r, func(c *tls.Config) { c.RootCAs = r.Pool() }
}

// waitFetched waits until the PoP's stapling has finished a fetch.
func waitFetched(t *testing.T, tw *tlsWorld) {
	t.Helper()
	s := tw.pop.snap.Load()
	if len(s.staples) != 1 {
		t.Fatalf("%d certificates stapled, want 1", len(s.staples))
	}
	for deadline := time.Now().Add(20 * time.Second); s.staples[0].Fetches() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no OCSP fetch finished")
		}
	}
}

func TestOCSPStapled(t *testing.T) {
	tw, r, trust := ocspWorld(t, ocsptest.Good)
	waitFetched(t, tw)
	for _, proto := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		st, err := tw.handshake("a.example.com", func(c *tls.Config) { trust(c); c.MaxVersion = proto })
		if err != nil {
			t.Fatal(err)
		}
		leaf := st.PeerCertificates[0]
		resp, err := ocsp.ParseResponseForCert(st.OCSPResponse, leaf, r.CA)
		if err != nil {
			t.Fatalf("TLS %x: staple: %v", proto, err)
		}
		if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Fatalf("TLS %x: status %d for serial %v, want Good for %v", proto, resp.Status, resp.SerialNumber, leaf.SerialNumber)
		}
	}
	// The development CA's certificates name no OCSP server: not stapled.
	if st, err := tw.handshake("d.strata.localhost", nil); err != nil || st.OCSPResponse != nil {
		t.Fatalf("default certificate: %v, staple %d bytes", err, len(st.OCSPResponse))
	}
	// A snapshot keeping the certificate keeps its stapling (no new fetch);
	// one without it stops it.
	n := r.Requests()
	if err := tw.pop.Apply(tw.cfg()); err != nil {
		t.Fatal(err)
	}
	if st, err := tw.handshake("a.example.com", trust); err != nil || st.OCSPResponse == nil {
		t.Fatalf("after Apply: %v, staple %d bytes", err, len(st.OCSPResponse))
	}
	if r.Requests() != n || tw.pop.stapler.Tracking() != 1 {
		t.Fatalf("after Apply: %d requests (was %d), %d tracked", r.Requests(), n, tw.pop.stapler.Tracking())
	}
	if err := tw.pop.Apply(tw.cfg2(func(c *config.Config) { c.Distributions = c.Distributions[:1] })); err != nil {
		t.Fatal(err)
	}
	if k := tw.pop.stapler.Tracking(); k != 0 {
		t.Fatalf("%d certificates still stapled after they left the configuration", k)
	}
}

// A responder that fails, lies or says Revoked never breaks the handshake:
// the certificate is served without a staple.
func TestOCSPNotStapled(t *testing.T) {
	for name, m := range map[string]ocsptest.Mode{"500": ocsptest.ServerError, "garbage": ocsptest.Garbage, "revoked": ocsptest.Revoked} {
		t.Run(name, func(t *testing.T) {
			tw, r, trust := ocspWorld(t, m)
			waitFetched(t, tw)
			st, err := tw.handshake("a.example.com", trust)
			if err != nil {
				t.Fatal(err)
			}
			if st.OCSPResponse != nil || r.Requests() == 0 {
				t.Fatalf("staple of %d bytes after %d requests", len(st.OCSPResponse), r.Requests())
			}
		})
	}
}
