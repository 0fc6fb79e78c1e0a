package pop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/listener"
)

// tlsWorld is one PoP with an HTTP and an HTTPS listener on loopback, its
// certificates issued by a development CA made for the test:
//
//	d  d.strata.localhost (default certificate), aliases: none
//	a  alias a.example.com, its own certificate, TLSv1.2_2021
//	b  alias *.b.example.com, its own wildcard certificate, TLSv1.3_2025
//	h1 alias old.example.com, its own certificate, httpVersion http1.1
type tlsWorld struct {
	t           *testing.T
	pop         *PoP
	origin      *testOrigin
	plain, tls  string // listener addresses
	ca          *devca.CA
	dir         string
	cfg         func() *config.Config
	defaultLeaf *x509.Certificate
}

func newTLSWorld(t *testing.T, fallback string, mutate func(*config.Config)) *tlsWorld {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := devca.Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(base string, names ...string) (string, string) {
		c, k, _, err := ca.EnsureLeaf(dir, base, names, now)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	defCert, defKey := issue("default", "d.strata.localhost", "localhost", "127.0.0.1")
	aCert, aKey := issue("a", "a.example.com")
	bCert, bKey := issue("b", "*.b.example.com")
	oldCert, oldKey := issue("old", "old.example.com")
	o := newOrigin(t, &clock{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "origin "+r.URL.Path+" proto="+r.Header.Get("X-Forwarded-Proto"))
	})
	mk := func() *config.Config {
		cfg := testConfig(o.URL, nil)
		d := cfg.Distributions[0]
		d.CacheBehaviors = []config.CacheBehavior{
			{PathPattern: "/r/*", TargetOriginID: "o", CachePolicyID: "p", ViewerProtocolPolicy: "redirect-to-https",
				AllowedMethods: d.DefaultCacheBehavior.AllowedMethods},
			{PathPattern: "/s/*", TargetOriginID: "o", CachePolicyID: "p", ViewerProtocolPolicy: "https-only"},
		}
		with := func(id, alias, cert, key, policy, version string) config.Distribution {
			x := d
			x.ID, x.Aliases, x.CacheBehaviors = id, []string{alias}, nil
			x.ViewerCertificate = config.ViewerCertificate{CertificateFile: cert, KeyFile: key, MinimumProtocolVersion: policy}
			x.HTTPVersion = version
			return x
		}
		cfg.Distributions = []config.Distribution{d,
			with("a", "a.example.com", aCert, aKey, "TLSv1.2_2021", ""),
			with("b", "*.b.example.com", bCert, bKey, "TLSv1.3_2025", ""),
			with("h1", "old.example.com", oldCert, oldKey, "", "http1.1"),
		}
		if mutate != nil {
			mutate(cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tw := &tlsWorld{t: t, origin: o, ca: ca, dir: dir, cfg: mk}
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tw.plain, tw.tls = plainLn.Addr().String(), tlsLn.Addr().String()
	port, _ := strconv.Atoi(tw.tls[strings.LastIndexByte(tw.tls, ':')+1:])
	p, err := New(mk(), Options{ID: "TLS1", DefaultDistribution: fallback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DefaultCertFile: defCert, DefaultKeyFile: defKey, HTTPSPort: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	tw.pop = p
	srv, err := listener.New(listener.Options{Handler: p, TLSConfig: p.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(plainLn)
	go srv.ServeTLS(tlsLn)
	t.Cleanup(func() { srv.Close() })
	tw.defaultLeaf = tw.leaf("d.strata.localhost", nil)
	return tw
}

// client sends every https:// request to the HTTPS listener and every
// http:// one to the HTTP listener, verifying with the test CA; h2 offers
// HTTP/2 as well as HTTP/1.1.
func (tw *tlsWorld) client(h2 bool, tweak func(*tls.Config)) *http.Client {
	tc := &tls.Config{RootCAs: tw.ca.Pool()}
	if !h2 {
		tc.NextProtos = []string{"http/1.1"}
	}
	if tweak != nil {
		tweak(tc)
	}
	tr := &http.Transport{
		TLSClientConfig:   tc,
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to := tw.plain
			if strings.HasSuffix(addr, ":443") {
				to = tw.tls
			}
			return (&net.Dialer{}).DialContext(ctx, network, to)
		},
	}
	tw.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (tw *tlsWorld) do(c *http.Client, method, url string) (*http.Response, string) {
	tw.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tw.t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		tw.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tw.t.Fatal(err)
	}
	return resp, string(b)
}

// handshake connects to the HTTPS listener with serverName as SNI.
func (tw *tlsWorld) handshake(serverName string, tweak func(*tls.Config)) (tls.ConnectionState, error) {
	tc := &tls.Config{ServerName: serverName, RootCAs: tw.ca.Pool(), NextProtos: []string{"h2", "http/1.1"}}
	if serverName == "" {
		tc.InsecureSkipVerify = true
	}
	if tweak != nil {
		tweak(tc)
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: tc}
	c, err := d.Dial("tcp", tw.tls)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

func (tw *tlsWorld) leaf(serverName string, tweak func(*tls.Config)) *x509.Certificate {
	tw.t.Helper()
	st, err := tw.handshake(serverName, tweak)
	if err != nil {
		tw.t.Fatalf("handshake with SNI %q: %v", serverName, err)
	}
	return st.PeerCertificates[0]
}

func TestHTTPSOverHTTP1AndHTTP2(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	for _, tc := range []struct {
		name   string
		h2     bool
		proto  string
		xcache string
	}{{"h2", true, "HTTP/2.0", "Miss"}, {"http/1.1", false, "HTTP/1.1", "Hit"}} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tw.do(tw.client(tc.h2, nil), "GET", "https://d.strata.localhost/obj")
			if resp.Proto != tc.proto {
				t.Fatalf("Proto %s, want %s", resp.Proto, tc.proto)
			}
			if resp.StatusCode != 200 || body != "origin /obj proto=https" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Cache"); got != tc.xcache+" from strata" {
				t.Fatalf("X-Cache %q, want %s", got, tc.xcache)
			}
		})
	}
	if n := tw.origin.count("/obj"); n != 1 {
		t.Fatalf("origin saw %d requests, want 1 (the h1 request is a hit)", n)
	}
	// A body of some size and a HEAD over h2.
	resp, _ := tw.do(tw.client(true, nil), "HEAD", "https://d.strata.localhost/obj")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("HEAD over h2: %d %s %q", resp.StatusCode, resp.Proto, resp.Header.Get("X-Cache"))
	}
}

func TestSNIChoosesCertificate(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	for _, tc := range []struct {
		sni  string
		want []string
	}{
		{"a.example.com", []string{"a.example.com"}},
		{"A.Example.com.", []string{"a.example.com"}},
		{"img.b.example.com", []string{"*.b.example.com"}},
		{"old.example.com", []string{"old.example.com"}},
		{"d.strata.localhost", []string{"d.strata.localhost", "localhost"}},
		{"a.strata.localhost", []string{"d.strata.localhost", "localhost"}}, // a's domain name: the default certificate
	} {
		tweak := func(c *tls.Config) {
			if tc.sni != strings.ToLower(strings.TrimSuffix(tc.sni, ".")) {
				c.ServerName, c.InsecureSkipVerify = tc.sni, true
			}
		}
		if tc.sni == "a.strata.localhost" {
			tweak = func(c *tls.Config) { c.InsecureSkipVerify = true }
		}
		leaf := tw.leaf(tc.sni, tweak)
		if !slices.Equal(leaf.DNSNames, tc.want) {
			t.Errorf("SNI %s: certificate for %v, want %v", tc.sni, leaf.DNSNames, tc.want)
		}
	}
	// No SNI (a client connecting to an IP address): the default certificate.
	if leaf := tw.leaf("", nil); !leaf.Equal(tw.defaultLeaf) {
		t.Errorf("no SNI: certificate for %v", leaf.DNSNames)
	}
	// sslSupportMethod vip: that distribution's certificate goes to viewers
	// without SNI too.
	if err := tw.pop.Apply(tw.cfg2(func(c *config.Config) { c.Distributions[1].ViewerCertificate.SSLSupportMethod = "vip" })); err != nil {
		t.Fatal(err)
	}
	if leaf := tw.leaf("", nil); !slices.Equal(leaf.DNSNames, []string{"a.example.com"}) {
		t.Errorf("no SNI with a vip distribution: certificate for %v", leaf.DNSNames)
	}
}

// A name no distribution has gets the default certificate (the handshake
// succeeds, so the viewer can be told why), then 421.
func TestUnknownSNI(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	leaf := tw.leaf("nobody.example.org", func(c *tls.Config) { c.InsecureSkipVerify = true })
	if !leaf.Equal(tw.defaultLeaf) {
		t.Fatalf("unknown SNI: certificate for %v", leaf.DNSNames)
	}
	// A client that verifies refuses it: the certificate does not cover the name.
	if _, err := tw.handshake("nobody.example.org", nil); err == nil {
		t.Fatal("the default certificate verified for nobody.example.org")
	}
	c := tw.client(true, func(c *tls.Config) { c.InsecureSkipVerify = true })
	resp, body := tw.do(c, "GET", "https://nobody.example.org/x")
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// With a default distribution (demo, quick mode), an unknown name is
	// served by it, over HTTPS too.
	tw = newTLSWorld(t, "d", nil)
	resp, body = tw.do(tw.client(true, func(c *tls.Config) { c.InsecureSkipVerify = true }), "GET", "https://nobody.example.org/x")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("fallback: %d %s %q", resp.StatusCode, resp.Proto, body)
	}
}

func TestSecurityPolicies(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	maxVersion := func(v uint16) func(*tls.Config) {
		return func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, v }
	}
	for _, tc := range []struct {
		sni string
		max uint16
		ok  bool
	}{
		{"a.example.com", tls.VersionTLS11, false}, // TLSv1.2_2021
		{"a.example.com", tls.VersionTLS12, true},
		{"x.b.example.com", tls.VersionTLS12, false}, // TLSv1.3_2025
		{"x.b.example.com", tls.VersionTLS13, true},
		{"d.strata.localhost", tls.VersionTLS11, false}, // the default policy
	} {
		st, err := tw.handshake(tc.sni, maxVersion(tc.max))
		if (err == nil) != tc.ok {
			t.Errorf("SNI %s, client up to %s: err %v, want ok=%v", tc.sni, tls.VersionName(tc.max), err, tc.ok)
		}
		if err == nil && st.Version != tc.max {
			t.Errorf("SNI %s: negotiated %s", tc.sni, tls.VersionName(st.Version))
		}
	}
	// A CBC suite is refused by TLSv1.2_2021 and accepted by TLSv1.2_2019.
	cbc := func(c *tls.Config) {
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	}
	if _, err := tw.handshake("a.example.com", cbc); err == nil {
		t.Error("TLSv1.2_2021 accepted ECDHE-ECDSA-AES128-SHA256")
	}
	if err := tw.pop.Apply(tw.cfg2(func(c *config.Config) { c.Distributions[1].ViewerCertificate.MinimumProtocolVersion = "TLSv1.2_2019" })); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.handshake("a.example.com", cbc); err != nil {
		t.Errorf("TLSv1.2_2019 refused ECDHE-ECDSA-AES128-SHA256: %v", err)
	}
}

