// Package ocsptest is a real OCSP responder for tests: an httptest server
// whose CA issues leaf certificates naming it as their OCSP server, and
// answers for them as told (good, revoked, unknown, garbage, HTTP 500, or
// signed by a key that is not the issuer's).
package ocsptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Mode is what the responder answers.
type Mode int

const (
	Good Mode = iota
	Revoked
	Unknown
	Garbage      // 200 with a body that is no OCSP response
	ServerError  // HTTP 500
	WrongSigner  // a Good response signed by an unrelated key
	WrongSerial  // a Good response for another serial number
	TryLaterResp // an OCSP "tryLater" error response
)

// Responder is a running OCSP responder and its CA.
type Responder struct {
	URL    string
	CA     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	other  *ecdsa.PrivateKey
	srv    *httptest.Server
	mu     sync.Mutex
	mode   Mode
	valid  time.Duration
	reqs   atomic.Int64
	serial atomic.Int64
}

// New starts a responder answering Good with a validity of an hour.
func New(t testing.TB) *Responder {
	t.Helper()
	r := &Responder{valid: time.Hour}
	var err error
	if r.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if r.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ocsptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &r.caKey.PublicKey, r.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if r.CA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	r.serial.Store(100)
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL + "/ocsp"
	return r
}

// Pool holds the responder's CA, for clients.
func (r *Responder) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.CA)
	return p
}

// Set changes the answer and the validity (nextUpdate - thisUpdate) of
// the responses to come.
func (r *Responder) Set(m Mode, validity time.Duration) {
	r.mu.Lock()
	r.mode, r.valid = m, validity
	r.mu.Unlock()
}

// Requests counts the requests received.
func (r *Responder) Requests() int64 { return r.reqs.Load() }

// Issue writes <dir>/<base>.pem (the leaf for names, naming the responder
// as its OCSP server, then the CA unless noIssuer) and <dir>/<base>-key.pem.
func (r *Responder) Issue(t testing.TB, dir, base string, names []string, noIssuer bool) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(r.serial.Add(1)), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		OCSPServer: []string{r.URL},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.CA, &key.PublicKey, r.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if !noIssuer {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.CA.Raw})...)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, leaf
}

func (r *Responder) serve(w http.ResponseWriter, hr *http.Request) {
	r.reqs.Add(1)
	var der []byte
	var err error
	switch hr.Method {
	case http.MethodGet:
		var s string
		if s, err = url.PathUnescape(strings.TrimPrefix(hr.URL.EscapedPath(), "/ocsp/")); err == nil {
			der, err = base64.StdEncoding.DecodeString(s)
		}
	case http.MethodPost:
		der, err = io.ReadAll(hr.Body)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	r.mu.Lock()
	mode, valid := r.mode, r.valid
	r.mu.Unlock()
	now := time.Now().Truncate(time.Second)
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: now, NextUpdate: now.Add(valid)}
	var signer crypto.Signer = r.caKey
	switch mode {
	case Revoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, now.Add(-time.Minute), ocsp.KeyCompromise
	case Unknown:
		tmpl.Status = ocsp.Unknown
	case Garbage:
		io.WriteString(w, "this is not an OCSP response")
		return
	case ServerError:
		http.Error(w, "responder down", http.StatusInternalServerError)
		return
	case WrongSigner:
		signer = r.other
	case WrongSerial:
		tmpl.SerialNumber = new(big.Int).Add(req.SerialNumber, big.NewInt(1000))
	case TryLaterResp:
		w.Write(ocsp.TryLaterErrorResponse)
		return
	}
	resp, err := ocsp.CreateResponse(r.CA, r.CA, tmpl, signer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(resp)
}
