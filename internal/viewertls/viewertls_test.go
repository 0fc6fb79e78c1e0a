package viewertls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for names and its key to dir.
func writePair(t *testing.T, dir string, rsaKey bool, names ...string) (certFile, keyFile string) {
	t.Helper()
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, names[0]+".pem"), filepath.Join(dir, names[0]+"-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestCovers(t *testing.T) {
	dir := t.TempDir()
	cf, kf := writePair(t, dir, false, "www.example.com", "*.static.example.com", "192.0.2.1")
	c, err := LoadKeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"www.example.com", true},
		{"WWW.example.com", true},
		{"img.static.example.com", true},  // exact alias under the certificate's wildcard
		{"*.static.example.com", true},    // wildcard alias, wildcard certificate
		{"a.b.static.example.com", false}, // a wildcard is one label
		{"example.com", false},
		{"*.example.com", false}, // www.example.com does not cover every name
		{"192.0.2.1", true},
	} {
		err := Covers(c.Leaf, tc.host)
		if (err == nil) != tc.ok {
			t.Errorf("Covers(%q) = %v, want ok=%v", tc.host, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrNotCovered) {
			t.Errorf("Covers(%q): %v is not ErrNotCovered", tc.host, err)
		}
	}
}

func TestLoadKeyPairErrors(t *testing.T) {
	dir := t.TempDir()
	cf, kf := writePair(t, dir, false, "a.example.com")
	_, otherKey := writePair(t, dir, false, "b.example.com")
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o644)
	for _, tc := range []struct {
		name       string
		cert, key  string
		keyAtFault bool
	}{
		{"missing certificate", filepath.Join(dir, "nope.pem"), kf, false},
		{"missing key", cf, filepath.Join(dir, "nope-key.pem"), true},
		{"not PEM", garbage, kf, false},
		{"key of another certificate", cf, otherKey, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadKeyPair(tc.cert, tc.key)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Key != tc.keyAtFault {
				t.Fatalf("blamed the key: %v, want %v (%v)", fe.Key, tc.keyAtFault, err)
			}
		})
	}
	if _, err := LoadKeyPair(cf, kf); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyNames(t *testing.T) {
	want := []string{"TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"}
	got := PolicyNames()
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v", got)
		}
		if _, ok := PolicyByName(want[i]); !ok {
			t.Fatalf("%s not found", want[i])
		}
	}
	if p, _ := PolicyByName(""); p.Name != DefaultPolicy {
		t.Fatalf("default policy %s", p.Name)
	}
}

// handshake runs a real TLS handshake between a server with the policy and
// a client limited to maxVersion (and ciphers, if given).
func handshake(t *testing.T, policy string, cert *tls.Certificate, maxVersion uint16, ciphers []uint16) error {
	t.Helper()
	p, ok := PolicyByName(policy)
	if !ok {
		t.Fatalf("no policy %s", policy)
	}
	sc := &tls.Config{Certificates: []tls.Certificate{*cert}}
	p.Apply(sc)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	a.SetDeadline(time.Now().Add(5 * time.Second))
	b.SetDeadline(time.Now().Add(5 * time.Second))
	srv := tls.Server(a, sc)
	go func() { srv.Handshake(); a.Close() }()
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: maxVersion, CipherSuites: ciphers})
	return cli.Handshake()
}

// Each policy's lowest version and cipher suites, through real handshakes.
func TestPolicyHandshakes(t *testing.T) {
	dir := t.TempDir()
	ecCert, err := LoadKeyPair(writePair(t, dir, false, "ec.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, err := LoadKeyPair(writePair(t, dir, true, "rsa.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	sha1CBC := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	chacha := []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	rsaKex := []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
	tdes := []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
	for _, tc := range []struct {
		policy  string
		cert    *tls.Certificate
		max     uint16
		ciphers []uint16
		ok      bool
	}{
		{"TLSv1", ecCert, tls.VersionTLS10, nil, true},
		{"TLSv1", rsaCert, tls.VersionTLS10, tdes, true},
		{"TLSv1_2016", rsaCert, tls.VersionTLS10, tdes, false},
		{"TLSv1_2016", ecCert, tls.VersionTLS10, nil, true},
		{"TLSv1.1_2016", ecCert, tls.VersionTLS10, nil, false},
		{"TLSv1.1_2016", ecCert, tls.VersionTLS11, nil, true},
		{"TLSv1.2_2018", ecCert, tls.VersionTLS11, nil, false},
		{"TLSv1.2_2018", rsaCert, tls.VersionTLS12, rsaKex, true},
		{"TLSv1.2_2019", rsaCert, tls.VersionTLS12, rsaKex, false},
		{"TLSv1.2_2019", ecCert, tls.VersionTLS12, cbc, true},
		{"TLSv1.2_2018", ecCert, tls.VersionTLS12, sha1CBC, false},
		{"TLSv1.2_2021", ecCert, tls.VersionTLS11, nil, false},
		{"TLSv1.2_2021", ecCert, tls.VersionTLS12, cbc, false},
		{"TLSv1.2_2021", ecCert, tls.VersionTLS12, chacha, true},
		{"TLSv1.2_2021", ecCert, tls.VersionTLS13, nil, true},
		{"TLSv1.2_2025", ecCert, tls.VersionTLS12, chacha, false},
		{"TLSv1.2_2025", ecCert, tls.VersionTLS12, nil, true},
		{"TLSv1.3_2025", ecCert, tls.VersionTLS12, nil, false},
		{"TLSv1.3_2025", ecCert, tls.VersionTLS13, nil, true},
	} {
		err := handshake(t, tc.policy, tc.cert, tc.max, tc.ciphers)
		if (err == nil) != tc.ok {
			t.Errorf("%s, client max %s, ciphers %v: handshake error %v, want ok=%v",
				tc.policy, tls.VersionName(tc.max), tc.ciphers, err, tc.ok)
		}
	}
}
