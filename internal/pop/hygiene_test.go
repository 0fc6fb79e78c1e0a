package pop

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/listener"
)

// Header hygiene: request header names with "_", which CGI, WSGI, PHP and
// Rack origins read as the dashed names (X_Forwarded_Host is
// HTTP_X_FORWARDED_HOST), and the CloudFront-Viewer-* headers across
// tiers.

// underscoreSpoofs are fields a viewer sends, spelled with "_", each the
// twin of a header some filter exists for (unkeyed unsafe, Strata's own,
// viewer location, hop-by-hop and framing, the ones Strata sets). The
// values are what must never reach an origin.
var underscoreSpoofs = [][2]string{
	{"X_Forwarded_Host", "spoofed-xfh.example"},
	{"X_Original_URL", "/spoofed-original"},
	{"X_Rewrite_Url", "/spoofed-rewrite"},
	{"X_Real_IP", "spoofed-real-ip"},
	{"X_Forwarded_For", "spoofed-xff"},
	{"X_Forwarded_Proto", "spoofed-proto"},
	{"X_Http_Method_Override", "spoofed-method"},
	{"CloudFront_Viewer_Country", "spoofed-country"},
	{"CloudFront_Viewer_Address", "spoofed-address"},
	{"X_Strata_Hop", "spoofed-hop"},
	{"X_Strata_Request_Id", "spoofed-request-id"},
	{"X_Amz_Cf_Id", "spoofed-cf-id"},
	{"Transfer_Encoding", "chunked"},
	{"Content_Length", "spoofed-content-length"},
	{"Keep_Alive", "spoofed-keep-alive"},
	{"Proxy_Authorization", "spoofed-proxy-authorization"},
	{"Accept_Encoding", "spoofed-accept-encoding"},
	{"User_Agent", "spoofed-user-agent"},
}

// hygieneConfig: /all/* is cached with an origin request policy that
// forwards every viewer header; /key/* is cached on X-Custom; anything
// else that is not a GET or HEAD passes through. optIn sets
// underscoresInHeaders.
func hygieneConfig(optIn bool) func(*config.Config) {
	return func(c *config.Config) {
		d := &c.Distributions[0]
		d.UnderscoresInHeaders = optIn
		def, maxTTL := int64(3600), int64(86400)
		c.CachePolicies = append(c.CachePolicies, config.CachePolicy{ID: "k", DefaultTTL: &def, MaxTTL: &maxTTL,
			CacheKey: config.CacheKeyConfig{Headers: config.KeyList{Behavior: "whitelist", Items: []string{"X-Custom"}}}})
		c.OriginRequestPolicies = append(c.OriginRequestPolicies, config.OriginRequestPolicy{ID: "all",
			Headers: config.KeyList{Behavior: "allViewer"}})
		all, key := d.DefaultCacheBehavior, d.DefaultCacheBehavior
		all.PathPattern, all.OriginRequestPolicyID = "/all/*", "all"
		key.PathPattern, key.CachePolicyID = "/key/*", "k"
		d.CacheBehaviors = append(d.CacheBehaviors, all, key)
	}
}

// headerRecorder is an origin handler that keeps, per path, the header
// block it received as name: value lines (names as they came, "_" and all).
type headerRecorder struct {
	mu     sync.Mutex
	blocks map[string]string
}

func (hr *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "Host: %s\n", r.Host)
	for _, te := range r.TransferEncoding {
		fmt.Fprintf(&b, "Transfer-Encoding: %s\n", te)
	}
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	io.Copy(io.Discard, r.Body)
	hr.mu.Lock()
	if hr.blocks == nil {
		hr.blocks = map[string]string{}
	}
	hr.blocks[r.URL.Path] = b.String()
	hr.mu.Unlock()
	w.Header().Set("Cache-Control", "max-age=600")
	io.WriteString(w, "ok "+r.URL.Path)
}

func (hr *headerRecorder) block(path string) (string, bool) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	b, ok := hr.blocks[path]
	return b, ok
}

// viewerProtocols serves h as a PoP's viewer listener does: HTTP/1.1 on a
// plain listener, HTTP/2 (ALPN) on a TLS one, HTTP/3 over QUIC. The clients
// send every request to the listener of their protocol, whatever its URL.
type viewerProtocols struct {
	t       *testing.T
	clients map[string]*http.Client // by resp.Proto
}

var protocols = []string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"}

