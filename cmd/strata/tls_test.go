package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/testutil"
)

var (
	httpsRE = regexp.MustCompile(`HTTPS \(HTTP/3, HTTP/2 and HTTP/1\.1\) on https://(\S+)`)
	caRE    = regexp.MustCompile(`Development CA \(trust it once; see the README\): (\S+)`)
	curlRE  = regexp.MustCompile(`curl -sI --cacert (\S+) https://quick\.strata\.localhost:(\d+)/`)
)

// runQuick runs `strata run --origin …` (no control plane) until the
// returned stop is called, and returns its HTTPS address and CA file.
func runQuick(t *testing.T, origin, dataDir string, log *testutil.SyncBuffer) (addr, ca string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.SyncBuffer{}
	f := runFlags{origin: origin, listen: "127.0.0.1:0", popPort: 0, httpsPort: 0, dataDir: dataDir,
		defaultTTL: time.Hour, noControl: true}
	done := make(chan error, 1)
	go func() { done <- runWorld(ctx, f, slog.New(slog.NewTextHandler(log, nil)), out) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := out.String()
		if m, c := httpsRE.FindStringSubmatch(s), caRE.FindStringSubmatch(s); m != nil && c != nil {
			addr, ca = m[1], c[1]
			if cm := curlRE.FindStringSubmatch(s); cm == nil || cm[1] != ca || !strings.HasSuffix(addr, ":"+cm[2]) {
				t.Errorf("no curl --cacert example for %s in the banner:\n%s", addr, s)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("strata run ended: %v\n%s", err, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS in the banner:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, ca, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("strata run: %v", err)
		}
	}
}

func getHTTPS(t *testing.T, addr string, pool *x509.CertPool) *http.Response {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://quick.strata.localhost/page")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp
}

// strata run creates the development CA on its first start and reuses it:
// a viewer that trusted it once keeps trusting the PoPs after a restart.
func TestRunDevelopmentCA(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page")
	}))
	defer origin.Close()
	dataDir := t.TempDir()
	log := &testutil.SyncBuffer{}

	addr, caFile, stop := runQuick(t, origin.URL, dataDir, log)
	if caFile != filepath.Join(dataDir, "tls", "ca.pem") {
		t.Fatalf("CA at %s", caFile)
	}
	first, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "tls", "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca-key.pem: %v %v", fi.Mode(), err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(first) {
		t.Fatal("ca.pem holds no certificate")
	}
	if resp := getHTTPS(t, addr, pool); resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("first run: %d %s", resp.StatusCode, resp.Proto)
	}
	stop()

	addr, caFile, stop = runQuick(t, origin.URL, dataDir, log)
	defer stop()
	second, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Fatal("the development CA changed on restart")
	}
	// The pool from the first run verifies the second run's certificate.
	if resp := getHTTPS(t, addr, pool); resp.StatusCode != 200 {
		t.Fatalf("second run: %d", resp.StatusCode)
	}
	if n := strings.Count(log.String(), "created a development CA"); n != 1 {
		t.Fatalf("the CA was created %d times:\n%s", n, log.String())
	}
}

// Without a viewerCertificate, a distribution's aliases are served with the
// development certificate, which covers them (development only, as the
// banner says); a distribution with its own certificate keeps it.
func TestDevCertificateCoversAliases(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") }))
	defer origin.Close()
	dir := t.TempDir()
	ownCA, _, err := devca.Ensure(filepath.Join(dir, "own"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ownCert, ownKey, _, err := ownCA.EnsureLeaf(filepath.Join(dir, "own"), "own", []string{"own.example.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "site.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
pop: {listen: "127.0.0.1:0", httpsListen: "127.0.0.1:0"}
distributions:
  - id: site
    aliases: [www.example.test, "*.static.example.test"]
    origins: [{id: web, url: %q}]
    defaultCacheBehavior: {targetOriginId: web}
  - id: own
    aliases: [own.example.test]
    viewerCertificate: {certificateFile: %q, keyFile: %q}
    origins: [{id: web, url: %q}]
    defaultCacheBehavior: {targetOriginId: web}
`, origin.URL, ownCert, ownKey, origin.URL)), 0o644)
	dataDir := filepath.Join(dir, "data")
	out, _ := startRun(t, runFlags{config: cfgFile, dataDir: dataDir, noControl: true}, "curl -sI")
	m := httpsRE.FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "Its development certificate also covers the aliases *.static.example.test, www.example.test (development only") {
		t.Fatalf("banner:\n%s", out.String())
	}
	devPool, ownPool := x509.NewCertPool(), ownCA.Pool()
	b, _ := os.ReadFile(filepath.Join(dataDir, "tls", "ca.pem"))
	devPool.AppendCertsFromPEM(b)
	for host, pool := range map[string]*x509.CertPool{"www.example.test": devPool, "img.static.example.test": devPool, "own.example.test": ownPool} {
		conn, err := tls.Dial("tcp", m[1], &tls.Config{ServerName: host, RootCAs: pool})
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		conn.Close()
	}
}