// cfg2 is the world's configuration with a change.
func (tw *tlsWorld) cfg2(mutate func(*config.Config)) *config.Config {
	c := tw.cfg()
	mutate(c)
	if err := c.Validate(); err != nil {
		tw.t.Fatal(err)
	}
	return c
}

func TestALPNPerDistribution(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	for sni, want := range map[string]string{"old.example.com": "http/1.1", "a.example.com": "h2", "d.strata.localhost": "h2"} {
		st, err := tw.handshake(sni, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.NegotiatedProtocol != want {
			t.Errorf("SNI %s: ALPN %q, want %q", sni, st.NegotiatedProtocol, want)
		}
	}
	resp, _ := tw.do(tw.client(true, nil), "GET", "https://old.example.com/x")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" {
		t.Fatalf("http1.1 distribution: %d %s", resp.StatusCode, resp.Proto)
	}
	if !tw.pop.HTTPVersionOffered("a.example.com", "h2") || tw.pop.HTTPVersionOffered("old.example.com", "h2") ||
		tw.pop.HTTPVersionOffered("a.example.com", "h3") {
		t.Fatal("HTTPVersionOffered disagrees with the distributions")
	}
}

// A connection whose SNI named one distribution does not serve another's
// Host (HTTP/2 connection reuse, domain fronting): 421, and the client
// retries on a connection of its own.
func TestSNIHostMismatch(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	c := tw.client(false, func(c *tls.Config) { c.ServerName = "a.example.com" })
	resp, body := tw.do(c, "GET", "https://d.strata.localhost/x")
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "TLS server name") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	resp, _ = tw.do(c, "GET", "https://a.example.com/x")
	if resp.StatusCode != 200 {
		t.Fatalf("matching Host: %d", resp.StatusCode)
	}
}