func serveViewerProtocols(t *testing.T, h http.Handler) *viewerProtocols {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := devca.Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf, _, err := ca.EnsureLeaf(dir, "leaf", []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	base := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	srv, err := listener.New(listener.Options{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return base, nil }},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(plain)
	go srv.ServeTLS(tlsLn)
	go srv.ServeQUIC(udp)
	t.Cleanup(func() { srv.Close() })
	dialTo := func(addr string) func(ctx context.Context, _, _ string) (net.Conn, error) {
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	h1 := &http.Transport{DialContext: dialTo(plain.Addr().String()), DisableCompression: true}
	h2 := &http.Transport{DialContext: dialTo(tlsLn.Addr().String()), ForceAttemptHTTP2: true, DisableCompression: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}}
	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 5 * time.Second},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, udp.LocalAddr().String(), tc, qc)
		},
	}
	t.Cleanup(func() { h1.CloseIdleConnections(); h2.CloseIdleConnections(); h3.Close() })
	return &viewerProtocols{t: t, clients: map[string]*http.Client{
		"HTTP/1.1": {Transport: h1, Timeout: 10 * time.Second},
		"HTTP/2.0": {Transport: h2, Timeout: 10 * time.Second},
		"HTTP/3.0": {Transport: h3, Timeout: 10 * time.Second},
	}}
}

// do sends method path over proto with the fields in hdr, names exactly as
// given (HTTP/2 and HTTP/3 lower-case them on the wire).
func (vp *viewerProtocols) do(proto, method, path string, hdr [][2]string) response {
	vp.t.Helper()
	scheme := "https"
	if proto == "HTTP/1.1" {
		scheme = "http"
	}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("a body")
	}
	req, err := http.NewRequest(method, scheme+"://127.0.0.1"+path, body)
	if err != nil {
		vp.t.Fatal(err)
	}
	for _, kv := range hdr {
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	resp, err := vp.clients[proto].Do(req)
	if err != nil {
		vp.t.Fatalf("%s %s over %s: %v", method, path, proto, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		vp.t.Fatalf("%s %s over %s: body: %v", method, path, proto, err)
	}
	if resp.Proto != proto {
		vp.t.Fatalf("%s %s: went over %s, want %s", method, path, resp.Proto, proto)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// checkUnderscores sends the spoofs over every protocol, to a cached path
// whose policy forwards all viewer headers, to a path keyed on X-Custom,
// and as a pass-through POST, and reads what the origin received: never a
// spoofed value, never a name with "_" but X_Custom_Ok, which reaches the
// origin exactly when the distribution opts in.
func checkUnderscores(t *testing.T, vp *viewerProtocols, rec *headerRecorder, optIn bool) {
	hdr := append([][2]string{{"X-Custom", "keyed"}, {"X_Custom_Ok", "kept"}}, underscoreSpoofs...)
	n := 0
	for _, proto := range protocols {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/all/"}, {http.MethodGet, "/key/"}, {http.MethodPost, "/pass/"},
		} {
			n++
			path := fmt.Sprintf("%s%d", c.path, n) // a miss every time
			t.Run(proto+" "+c.method+" "+c.path, func(t *testing.T) {
				r := vp.do(proto, c.method, path, hdr)
				if r.status != 200 || r.body != "ok "+path {
					t.Fatalf("status %d %q", r.status, r.body)
				}
				got, ok := rec.block(path)
				if !ok {
					t.Fatal("the request did not reach the origin")
				}
				if strings.Contains(got, "spoofed") {
					t.Errorf("a spoofed value reached the origin:\n%s", got)
				}
				for _, line := range strings.Split(got, "\n") {
					name, _, _ := strings.Cut(line, ":")
					if strings.Contains(name, "_") && !(optIn && name == "X_custom_ok") {
						t.Errorf("%s reached the origin", line)
					}
				}
				if kept := strings.Contains(got, "X_custom_ok: kept\n"); kept != (optIn && c.path != "/key/") {
					t.Errorf("X_Custom_Ok reached the origin: %v (underscoresInHeaders %v):\n%s", kept, optIn, got)
				}
				if !strings.Contains(got, "X-Custom: keyed\n") {
					t.Errorf("the dashed X-Custom did not reach the origin:\n%s", got)
				}
			})
		}
	}
}

// TestUnderscoreHeadersNeverReachTheOrigin: one PoP, over HTTP/1.1, HTTP/2
// and HTTP/3, with and without underscoresInHeaders.
func TestUnderscoreHeadersNeverReachTheOrigin(t *testing.T) {
	for _, optIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("underscoresInHeaders=%v", optIn), func(t *testing.T) {
			rec := &headerRecorder{}
			w := newWorld(t, rec.ServeHTTP, hygieneConfig(optIn))
			checkUnderscores(t, serveViewerProtocols(t, w.pop), rec, optIn)
		})
	}
}

