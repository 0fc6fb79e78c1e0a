package world

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
)

// A PoP serves HTTP/3 on its HTTPS port over UDP, with the same
// certificates, for distributions whose httpVersion offers it; responses
// over TCP advertise it with Alt-Svc. A distribution without HTTP/3 is
// neither advertised nor served over QUIC.
func TestHTTP3(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Alt-Svc", `h3=":1"`) // the origin's own: never passed on
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	defer origin.Close()
	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, _, err := ca.EnsureLeaf(dir, "default", []string{"localhost", "127.0.0.1", "*.strata.localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dist := func(id, version string) config.Distribution {
		return config.Distribution{ID: id, HTTPVersion: version, Origins: []config.Origin{{ID: "o", URL: origin.URL}},
			DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o"}}
	}
	cfg := &config.Config{
		Distributions: []config.Distribution{dist("h3", config.HTTPVersion2And3), dist("h2", config.HTTPVersion2)},
		PoP:           config.PoP{ID: "TST1", Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := Start(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultCertFile: cert, DefaultKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	n := w.Nodes[0]
	addr := strings.TrimPrefix(n.HTTPSURL, "https://")
	_, port, _ := net.SplitHostPort(addr)

	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 3 * time.Second},
		Dial: func(ctx context.Context, _ string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, addr, tlsConf, qc) // every name resolves to the PoP
		},
	}
	defer h3.Close()
	h3c := &http.Client{Transport: h3, Timeout: 10 * time.Second}
	for i, want := range []string{"Miss", "Hit"} {
		resp, err := h3c.Get("https://h3.strata.localhost/a")
		if err != nil {
			t.Fatalf("request %d over HTTP/3: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Proto != "HTTP/3.0" || string(body) != "hello /a" || resp.Header.Get("X-Cache") != want+" from strata" {
			t.Fatalf("HTTP/3: %d %s %q %q", resp.StatusCode, resp.Proto, body, resp.Header.Get("X-Cache"))
		}
	}
	if _, err := h3c.Get("https://h2.strata.localhost/a"); err == nil {
		t.Fatal("an http2-only distribution was served over HTTP/3")
	}

	tcp := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	for host, want := range map[string]string{"h3.strata.localhost": `h3=":` + port + `"; ma=86400`, "h2.strata.localhost": ""} {
		resp, err := tcp.Get("https://" + host + "/b")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Alt-Svc"); got != want || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s over %s: Alt-Svc %q, want %q", host, resp.Proto, got, want)
		}
	}
}
