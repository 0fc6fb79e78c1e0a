package devca

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCACreatedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	ca, created, err := Ensure(dir, now)
	if err != nil || !created {
		t.Fatalf("first Ensure: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca-key.pem mode %v, want 0600", fi.Mode().Perm())
	}
	if ca.Cert.PublicKeyAlgorithm != x509.ECDSA || !ca.Cert.IsCA {
		t.Fatalf("CA: algorithm %v, IsCA %v", ca.Cert.PublicKeyAlgorithm, ca.Cert.IsCA)
	}
	again, created, err := Ensure(dir, now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second Ensure: created=%v err=%v", created, err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Fatal("the CA changed on the second start")
	}
	// Near its end, the CA is replaced.
	renewed, created, err := Ensure(dir, ca.Cert.NotAfter.Add(-RenewBefore/2))
	if err != nil || !created || renewed.Cert.Equal(ca.Cert) {
		t.Fatalf("expiring CA: created=%v err=%v", created, err)
	}
}

func TestCAKeyModeRepaired(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Ensure(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, CAKeyFile)
	os.Chmod(key, 0o644)
	if _, created, err := Ensure(dir, time.Now()); err != nil || created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestLeafIssuedAndReissued(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"localhost", "127.0.0.1", "::1", "*.localhost", "demo.strata.localhost"}
	certFile, keyFile, issued, err := ca.EnsureLeaf(dir, "default", names, now)
	if err != nil || !issued {
		t.Fatalf("issued=%v err=%v", issued, err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "a.localhost", "demo.strata.localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "example.com"}); err == nil {
		t.Error("the certificate is valid for example.com")
	}
	// Same names (another order): kept.
	if _, _, issued, err := ca.EnsureLeaf(dir, "default", []string{"demo.strata.localhost", "::1", "*.localhost", "127.0.0.1", "localhost"}, now); err != nil || issued {
		t.Fatalf("same names: issued=%v err=%v", issued, err)
	}
	// A new name: reissued.
	if _, _, issued, err := ca.EnsureLeaf(dir, "default", append(names, "shop.strata.localhost"), now); err != nil || !issued {
		t.Fatalf("new name: issued=%v err=%v", issued, err)
	}
	// Near expiry: reissued.
	later := now.Add(LeafLifetime - RenewBefore/2)
	if _, _, issued, err := ca.EnsureLeaf(dir, "default", append(names, "shop.strata.localhost"), later); err != nil || !issued {
		t.Fatalf("near expiry: issued=%v err=%v", issued, err)
	}
	// Another CA: reissued.
	other, _, err := Ensure(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, issued, err := other.EnsureLeaf(dir, "default", append(names, "shop.strata.localhost"), now); err != nil || !issued {
		t.Fatalf("other CA: issued=%v err=%v", issued, err)
	}
}
