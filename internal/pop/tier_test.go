package pop

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/listener"
)

// network is a small world: regional PoPs RA1 (regional cache A-R) and RB1
// (B-R), and edges under each (EA1…, EB1…), all real listeners on
// loopback, every PoP on the same clock. With netOpts.tls every PoP also
// has an HTTPS listener whose certificate a development CA made for the
// test issued; with netOpts.single the network is one edge, EA1, without
// a parent.
type network struct {
	t       *testing.T
	origin  *testOrigin
	clock   *clock
	urls    map[string]string // PoP id -> URL (http://)
	tlsURLs map[string]string // PoP id -> URL (https://), with netOpts.tls
	servers map[string]interface{ Close() error }
	pops    map[string]*PoP
	ca      *devca.CA // with netOpts.tls
	viewer  string    // the PoP viewers use: the first edge
}

// netOpts shape a network beyond its edge counts.
type netOpts struct {
	edgesA, edgesB int
	single         bool    // one edge, EA1, with no parent: the single-PoP topology
	shield         string  // every origin names this regional cache ("A-R", "B-R") as its origin shield
	tls            bool    // HTTPS listeners beside the HTTP ones
	geo            *geo.DB // the country database of every PoP
	// regionalOpts adjusts the Options of the regional PoPs.
	regionalOpts func(*Options)
}

// certNames are the names of the certificate every PoP of a network with
// HTTPS presents (the test configuration's "d" answers any Host).
var certNames = []string{"d.strata.localhost", "videos.example", "www.example", "localhost", "127.0.0.1"}

func newNetwork(t *testing.T, edgesA, edgesB int, h http.HandlerFunc, mutate func(*config.Config)) *network {
	t.Helper()
	return newNetworkOpts(t, netOpts{edgesA: edgesA, edgesB: edgesB}, h, mutate)
}

