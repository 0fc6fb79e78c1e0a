package world

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
)

// A child reaches an https:// parent over TLS, verifying it with the
// network's CA bundle; without the right CA it cannot, and goes to the
// origin instead. Every PoP serves viewers over HTTP/2.
func TestHTTPSBetweenTiers(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, _, err := ca.EnsureLeaf(dir, "default", []string{"localhost", "127.0.0.1", "d.strata.localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _, err := devca.Ensure(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		bundle    string
		viaParent bool
	}{{"trusted parent", ca.CertFile, true}, {"untrusted parent", otherCA.CertFile, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{
				Distributions: []config.Distribution{{ID: "d", Origins: []config.Origin{{ID: "o", URL: origin.URL}},
					DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o"}}},
				Topology: config.Topology{CABundle: tc.bundle, PoPs: []config.TopologyPoP{
					{ID: "FRA-R1", Tier: "regional", Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0", URL: "https://127.0.0.1:0"},
					{ID: "FRA1", Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0"},
				}},
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			w, err := Start(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultCertFile: cert, DefaultKeyFile: key})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			edge := w.Node("FRA1")
			if w.Node("FRA-R1").URL[:8] != "https://" || edge.HTTPSURL == "" {
				t.Fatalf("URLs: parent %s, edge https %q", w.Node("FRA-R1").URL, edge.HTTPSURL)
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, edge.HTTPSURL[len("https://"):])
				}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://d.strata.localhost/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "hello" || resp.Proto != "HTTP/2.0" {
				t.Fatalf("%d %s %q", resp.StatusCode, resp.Proto, body)
			}
			// The parent adds its Cache-Status entry when the fetch went through it.
			viaParent := slices.ContainsFunc(resp.Header.Values("Cache-Status"), func(v string) bool { return strings.HasPrefix(v, "Strata-FRA-R1;") })
			if viaParent != tc.viaParent {
				t.Fatalf("through the parent: %v, want %v (Cache-Status %q)", viaParent, tc.viaParent, resp.Header.Values("Cache-Status"))
			}
		})
	}
}

// Without an egress, a PoP's source address is the one it listens on, or
// its URL's host when it listens on every address and that host is an
// address of this machine; else none is known.
func TestEgressOf(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080} }
	for _, tc := range []struct {
		listen net.Addr
		url    string
		want   string
	}{
		{tcp("127.0.3.1"), "http://127.0.3.1:8080", "127.0.3.1"},
		{tcp("127.0.3.1"), "http://pop.example.com", "127.0.3.1"},
		{tcp("0.0.0.0"), "http://127.0.0.1:8080", "127.0.0.1"},
		{tcp("::"), "https://[::1]:8443", "::1"},
		{tcp("0.0.0.0"), "http://203.0.113.9:8080", ""}, // not this machine's (TEST-NET-3)
		{tcp("0.0.0.0"), "http://pop.example.com:8080", ""},
		{tcp("0.0.0.0"), "http://0.0.0.0:8080", ""},
	} {
		if got := egressOf(tc.listen, tc.url); got != tc.want {
			t.Errorf("egressOf(%v, %q) = %q, want %q", tc.listen, tc.url, got, tc.want)
		}
	}
}
