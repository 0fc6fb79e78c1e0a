package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// The demo on free ports (--pop-port 0): the front door's HTTPS port
// differs from its edge's, and its Alt-Svc names its own, where HTTP/3
// answers. The banner's CLI commands name the data dir.
func TestFrontDoorAltSvcOnFreePorts(t *testing.T) {
	dataDir := t.TempDir()
	s := start(t, "--data-dir", dataDir, "--pops", "3")
	waitOutput(t, s, "Try: ")
	m := regexp.MustCompile(`HTTPS \(HTTP/3, HTTP/2 and HTTP/1\.1\) on https://(127\.0\.0\.1:(\d+))`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no front-door HTTPS in the banner:\n%s", s.out.String())
	}
	addr, port := m[1], m[2]
	if !regexp.MustCompile(`strata status --data-dir ` + regexp.QuoteMeta(dataDir)).MatchString(s.out.String()) {
		t.Errorf("the banner's commands do not name --data-dir %s:\n%s", dataDir, s.out.String())
	}
	pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, ServerName: "demo.strata.localhost"}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://demo.strata.localhost/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if want := `h3=":` + port + `"; ma=86400`; resp.Header.Get("Alt-Svc") != want {
		t.Fatalf("front door over %s: Alt-Svc %q, want %q", resp.Proto, resp.Header.Get("Alt-Svc"), want)
	}
	h3 := &http3.Transport{TLSClientConfig: tc, QUICConfig: &quic.Config{HandshakeIdleTimeout: 5 * time.Second},
		Dial: func(ctx context.Context, _ string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, addr, tlsConf, qc) // where Alt-Svc points
		}}
	defer h3.Close()
	resp, err = (&http.Client{Transport: h3, Timeout: 10 * time.Second}).Get("https://demo.strata.localhost/hello.txt")
	if err != nil {
		t.Fatalf("HTTP/3 at the advertised port: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/3.0" || string(b) != "Hello from the Strata demo origin.\n" {
		t.Fatalf("HTTP/3: %s %q", resp.Proto, b)
	}
}
