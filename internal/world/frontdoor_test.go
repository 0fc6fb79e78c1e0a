package world

import (
	"context"
	"crypto/tls"
	"errors"
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

// A PoP served on a second pair of listeners (the front door of strata
// run) advertises that pair's ports on it, and its own on its own: the
// redirect-to-https Location names the HTTPS port paired with the plain
// listener the request came in on, Alt-Svc the UDP port beside the HTTPS
// listener, and HTTP/3 to the advertised port works.
func TestFrontDoorAdvertisesItsOwnPorts(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
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
	cfg := &config.Config{
		Distributions: []config.Distribution{{ID: "d", HTTPVersion: config.HTTPVersion2And3,
			Origins:              []config.Origin{{ID: "o", URL: origin.URL}},
			DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o"},
			CacheBehaviors:       []config.CacheBehavior{{PathPattern: "/r*", TargetOriginID: "o", ViewerProtocolPolicy: "redirect-to-https"}}}},
		Topology: config.Topology{PoPs: []config.TopologyPoP{
			{ID: "FRA-R1", Tier: "regional", Listen: "127.0.0.1:0"},
			{ID: "FRA1", Parent: "FRA-R1", Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0"},
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
	frontURL, frontTLS, err := w.AddListeners(edge, "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := func(u string) (string, string) {
		h, p, _ := net.SplitHostPort(u[strings.Index(u, "://")+3:])
		return h, p
	}
	_, edgePort := hostPort(edge.HTTPSURL)
	_, frontPort := hostPort(frontTLS)
	if edgePort == frontPort {
		t.Fatalf("the test needs different ports, both are %s", edgePort)
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ base, port string }{{frontURL, frontPort}, {edge.URL, edgePort}} {
		req, _ := http.NewRequest("GET", tc.base+"/r?q=1", nil)
		req.Host = "d.strata.localhost"
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://d.strata.localhost:" + tc.port + "/r?q=1"
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("http via %s: %d Location %q, want 301 %q", tc.base, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	for _, tc := range []struct{ addr, port string }{{frontTLS, frontPort}, {edge.HTTPSURL, edgePort}} {
		addr := strings.TrimPrefix(tc.addr, "https://")
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://d.strata.localhost/a")
		tr.CloseIdleConnections()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := `h3=":` + tc.port + `"; ma=86400`; resp.Header.Get("Alt-Svc") != want {
			t.Errorf("https via %s: Alt-Svc %q, want %q", addr, resp.Header.Get("Alt-Svc"), want)
		}
	}
	// HTTP/3 where the front door's Alt-Svc points: its host, its port.
	frontHost, _ := hostPort(frontTLS)
	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 3 * time.Second},
		Dial: func(ctx context.Context, _ string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, net.JoinHostPort(frontHost, frontPort), tlsConf, qc)
		},
	}
	defer h3.Close()
	resp, err := (&http.Client{Transport: h3, Timeout: 10 * time.Second}).Get("https://d.strata.localhost/a")
	if err != nil {
		t.Fatalf("HTTP/3 to the front door's advertised port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/3.0" || string(body) != "hello /a" || resp.Header.Get("Alt-Svc") != `h3=":`+frontPort+`"; ma=86400` {
		t.Fatalf("HTTP/3: %s %q Alt-Svc %q", resp.Proto, body, resp.Header.Get("Alt-Svc"))
	}

	// A taken address is a ListenError naming it.
	_, _, err = w.AddListeners(edge, strings.TrimPrefix(frontURL, "http://"), "")
	var le *ListenError
	if !errors.As(err, &le) || le.HTTPS || le.Addr != strings.TrimPrefix(frontURL, "http://") {
		t.Fatalf("listening on a taken address: %v", err)
	}
}
