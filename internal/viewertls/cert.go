package viewertls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNotCovered is returned by Covers for a hostname the certificate is not
// valid for.
var ErrNotCovered = errors.New("the certificate does not cover it")

// FileError is a certificate or key file that could not be used; Key tells
// which of the two.
type FileError struct {
	Key  bool
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// LoadKeyPair reads a PEM certificate chain and its private key, and checks
// that they belong together. The returned certificate has Leaf set.
func LoadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{Path: certFile, Err: unwrapPath(err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &FileError{Key: true, Path: keyFile, Err: unwrapPath(err)}
	}
	leaf, err := firstCertificate(certPEM)
	if err != nil {
		return nil, &FileError{Path: certFile, Err: err}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{Key: true, Path: keyFile, Err: err}
	}
	c.Leaf = leaf
	return &c, nil
}

// firstCertificate parses the first CERTIFICATE block of a PEM chain.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block found")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Covers reports whether leaf is valid for host: an exact name, or an
// alias "*.example.com", which needs the certificate's own wildcard (a
// certificate for a.example.com does not cover every name under it).
func Covers(leaf *x509.Certificate, host string) error {
	host = strings.ToLower(host)
	if strings.HasPrefix(host, "*.") {
		for _, n := range leaf.DNSNames {
			if strings.EqualFold(n, host) {
				return nil
			}
		}
		return fmt.Errorf("%w (it is valid for %s)", ErrNotCovered, names(leaf))
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return fmt.Errorf("%w (it is valid for %s)", ErrNotCovered, names(leaf))
	}
	return nil
}

func names(leaf *x509.Certificate) string {
	var out []string
	out = append(out, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 {
		return "no names"
	}
	return strings.Join(out, ", ")
}