// TestUnderscoreHeadersThroughTiers: the same through an edge whose cached
// misses go to its regional PoP, and through edge, regional and origin
// shield.
func TestUnderscoreHeadersThroughTiers(t *testing.T) {
	for _, shield := range []bool{false, true} {
		for _, optIn := range []bool{false, true} {
			t.Run(fmt.Sprintf("shield=%v/underscoresInHeaders=%v", shield, optIn), func(t *testing.T) {
				rec := &headerRecorder{}
				mutate := func(c *config.Config) {
					hygieneConfig(optIn)(c)
					if shield {
						c.Distributions[0].Origins[0].OriginShield = config.OriginShield{Enabled: true, Region: "B-R"}
					}
				}
				n := newNetwork(t, 1, 0, rec.ServeHTTP, mutate)
				checkUnderscores(t, serveViewerProtocols(t, n.pops["EA1"]), rec, optIn)
				want := "RA1"
				if shield {
					want = "RB1"
				}
				if b, _ := rec.block("/all/1"); !strings.Contains(b, want+" (strata)") {
					t.Fatalf("the cached fetch did not come through %s:\n%s", want, b)
				}
			})
		}
	}
}

// TestPolicyNamesNotTrickedByUnderscores: with the opt-in, a policy that
// names X-Custom forwards X-Custom, never an X_Custom beside it (which a
// CGI origin would read in its place, unkeyed, even when the origin request
// policy forwards all viewer headers); one that
// names X_Custom forwards that spelling and no X-Custom; an allExcept list
// excludes both spellings.
func TestPolicyNamesNotTrickedByUnderscores(t *testing.T) {
	rec := &headerRecorder{}
	w := newWorld(t, rec.ServeHTTP, func(c *config.Config) {
		hygieneConfig(true)(c)
		d := &c.Distributions[0]
		c.OriginRequestPolicies = append(c.OriginRequestPolicies,
			config.OriginRequestPolicy{ID: "under", Headers: config.KeyList{Behavior: "whitelist", Items: []string{"X_Custom"}}},
			config.OriginRequestPolicy{ID: "except", Headers: config.KeyList{Behavior: "allExcept", Items: []string{"X-Secret"}}})
		under, except, keyAll := d.DefaultCacheBehavior, d.DefaultCacheBehavior, d.DefaultCacheBehavior
		under.PathPattern, under.OriginRequestPolicyID = "/under/*", "under"
		except.PathPattern, except.OriginRequestPolicyID = "/except/*", "except"
		keyAll.PathPattern, keyAll.CachePolicyID, keyAll.OriginRequestPolicyID = "/keyall/*", "k", "all"
		d.CacheBehaviors = append(d.CacheBehaviors, under, except, keyAll)
	})
	vp := serveViewerProtocols(t, w.pop)
	for path, want := range map[string][]string{
		"/key/1":    {"X-Custom: dashed\n"},
		"/keyall/1": {"X-Custom: dashed\n", "X-Other: other\n"},
		"/under/1":  {"X_custom: underscored\n"},
		"/except/1": {"X-Other: other\n"},
	} {
		vp.do("HTTP/1.1", http.MethodGet, path, [][2]string{
			{"X-Custom", "dashed"}, {"X_Custom", "underscored"}, {"X-Secret", "s1"}, {"X_Secret", "s2"}, {"X-Other", "other"}})
		got, _ := rec.block(path)
		for _, line := range want {
			if !strings.Contains(got, line) {
				t.Errorf("%s: %q missing at the origin:\n%s", path, line, got)
			}
		}
		var other []string
		switch path {
		case "/key/1", "/keyall/1":
			other = []string{"underscored"}
		case "/under/1":
			other = []string{"dashed"}
		case "/except/1":
			other = []string{"s1", "s2"}
		}
		for _, v := range other {
			if strings.Contains(got, ": "+v+"\n") {
				t.Errorf("%s: %q reached the origin:\n%s", path, v, got)
			}
		}
	}
}

