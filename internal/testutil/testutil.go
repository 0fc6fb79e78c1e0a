// Package testutil holds the helpers the tests of several packages share:
// polling for a condition with a deadline (never a bare sleep), a buffer
// that a logger and a test can use at once, and certificates from a fresh
// development CA (internal/devca, the one the binary uses).
//
// It is imported by _test.go files only; no production package may import
// it (TestNoProductionImports checks).
package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/devca"
)

// WaitFor polls cond every few milliseconds until it holds, and fails the
// test naming what it waited for if d passes first. Use it instead of a
// sleep: on a loaded machine it waits as long as needed, and no longer.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for one writer (a logger) and one
// reader (the test) at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TLSCert returns a certificate for names (host names or IP addresses)
// issued by a fresh development CA, and a pool that trusts that CA.
func TLSCert(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cf, kf, _, err := ca.EnsureLeaf(dir, "leaf", names, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	return cert, ca.Pool()
}
