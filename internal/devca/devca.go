// Package devca is the local development certificate authority of
// `strata run`: an ECDSA P-256 CA created once in a folder (ca.pem, and
// ca-key.pem readable by its owner only) and reused on later starts, and the
// certificates it issues for the names a PoP answers (localhost, loopback
// addresses, the distributions' domain names). A viewer trusts the CA once
// (curl --cacert, the system store, a browser) and every PoP's default
// certificate after that.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names inside the CA folder.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// Lifetimes.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 365 * 24 * time.Hour
	// RenewBefore: a certificate that expires within this is reissued.
	RenewBefore = 30 * 24 * time.Hour
)

// CA is a development certificate authority.
type CA struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	CertFile string // path of ca.pem, for --cacert
}

// Ensure loads the CA kept in dir, or creates it (and dir) when there is
// none. created reports a new CA. A CA that expires within RenewBefore is
// replaced; viewers must then trust the new one.
func Ensure(dir string, now time.Time) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	ca, err = load(certPath, keyPath)
	switch {
	case err == nil && now.Add(RenewBefore).Before(ca.Cert.NotAfter):
		return ca, false, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, false, fmt.Errorf("development CA in %s: %w", dir, err)
	}
	ca, err = create(certPath, keyPath, now)
	if err != nil {
		return nil, false, fmt.Errorf("development CA in %s: %w", dir, err)
	}
	return ca, true, nil
}

func load(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(keyPath, 0o600); err != nil {
			return nil, err
		}
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%s: no PEM key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	return &CA{Cert: cert, Key: key, CertFile: certPath}, nil
}

func create(certPath, keyPath string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	owner := "strata"
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		owner += "@" + h
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Strata development CA"}, CommonName: "Strata development CA " + owner},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a ca.pem without its key is of no use.
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertFile: certPath}, nil
}

// EnsureLeaf returns the certificate and key files <dir>/<base>.pem and
// <dir>/<base>-key.pem for names (DNS names, "*.example.com" wildcards and
// IP addresses), issuing them when they are missing, were issued by another
// CA, name other hosts, or expire within RenewBefore. issued reports a new
// certificate.
func (ca *CA) EnsureLeaf(dir, base string, names []string, now time.Time) (certFile, keyFile string, issued bool, err error) {
	certFile, keyFile = filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	dns, ips := split(names)
	if leaf, err := readLeaf(certFile); err == nil && ca.current(leaf, dns, ips, now) {
		if _, err := os.Stat(keyFile); err == nil {
			return certFile, keyFile, false, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", false, err
	}
	cn := "localhost"
	if len(dns) > 0 {
		cn = dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"Strata development certificate"}, CommonName: cn},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return "", "", false, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", false, err
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", false, err
	}
	if err := writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", false, err
	}
	return certFile, keyFile, true, nil
}

// current reports whether leaf was issued by ca for exactly these names and
// is valid for a while yet.
func (ca *CA) current(leaf *x509.Certificate, dns []string, ips []net.IP, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca.Cert) != nil || !now.Add(RenewBefore).Before(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	if !slices.Equal(sorted(leaf.DNSNames), sorted(dns)) || len(leaf.IPAddresses) != len(ips) {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func readLeaf(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// split separates IP addresses from DNS names, lower-cases the names and
// drops duplicates.
func split(names []string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(strings.Trim(n, "[]"), "."))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	for i := range c {
		c[i] = strings.ToLower(c[i])
	}
	slices.Sort(c)
	return c
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writeFile writes data to path atomically with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Pool returns a certificate pool holding the CA, for clients.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}