func TestViewerProtocolPolicyOverHTTPS(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	plain, secure := tw.client(false, nil), tw.client(true, nil)
	port := tw.tls[strings.LastIndexByte(tw.tls, ':')+1:]
	for _, tc := range []struct {
		method   string
		url      string
		status   int
		location string
	}{
		{"GET", "http://d.strata.localhost/r/page?q=1", 301, "https://d.strata.localhost:" + port + "/r/page?q=1"},
		{"HEAD", "http://d.strata.localhost/r/page", 301, "https://d.strata.localhost:" + port + "/r/page"},
		{"POST", "http://d.strata.localhost/r/form", 307, "https://d.strata.localhost:" + port + "/r/form"},
		{"GET", "http://d.strata.localhost/s/secret", 403, ""},
	} {
		resp, _ := tw.do(plain, tc.method, tc.url)
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d Location %q, want %d %q", tc.method, tc.url, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
	}
	// Followed to the HTTPS port, the same requests are served.
	for _, u := range []string{"https://d.strata.localhost:" + port + "/r/page?q=1", "https://d.strata.localhost/s/secret"} {
		u = strings.Replace(u, ":"+port, "", 1) // the test client sends :443 to the HTTPS listener
		resp, body := tw.do(secure, "GET", u)
		if resp.StatusCode != 200 || !strings.HasSuffix(body, "proto=https") {
			t.Errorf("GET %s: %d %q", u, resp.StatusCode, body)
		}
	}
}