func newNetworkOpts(t *testing.T, no netOpts, h http.HandlerFunc, mutate func(*config.Config)) *network {
	t.Helper()
	c := &clock{}
	o := newOrigin(t, c, h)
	cfg := testConfig(o.URL, mutate)
	if no.shield != "" {
		for i := range cfg.Distributions {
			for j := range cfg.Distributions[i].Origins {
				cfg.Distributions[i].Origins[j].OriginShield = config.OriginShield{Enabled: true, Region: no.shield}
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n := &network{t: t, origin: o, clock: c, urls: map[string]string{}, tlsURLs: map[string]string{},
		servers: map[string]interface{ Close() error }{}, pops: map[string]*PoP{}, viewer: "EA1"}
	var certFile, keyFile string
	if no.tls {
		dir := t.TempDir()
		ca, _, err := devca.Ensure(dir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if certFile, keyFile, _, err = ca.EnsureLeaf(dir, "pop", certNames, time.Now()); err != nil {
			t.Fatal(err)
		}
		n.ca = ca
	}
	// Listeners first, so every PoP knows every URL.
	lns, tlsLns := map[string]net.Listener{}, map[string]net.Listener{}
	ids := []string{"RA1", "RB1"}
	if no.single {
		ids = []string{"EA1"}
	} else {
		for i := 1; i <= no.edgesA; i++ {
			ids = append(ids, fmt.Sprintf("EA%d", i))
		}
		for i := 1; i <= no.edgesB; i++ {
			ids = append(ids, fmt.Sprintf("EB%d", i))
		}
		if no.edgesA == 0 {
			n.viewer = "EB1"
		}
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	for _, id := range ids {
		lns[id] = listen()
		n.urls[id] = "http://" + lns[id].Addr().String()
		if no.tls {
			tlsLns[id] = listen()
			n.tlsURLs[id] = "https://" + tlsLns[id].Addr().String()
		}
	}
	shields := map[string]*Peer{}
	if !no.single {
		shields = map[string]*Peer{"A-R": {ID: "RA1", URL: n.urls["RA1"]}, "B-R": {ID: "RB1", URL: n.urls["RB1"]}}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range ids {
		opts := Options{ID: id, DefaultDistribution: "d", TierSecret: "s3cret", Shields: shields, Now: c.Now,
			Geo: no.geo, Logger: logger, DefaultCertFile: certFile, DefaultKeyFile: keyFile}
		if ln := tlsLns[id]; ln != nil {
			opts.HTTPSPort = ln.Addr().(*net.TCPAddr).Port
		}
		switch {
		case no.single:
		case strings.HasPrefix(id, "RA"):
			opts.Tier, opts.RegionalCache = TierRegional, "A-R"
		case strings.HasPrefix(id, "RB"):
			opts.Tier, opts.RegionalCache = TierRegional, "B-R"
		case strings.HasPrefix(id, "EA"):
			opts.RegionalCache, opts.Parent = "A-R", &Peer{ID: "RA1", URL: n.urls["RA1"]}
		default:
			opts.RegionalCache, opts.Parent = "B-R", &Peer{ID: "RB1", URL: n.urls["RB1"]}
		}
		if opts.Tier == TierRegional && no.regionalOpts != nil {
			no.regionalOpts(&opts)
		}
		p, err := New(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		n.pops[id] = p
		if no.tls {
			srv, err := listener.New(listener.Options{Handler: p, TLSConfig: p.TLSConfig(), ReadHeaderTimeout: 5 * time.Second, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(lns[id])
			go srv.ServeTLS(tlsLns[id])
			n.servers[id] = srv
		} else {
			srv := &h1.Server{Handler: p}
			go srv.Serve(lns[id])
			n.servers[id] = srv
		}
		srv := n.servers[id]
		t.Cleanup(func() { srv.Close(); p.Close() })
	}
	return n
}

func (n *network) get(id, path string, kv ...string) response {
	n.t.Helper()
	req, _ := http.NewRequest("GET", n.urls[id]+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("GET %s%s: %v", id, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("GET %s%s body: %v", id, path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// viewerReq is a request as a viewer sends it to one PoP of a network.
type viewerReq struct {
	method  string // default GET
	path    string // path and query
	host    string // Host and TLS server name; default d.strata.localhost
	https   bool   // over the PoP's HTTPS listener
	src     string // the viewer's source address (a country of geo.LoopbackTestRanges); default 127.0.0.1
	header  []string
	cookies []*http.Cookie
}

// send makes q to the PoP id with a fresh client that follows no
// redirects, trusts the network's CA and connects from q.src.
func (n *network) send(id string, q viewerReq) response {
	n.t.Helper()
	if q.method == "" {
		q.method = http.MethodGet
	}
	if q.host == "" {
		q.host = "d.strata.localhost"
	}
	base := n.urls[id]
	if q.https {
		if base = n.tlsURLs[id]; base == "" {
			n.t.Fatalf("%s has no HTTPS listener (netOpts.tls)", id)
		}
	}
	req, err := http.NewRequest(q.method, base+q.path, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Host = q.host
	for i := 0; i+1 < len(q.header); i += 2 {
		req.Header.Add(q.header[i], q.header[i+1])
	}
	for _, ck := range q.cookies {
		req.AddCookie(ck)
	}
	dialer := &net.Dialer{}
	if q.src != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(q.src)}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, DisableCompression: true, DisableKeepAlives: true}
	if n.ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: n.ca.Pool(), ServerName: normalizeHost(q.host)}
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s%s: %v", q.method, id, q.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("%s %s%s body: %v", q.method, id, q.path, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// tlsPort is the port of the HTTPS listener of the PoP id.
func (n *network) tlsPort(id string) string {
	u := n.tlsURLs[id]
	return u[strings.LastIndexByte(u, ':')+1:]
}

// topology is one shape of network a viewer-facing feature must work
// through: a lone PoP, an edge under a regional cache, and an edge under a
// regional cache whose origin has a shield in another region. Viewers use
// the network's viewer PoP.
type topology struct {
	name string
	opts netOpts
}

var topologies = []topology{
	{"single", netOpts{single: true}},
	{"edge-regional", netOpts{edgesA: 1}},
	{"edge-regional-shield", netOpts{edgesA: 1, shield: "B-R"}},
}

// eachTopology runs f for every topology, the network built with the
// topology's options plus extra (tls and geo) over origin h and config
// mutate.
func eachTopology(t *testing.T, extra netOpts, h http.HandlerFunc, mutate func(*config.Config), f func(t *testing.T, n *network)) {
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) {
			o := tp.opts
			o.tls, o.geo, o.regionalOpts = extra.tls, extra.geo, extra.regionalOpts
			f(t, newNetworkOpts(t, o, h, mutate))
		})
	}
}

// regionals are the regional PoPs of n (none in the single topology).
func (n *network) regionals() []string {
	var ids []string
	for _, id := range []string{"RA1", "RB1"} {
		if n.pops[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestTopologiesServeThroughEveryTier: the harness itself. Every topology
// answers a viewer, over HTTP and HTTPS, from the tiers it names, and the
// second request is an edge hit.
func TestTopologiesServeThroughEveryTier(t *testing.T) {
	eachTopology(t, netOpts{tls: true}, cacheable, nil, func(t *testing.T, n *network) {
		r := n.send(n.viewer, viewerReq{path: "/a", https: true})
		if r.status != 200 || r.body != "object /a" {
			t.Fatalf("HTTPS: %d %q", r.status, r.body)
		}
		layers := len(r.header.Values("Cache-Status"))
		want := map[string]int{"single": 1, "edge-regional": 2, "edge-regional-shield": 3}[t.Name()[strings.IndexByte(t.Name(), '/')+1:]]
		if layers != want {
			t.Fatalf("Cache-Status %q: %d layers, want %d", r.header.Values("Cache-Status"), layers, want)
		}
		r = n.send(n.viewer, viewerReq{path: "/a"})
		expectXCache(t, r, "Hit")
		if c := n.origin.count("/a"); c != 1 {
			t.Fatalf("origin count %d", c)
		}
	})
}

func cacheable(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "max-age=600")
	io.WriteString(rw, "object "+r.URL.Path)
}

func TestTiersCollapseWithinARegion(t *testing.T) {
	n := newNetwork(t, 4, 0, cacheable, nil)
	var wg sync.WaitGroup
	for _, id := range []string{"EA1", "EA2", "EA3", "EA4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := n.get(id, "/obj"); r.body != "object /obj" {
				t.Errorf("%s: %q", id, r.body)
			}
		}()
	}
	wg.Wait()
	if c := n.origin.count("/obj"); c != 1 {
		t.Fatalf("4 edges in one region made %d origin requests", c)
	}
	// A second round is served by each edge itself.
	r := n.get("EA3", "/obj")
	expectXCache(t, r, "Hit")
	if r.header.Get("X-Strata-Pop") != "EA3" || r.header.Get(servedByHeader) != "EA3" {
		t.Fatalf("edge hit headers: pop %q served-by %q", r.header.Get("X-Strata-Pop"), r.header.Get(servedByHeader))
	}
}

func TestTierHeadersTruthful(t *testing.T) {
	n := newNetwork(t, 2, 0, cacheable, nil)
	first := n.get("EA1", "/t")
	expectXCache(t, first, "Miss")
	if first.header.Get(servedByHeader) != "origin" {
		t.Fatalf("first fetch served by %q", first.header.Get(servedByHeader))
	}
	second := n.get("EA2", "/t") // an edge miss, a regional hit
	expectXCache(t, second, "Miss")
	if second.header.Get(servedByHeader) != "RA1" || second.header.Get("X-Strata-Pop") != "EA2" {
		t.Fatalf("served-by %q pop %q", second.header.Get(servedByHeader), second.header.Get("X-Strata-Pop"))
	}
	cs := second.header.Values("Cache-Status")
	if len(cs) != 2 || !strings.HasPrefix(cs[0], "Strata-RA1; hit") || !strings.HasPrefix(cs[1], "Strata-EA2; fwd=miss") {
		t.Fatalf("Cache-Status chain %q", cs)
	}
	if via := second.header.Get("Via"); !strings.Contains(via, "RA1") || !strings.Contains(second.header.Values("Via")[len(second.header.Values("Via"))-1], "EA2") {
		t.Fatalf("Via %q", second.header.Values("Via"))
	}
}

func TestTwoRegionsWithoutShield(t *testing.T) {
	n := newNetwork(t, 1, 1, cacheable, nil)
	n.get("EA1", "/x")
	n.get("EB1", "/x")
	if c := n.origin.count("/x"); c != 2 {
		t.Fatalf("edges in two regions without a shield made %d origin requests, want 2 (regions are isolated)", c)
	}
}

func TestOriginShield(t *testing.T) {
	n := newNetwork(t, 2, 2, cacheable, func(c *config.Config) {
		c.Distributions[0].Origins[0].OriginShield = config.OriginShield{Enabled: true, Region: "A-R"}
	})
	for _, id := range []string{"EA1", "EB1", "EA2", "EB2"} {
		if r := n.get(id, "/s"); r.body != "object /s" {
			t.Fatalf("%s: %q", id, r.body)
		}
	}
	if c := n.origin.count("/s"); c != 1 {
		t.Fatalf("with a shield: %d origin requests, want 1", c)
	}
	if r := n.get("EB2", "/s"); r.header.Get(servedByHeader) != "EB2" {
		t.Fatalf("served-by %q", r.header.Get(servedByHeader))
	}
}

func TestParentKilledMidTest(t *testing.T) {
	n := newNetwork(t, 2, 0, cacheable, nil)
	n.get("EA1", "/before")
	n.servers["RA1"].Close() // the regional cache dies
	for i := 0; i < 5; i++ {
		r := n.get("EA2", fmt.Sprintf("/after%d", i))
		if r.status != 200 || r.body != fmt.Sprintf("object /after%d", i) {
			t.Fatalf("viewer saw an error with the parent down: %d %q", r.status, r.body)
		}
		if i == 0 && !strings.Contains(r.header.Get("Cache-Status"), "parent-down-RA1") {
			t.Fatalf("the response does not say the parent was skipped: %q", r.header.Get("Cache-Status"))
		}
		if r.header.Get(servedByHeader) != "origin" {
			t.Fatalf("served-by %q", r.header.Get(servedByHeader))
		}
	}
	if r := n.get("EA1", "/before"); r.status != 200 {
		t.Fatal("cached object lost")
	}
}

func TestTargetedCacheControlReachesChildTier(t *testing.T) {
	n := newNetwork(t, 1, 0, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("CDN-Cache-Control", "max-age=600")
		io.WriteString(rw, "x")
	}, nil)
	n.get("EA1", "/c")
	r := n.get("EA1", "/c")
	expectXCache(t, r, "Hit") // the edge got CDN-Cache-Control from its parent
	if r.header.Get("Cdn-Cache-Control") != "" {
		t.Fatal("targeted field reached the viewer")
	}
}

func TestHopHeaderFromViewersIgnored(t *testing.T) {
	n := newNetwork(t, 1, 0, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("CDN-Cache-Control", "max-age=600")
		io.WriteString(rw, "xff="+r.Header.Get("X-Forwarded-For"))
	}, nil)
	// A viewer with a wrong secret is a viewer: its X-Forwarded-For is not trusted...
	r := n.get("RA1", "/h", hopHeader, "guess", "X-Forwarded-For", "6.6.6.6")
	if strings.Contains(r.body, "6.6.6.6") || r.header.Get("Cdn-Cache-Control") != "" {
		t.Fatalf("untrusted hop header honoured: %q %v", r.body, r.header)
	}
	// ...while through the edge the origin sees the viewer, not the edge.
	r = n.get("EA1", "/h2")
	if r.body != "xff=127.0.0.1" {
		t.Fatalf("origin saw %q", r.body)
	}
}

func TestUncachedGoesStraightToOrigin(t *testing.T) {
	n := newNetwork(t, 1, 0, cacheable, nil)
	n.servers["RA1"].Close()
	req, _ := http.NewRequest("POST", n.urls["EA1"]+"/api", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n.origin.count("/api") != 1 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	_ = time.Second
}