// TestViewerHeadersThroughTiers: CloudFront-Viewer-Address and -Country that
// an origin request policy names reach the origin through edge -> regional
// and edge -> regional -> shield, describing the edge's viewer (its address
// and port, the country of its address); a viewer's own values never do,
// not even sent to a regional PoP directly.
func TestViewerHeadersThroughTiers(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "test.mmdb")
	if err := geo.WriteTestDB(dbPath, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	echo := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(rw, "address=%s country=%s", r.Header.Get("CloudFront-Viewer-Address"), r.Header.Get("CloudFront-Viewer-Country"))
	}
	for _, shield := range []bool{false, true} {
		t.Run(fmt.Sprintf("shield=%v", shield), func(t *testing.T) {
			mutate := func(c *config.Config) {
				c.OriginRequestPolicies = []config.OriginRequestPolicy{{ID: "geo", Headers: config.KeyList{Behavior: "whitelist",
					Items: []string{"CloudFront-Viewer-Address", "CloudFront-Viewer-Country"}}}}
				c.CachePolicies[0].CacheKey.Headers = config.KeyList{Behavior: "whitelist", Items: []string{"CloudFront-Viewer-Country"}}
				c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "geo"
				if shield {
					c.Distributions[0].Origins[0].OriginShield = config.OriginShield{Enabled: true, Region: "B-R"}
				}
			}
			n := newNetwork(t, 0, 0, echo, mutate)
			// The edge, with the geo database; its regional PoP (RA1) and
			// the shield (RB1) have none.
			cfg := testConfig(n.origin.URL, mutate)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			edge, err := New(cfg, Options{ID: "EG1", DefaultDistribution: "d", TierSecret: "s3cret", Geo: db,
				RegionalCache: "A-R", Parent: &Peer{ID: "RA1", URL: n.urls["RA1"]},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(edge.Close)
			edgeURL := serve(t, edge)

			get := func(url, src, path string, kv ...string) (response, string) {
				t.Helper()
				var local string
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
				tr := &http.Transport{DialContext: func(ctx context.Context, nw, a string) (net.Conn, error) {
					c, err := d.DialContext(ctx, nw, a)
					if err == nil {
						local = c.LocalAddr().String()
					}
					return c, err
				}}
				defer tr.CloseIdleConnections()
				req, _ := http.NewRequest("GET", url+path, nil)
				for i := 0; i+1 < len(kv); i += 2 {
					req.Header[kv[i]] = []string{kv[i+1]}
				}
				resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return response{resp.StatusCode, resp.Header, string(b)}, local
			}
			via := "RA1"
			if shield {
				via = "RB1"
			}

			r, local := get(edgeURL, "127.2.0.9", "/v")
			if want := "address=" + local + " country=DE"; r.body != want {
				t.Fatalf("DE viewer through the tiers: origin saw %q, want %q", r.body, want)
			}
			if got := n.origin.lastReq("/v").Header.Get("Via"); !strings.Contains(got, via) {
				t.Fatalf("the fetch did not come through %s: Via %q", via, got)
			}
			// A viewer's own values, dashed or not, change nothing; the
			// country is in the key, so this is a second fetch.
			r, local = get(edgeURL, "127.1.0.9", "/v", "CloudFront-Viewer-Address", "6.6.6.6:6", "CloudFront-Viewer-Country", "FR",
				"CloudFront_Viewer_Country", "FR", "X-Strata-Hop", "guess")
			if want := "address=" + local + " country=US"; r.body != want {
				t.Fatalf("US viewer with spoofed headers: origin saw %q, want %q", r.body, want)
			}
			if c := n.origin.count("/v"); c != 2 {
				t.Fatalf("origin count %d, want one per country", c)
			}
			// Straight to the regional PoP, without the tier secret: the
			// viewer is RA1's own viewer (no geo database there).
			r, local = get(n.urls["RA1"], "127.1.0.9", "/direct", "CloudFront-Viewer-Address", "6.6.6.6:6", "CloudFront-Viewer-Country", "FR",
				"X-Strata-Hop", "guess")
			// (A regional PoP may also refuse viewers outright; then nothing
			// reaches the origin at all.)
			if want := "address=" + local + " country="; r.status == 200 && r.body != want ||
				r.status != 200 && n.origin.count("/direct") != 0 {
				t.Fatalf("viewer at the regional PoP: %d, origin saw %q, want %q", r.status, r.body, want)
			}
		})
	}
}

// FuzzSameFilterName: the allocation-free comparison agrees with
// filterName, which is idempotent and never keeps a "_".
func FuzzSameFilterName(f *testing.F) {
	for _, s := range [][2]string{{"X_Forwarded_Host", "x-forwarded-host"}, {"X-Custom", "X_custom"},
		{"Transfer_Encoding", "Transfer-Encoding"}, {"a_b", "a_c"}, {"_", "-"}, {"X-A", "X-AB"}, {"é_", "É-"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fa, fb := filterName(a), filterName(b)
		if got, want := sameFilterName(a, b), fa == fb; got != want && isHeaderToken(a) && isHeaderToken(b) {
			t.Fatalf("sameFilterName(%q, %q) = %v, filterNames %q %q", a, b, got, fa, fb)
		}
		if isHeaderToken(a) && (strings.Contains(fa, "_") || filterName(fa) != fa) {
			t.Fatalf("filterName(%q) = %q", a, fa)
		}
	})
}

// isHeaderToken: the names a listener lets through (RFC 9110 tokens).
func isHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