// Certificates come with the snapshot: a new certificate file is served to
// the next handshake; a snapshot whose certificate cannot be read is
// refused, naming the field, and the running one keeps serving.
func TestCertificatesReloadWithSnapshot(t *testing.T) {
	tw := newTLSWorld(t, "", nil)
	newCert, newKey, _, err := tw.ca.EnsureLeaf(tw.dir, "a2", []string{"a.example.com", "a2.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.pop.Apply(tw.cfg2(func(c *config.Config) {
		c.Distributions[1].ViewerCertificate.CertificateFile, c.Distributions[1].ViewerCertificate.KeyFile = newCert, newKey
	})); err != nil {
		t.Fatal(err)
	}
	if leaf := tw.leaf("a.example.com", nil); !slices.Equal(leaf.DNSNames, []string{"a.example.com", "a2.example.com"}) {
		t.Fatalf("after Apply: certificate for %v", leaf.DNSNames)
	}
	err = tw.pop.Apply(tw.cfg2(func(c *config.Config) {
		c.Distributions[2].ViewerCertificate.CertificateFile = filepath.Join(tw.dir, "missing.pem")
	}))
	if err == nil || !strings.Contains(err.Error(), "distributions[2].viewerCertificate.certificateFile") {
		t.Fatalf("Apply with a missing certificate: %v", err)
	}
	if leaf := tw.leaf("x.b.example.com", nil); !slices.Equal(leaf.DNSNames, []string{"*.b.example.com"}) {
		t.Fatalf("after the refused Apply: certificate for %v", leaf.DNSNames)
	}
	// A certificate that does not cover an alias is refused too.
	err = tw.pop.Apply(tw.cfg2(func(c *config.Config) {
		c.Distributions[1].Aliases = append(c.Distributions[1].Aliases, "z.example.com")
	}))
	if err == nil || !strings.Contains(err.Error(), "distributions[1].aliases[1]") {
		t.Fatalf("Apply with an uncovered alias: %v", err)
	}
}

