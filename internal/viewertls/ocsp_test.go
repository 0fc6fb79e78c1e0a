package viewertls_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/strata-cdn/strata/internal/testutil"
	"github.com/strata-cdn/strata/internal/viewertls"
	"github.com/strata-cdn/strata/internal/viewertls/ocsptest"
)

// waitFor polls cond for up to 20 s.
type fixture struct {
	r    *ocsptest.Responder
	s    *viewertls.Stapler
	leaf *x509.Certificate
	cert string
	key  string
	skew atomic.Int64 // added to the stapler's clock
}

func newFixture(t *testing.T, noIssuer bool, maxRefresh time.Duration) *fixture {
	f := &fixture{r: ocsptest.New(t)}
	f.cert, f.key, f.leaf = f.r.Issue(t, t.TempDir(), "leaf", []string{"a.example.com"}, noIssuer)
	f.s = viewertls.NewStapler(viewertls.StaplerOptions{
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:           func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
		MinRefresh:    50 * time.Millisecond,
		MaxRefresh:    maxRefresh,
		RetryInterval: 50 * time.Millisecond,
	})
	t.Cleanup(f.s.Close)
	return f
}

func (f *fixture) track(t *testing.T) *viewertls.Stapled {
	t.Helper()
	c, err := viewertls.LoadKeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	st := f.s.Track(c)
	if st == nil {
		t.Fatal("Track: the certificate is not stapled")
	}
	return st
}

// checkGood parses a staple as the viewer would: signed by the issuer, for
// the leaf's serial, Good.
func (f *fixture) checkGood(t *testing.T, staple []byte) *ocsp.Response {
	t.Helper()
	resp, err := ocsp.ParseResponseForCert(staple, f.leaf, f.r.CA)
	if err != nil {
		t.Fatalf("staple: %v", err)
	}
	if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(f.leaf.SerialNumber) != 0 {
		t.Fatalf("staple: status %d serial %v, want Good for %v", resp.Status, resp.SerialNumber, f.leaf.SerialNumber)
	}
	return resp
}

func TestStapleGood(t *testing.T) {
	f := newFixture(t, false, 0)
	st := f.track(t)
	testutil.WaitFor(t, 20*time.Second, "a staple", func() bool { return st.Certificate().OCSPStaple != nil })
	f.checkGood(t, st.Certificate().OCSPStaple)
	c, _ := st.GetCertificate(nil)
	if c.Leaf != nil && !c.Leaf.Equal(f.leaf) {
		t.Fatal("GetCertificate serves another certificate")
	}
	// A staple whose nextUpdate (an hour away) has passed is not served.
	f.skew.Store(int64(2 * time.Hour))
	if st.Certificate().OCSPStaple != nil {
		t.Fatal("an expired staple is still served")
	}
}

func TestNotStapled(t *testing.T) {
	f := newFixture(t, true, 0) // the chain lacks the issuer
	c, err := viewertls.LoadKeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if f.s.Track(c) != nil {
		t.Fatal("a certificate without its issuer is stapled")
	}
	c.Leaf.OCSPServer = nil
	if f.s.Track(c) != nil {
		t.Fatal("a certificate naming no OCSP server is stapled")
	}
	if f.r.Requests() != 0 || f.s.Tracking() != 0 {
		t.Fatalf("%d requests, %d tracked", f.r.Requests(), f.s.Tracking())
	}
}

// Answers that do not check out leave the certificate unstapled (and
// the stapler asks again).
func TestStapleRefusedAnswers(t *testing.T) {
	for name, m := range map[string]ocsptest.Mode{
		"500": ocsptest.ServerError, "garbage": ocsptest.Garbage, "revoked": ocsptest.Revoked,
		"unknown": ocsptest.Unknown, "wrong signer": ocsptest.WrongSigner, "wrong serial": ocsptest.WrongSerial,
		"tryLater": ocsptest.TryLaterResp,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, false, 0)
			f.r.Set(m, time.Hour)
			st := f.track(t)
			testutil.WaitFor(t, 20*time.Second, "a fetch", func() bool { return st.Fetches() >= 1 })
			if st.Certificate().OCSPStaple != nil {
				t.Fatal("stapled")
			}
		})
	}
}

// A short validity makes the stapler fetch again; a Revoked answer then
// removes the staple at once, and a later Good one brings it back.
func TestStapleRefresh(t *testing.T) {
	f := newFixture(t, false, 0)
	f.r.Set(ocsptest.Good, 2*time.Second)
	st := f.track(t)
	testutil.WaitFor(t, 20*time.Second, "a staple", func() bool { return st.Certificate().OCSPStaple != nil })
	first := f.checkGood(t, st.Certificate().OCSPStaple)
	testutil.WaitFor(t, 20*time.Second, "a newer staple", func() bool {
		s := st.Certificate().OCSPStaple
		return s != nil && f.checkGood(t, s).ThisUpdate.After(first.ThisUpdate)
	})
	if n := f.r.Requests(); n < 2 {
		t.Fatalf("%d requests", n)
	}
	f.r.Set(ocsptest.Revoked, 2*time.Second)
	n := st.Fetches()
	testutil.WaitFor(t, 20*time.Second, "the revoked answer", func() bool { return st.Fetches() >= n+2 })
	if st.Certificate().OCSPStaple != nil {
		t.Fatal("still stapled after a Revoked answer")
	}
	f.r.Set(ocsptest.Good, 2*time.Second)
	testutil.WaitFor(t, 20*time.Second, "a staple again", func() bool { return st.Certificate().OCSPStaple != nil })
}

// A failed refresh keeps the last good staple until its nextUpdate.
func TestStapleKeptOnFailure(t *testing.T) {
	f := newFixture(t, false, 50*time.Millisecond) // refresh even an hour-long answer
	st := f.track(t)
	testutil.WaitFor(t, 20*time.Second, "a staple", func() bool { return st.Certificate().OCSPStaple != nil })
	good := st.Certificate().OCSPStaple
	f.r.Set(ocsptest.ServerError, time.Hour)
	n := st.Fetches()
	testutil.WaitFor(t, 20*time.Second, "failed fetches", func() bool { return st.Fetches() >= n+2 })
	if !bytes.Equal(st.Certificate().OCSPStaple, good) {
		t.Fatal("the last good staple was not kept before its nextUpdate")
	}
	f.skew.Store(int64(2 * time.Hour))
	if st.Certificate().OCSPStaple != nil {
		t.Fatal("an expired staple is still served")
	}
}

// One goroutine per distinct certificate: tracking it again shares it;
// releasing the last reference stops it.
func TestStapleSharedAndReleased(t *testing.T) {
	f := newFixture(t, false, 0)
	a := f.track(t)
	b := f.track(t) // the same files loaded again
	if a != b || f.s.Tracking() != 1 {
		t.Fatalf("not shared: %p %p, %d tracked", a, b, f.s.Tracking())
	}
	a.Release()
	if f.s.Tracking() != 1 {
		t.Fatal("released while referenced")
	}
	b.Release()
	if f.s.Tracking() != 0 {
		t.Fatal("still tracked after the last Release")
	}
	if c := f.track(t); c == a {
		t.Fatal("a released stapling was reused")
	}
}