// TestViewerProtocolPolicyThroughTiers: the policy is about the viewer's
// connection to the edge. The hop between tiers is plain HTTP, but an HTTPS
// viewer gets the object (and the origin hears "https") through any tiers;
// an HTTP viewer gets a redirect to the edge's own HTTPS port, which is
// never cached, and nothing a parent would have made of the hop is either.
func TestViewerProtocolPolicyThroughTiers(t *testing.T) {
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "origin "+r.URL.Path+" proto="+r.Header.Get("X-Forwarded-Proto"))
	}
	mutate := func(cf *config.Config) {
		cf.Distributions[0].CacheBehaviors = []config.CacheBehavior{
			{PathPattern: "/r/*", TargetOriginID: "o", CachePolicyID: "p", ViewerProtocolPolicy: "redirect-to-https"},
			{PathPattern: "/s/*", TargetOriginID: "o", CachePolicyID: "p", ViewerProtocolPolicy: "https-only"},
		}
	}
	eachTopology(t, netOpts{tls: true}, origin, mutate, func(t *testing.T, n *network) {
		edge, port := n.viewer, n.tlsPort(n.viewer)
		ok := func(r response, path string) {
			t.Helper()
			if r.status != 200 || r.body != "origin "+path+" proto=https" {
				t.Fatalf("HTTPS %s: %d %q (Cache-Status %q)", path, r.status, r.body, r.header.Values("Cache-Status"))
			}
		}
		// An HTTPS viewer first: the object, then an edge hit.
		ok(n.send(edge, viewerReq{path: "/r/a", https: true}), "/r/a")
		r := n.send(edge, viewerReq{path: "/r/a", https: true})
		ok(r, "/r/a")
		expectXCache(t, r, "Hit")
		// An HTTP viewer: a redirect to this edge's HTTPS port, for a cached
		// object or not, with the query.
		for _, path := range []string{"/r/a", "/r/b", "/r/c?x=1&y=%2F"} {
			r := n.send(edge, viewerReq{path: path})
			if want := "https://d.strata.localhost:" + port + path; r.status != 301 || r.header.Get("Location") != want {
				t.Fatalf("HTTP %s: %d Location %q, want 301 %q", path, r.status, r.header.Get("Location"), want)
			}
			expectXCache(t, r, "Redirect")
		}
		for method, code := range map[string]int{http.MethodHead: 301, http.MethodPost: 307, http.MethodPut: 307} {
			r := n.send(edge, viewerReq{method: method, path: "/r/form"})
			if want := "https://d.strata.localhost:" + port + "/r/form"; r.status != code || r.header.Get("Location") != want {
				t.Fatalf("HTTP %s: %d Location %q, want %d %q", method, r.status, r.header.Get("Location"), code, want)
			}
		}
		// Followed: the object, never the redirect, at every tier.
		ok(n.send(edge, viewerReq{path: "/r/b", https: true}), "/r/b")
		ok(n.send(edge, viewerReq{path: "/r/b", https: true}), "/r/b")
		// https-only: 403 over HTTP, the object over HTTPS, both ways round.
		for i := 0; i < 2; i++ {
			if r := n.send(edge, viewerReq{path: "/s/a"}); r.status != 403 || !strings.Contains(r.body, "HTTPS is required") {
				t.Fatalf("HTTP /s/a: %d %q", r.status, r.body)
			}
			ok(n.send(edge, viewerReq{path: "/s/a", https: true}), "/s/a")
		}
		for _, path := range []string{"/r/a", "/r/b", "/s/a"} {
			if c := n.origin.count(path); c != 1 {
				t.Fatalf("%s: origin count %d, want 1", path, c)
			}
		}
		if c := n.origin.count("/r/c") + n.origin.count("/r/form"); c != 0 {
			t.Fatalf("a redirected request reached the origin %d times", c)
		}
	})
}
