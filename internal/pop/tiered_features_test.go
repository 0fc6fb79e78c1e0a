package pop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/testutil"
)

// Response headers policies, compression and WebSocket through the tiers.
//
// The behaviour tests of those features (respheaders_test.go,
// compress_test.go, websocket_test.go) run through every topology of
// tier_test.go: throughTiers runs a test once per topology, and
// topology.world builds the test's world there, a *world whose URL is the
// viewer edge of the network. The tests below add what only tiers can get
// wrong: what one tier stores must never reach a viewer another variant
// belongs to, and what the edge applies is applied once.

// throughTiers runs f once per topology: a lone PoP, an edge under a
// regional cache, and an edge under a regional cache whose origin has a
// shield in another region.
func throughTiers(t *testing.T, f func(t *testing.T, tp topology)) {
	t.Helper()
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) { f(t, tp) })
	}
}

// world builds a network of topology tp over origin h and config mutate
// and returns it as a world whose viewers use the network's viewer edge,
// with the network itself for what only a network can tell.
func (tp topology) world(t *testing.T, h http.HandlerFunc, mutate func(*config.Config)) *world {
	t.Helper()
	w, _ := tp.network(t, h, mutate)
	return w
}

// network is world with the network behind it.
func (tp topology) network(t *testing.T, h http.HandlerFunc, mutate func(*config.Config)) (*world, *network) {
	t.Helper()
	n := newNetworkOpts(t, tp.opts, h, mutate)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 300}, Timeout: 20 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return &world{t: t, pop: n.pops[n.viewer], url: n.urls[n.viewer], origin: n.origin, clock: n.clock, client: client}, n
}

// tiered: the viewer edge has a parent tier (not in the zero topology).
func (tp topology) tiered() bool { return !tp.opts.single && tp.opts.edgesA+tp.opts.edgesB > 0 }

// underParents puts a PoP with the options opts under the parent tiers of
// topology tp, for a test that builds its own edge (websocket_test.go):
// the regional cache RA1 and, with a shield, the shield RB1, each a PoP
// over cfg on a loopback listener. It turns the shield on in cfg. With no
// tiers in tp it does nothing.
func (tp topology) underParents(t *testing.T, cfg *config.Config, opts *Options) {
	t.Helper()
	if !tp.tiered() {
		return
	}
	if tp.opts.shield != "" {
		for i := range cfg.Distributions {
			for j := range cfg.Distributions[i].Origins {
				cfg.Distributions[i].Origins[j].OriginShield = config.OriginShield{Enabled: true, Region: tp.opts.shield}
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	regions := map[string]string{"RA1": "A-R", "RB1": "B-R"}
	lns, shields := map[string]net.Listener{}, map[string]*Peer{}
	for _, id := range []string{"RA1", "RB1"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id] = ln
		shields[regions[id]] = &Peer{ID: id, URL: "http://" + ln.Addr().String()}
	}
	for id, ln := range lns {
		p, err := New(cfg, Options{ID: id, DefaultDistribution: "d", TierSecret: "s3cret", Shields: shields,
			Tier: TierRegional, RegionalCache: regions[id], Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		srv := &h1.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close(); p.Close() })
	}
	opts.TierSecret, opts.Shields, opts.RegionalCache, opts.Parent = "s3cret", shields, "A-R", shields["A-R"]
}

// edgeLayer is the cache layer, in Server-Timing's words, that answers the
// viewer edge's misses: the origin's ("EDGE", the edge fetched it itself)
// or its regional cache's ("REC").
func (tp topology) edgeLayer() string {
	if tp.tiered() {
		return "REC"
	}
	return "EDGE"
}

// layers is the number of tiers a response went through, by its
// Cache-Status entries.
func layers(r response) int { return len(r.header.Values("Cache-Status")) }

// once fails unless every field in names appears exactly once in r (no
// tier added it a second time).
func once(t *testing.T, r response, names ...string) {
	t.Helper()
	for _, name := range names {
		vs := r.header.Values(name)
		if len(vs) != 1 {
			t.Fatalf("%s = %q: want one value, once", name, vs)
		}
	}
}

// sameRegion is the topologies with a second edge, EA2, under the viewer
// edge's regional cache (the single PoP has EA1 only): what one edge's
// viewer made the regional cache store must not reach another edge's
// viewer it does not belong to.
func sameRegion(tp topology) (topology, []string) {
	if !tp.tiered() {
		return tp, []string{"EA1", "EA1"}
	}
	tp.opts.edgesA = 2
	return tp, []string{"EA1", "EA2"}
}

// TestTieredCompressedVariantsStayApart: a Brotli viewer at one edge makes
// every tier store the Brotli variant; an identity viewer and a gzip viewer
// at another edge of the region get their own representation, each fetched
// from the origin once, and Vary (the origin's and Accept-Encoding)
// reaches every viewer.
func TestTieredCompressedVariantsStayApart(t *testing.T) {
	body := testutil.TextBody(20_000)
	origin := func(rw http.ResponseWriter, r *http.Request) {
		objectOrigin(map[string]object{"/v.js": {ctype: "text/javascript", body: body, kv: []string{"Vary", "Origin", "ETag", `"v"`}}})(rw, r)
	}
	throughTiers(t, func(t *testing.T, tp topology) {
		tp, edges := sameRegion(tp)
		_, n := tp.network(t, origin, compressOn)
		get := func(id, ae string) response {
			t.Helper()
			r := n.send(id, viewerReq{path: "/v.js", header: []string{"Accept-Encoding", ae}})
			if r.status != 200 {
				t.Fatalf("%s, Accept-Encoding %q: status %d", id, ae, r.status)
			}
			if !hasVaryAE(r.header) || !hasVary(r, "Origin") {
				t.Fatalf("%s, Accept-Encoding %q: Vary %q, want Origin and Accept-Encoding", id, ae, r.header.Values("Vary"))
			}
			return r
		}
		for round := range 2 { // misses (or regional hits), then edge hits
			for _, tc := range []struct{ id, ae, enc, etag string }{
				{edges[0], "gzip, deflate, br", "br", `W/"v"`},
				{edges[1], "identity", "", `"v"`},
				{edges[1], "", "", `"v"`},
				{edges[1], "gzip, deflate, br;q=0", "gzip", `W/"v"`},
				{edges[0], "", "", `"v"`},
			} {
				r := get(tc.id, tc.ae)
				if got := r.header.Get("Content-Encoding"); got != tc.enc {
					t.Fatalf("round %d, %s, Accept-Encoding %q: Content-Encoding %q, want %q (X-Cache %q, Cache-Status %q)",
						round, tc.id, tc.ae, got, tc.enc, r.header.Get("X-Cache"), r.header.Values("Cache-Status"))
				}
				if decode(t, tc.enc, r.body) != body {
					t.Fatalf("round %d, %s, Accept-Encoding %q: the body does not decode to the origin's", round, tc.id, tc.ae)
				}
				if r.header.Get("ETag") != tc.etag {
					t.Fatalf("round %d, %s, Accept-Encoding %q: ETag %q, want %q", round, tc.id, tc.ae, r.header.Get("ETag"), tc.etag)
				}
				if round == 1 {
					expectXCache(t, r, "Hit")
				}
			}
		}
		// One origin fetch per encoding served: br, identity, gzip.
		if c := n.origin.count("/v.js"); c != 3 {
			t.Fatalf("origin fetched %d times, want 3", c)
		}
	})
}

// TestTieredCORSOriginsStayApart: with a response headers policy, the edge
// answers each Origin for itself, from one stored object; with an origin
// that does CORS itself (Origin in the cache key, Vary: Origin), every tier
// keeps one variant per Origin. Either way a viewer of one Origin never gets
// another's Access-Control-Allow-Origin, at any edge.
func TestTieredCORSOriginsStayApart(t *testing.T) {
	allowed := map[string]bool{"https://a.example": true, "https://b.example": true}
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		if strings.HasPrefix(r.URL.Path, "/own/") {
			rw.Header().Set("Vary", "Origin")
			if o := r.Header.Get("Origin"); allowed[o] {
				rw.Header().Set(hACAO, o)
			}
		}
		io.WriteString(rw, "x")
	}
	mutate := func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "rhp",
			CORS: &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example", "https://b.example"}}}}
		c.CachePolicies = append(c.CachePolicies, config.CachePolicy{ID: "by-origin", DefaultTTL: c.CachePolicies[0].DefaultTTL,
			MaxTTL: c.CachePolicies[0].MaxTTL, CacheKey: config.CacheKeyConfig{Headers: config.KeyList{Behavior: "whitelist", Items: []string{"Origin"}}}})
		d := &c.Distributions[0]
		d.DefaultCacheBehavior.ResponseHeadersPolicyID = "rhp"
		d.CacheBehaviors = []config.CacheBehavior{{PathPattern: "/own/*", TargetOriginID: "o", CachePolicyID: "by-origin"}}
	}
	throughTiers(t, func(t *testing.T, tp topology) {
		tp, edges := sameRegion(tp)
		_, n := tp.network(t, origin, mutate)
		for _, path := range []string{"/policy/x", "/own/x"} {
			for round := range 2 {
				for _, tc := range []struct{ id, origin, want string }{
					{edges[0], "https://a.example", "https://a.example"},
					{edges[1], "https://b.example", "https://b.example"},
					{edges[1], "https://evil.example", ""},
					{edges[0], "https://b.example", "https://b.example"},
					{edges[1], "https://a.example", "https://a.example"},
				} {
					r := n.send(tc.id, viewerReq{path: path, header: []string{"Origin", tc.origin}})
					if got := strings.Join(r.header.Values(hACAO), ", "); r.status != 200 || got != tc.want {
						t.Fatalf("%s round %d, %s, Origin %s: status %d, %s %q, want %q (Cache-Status %q)",
							path, round, tc.id, tc.origin, r.status, hACAO, got, tc.want, r.header.Values("Cache-Status"))
					}
					if !hasVary(r, "Origin") {
						t.Fatalf("%s, Origin %s: Vary %q", path, tc.origin, r.header.Values("Vary"))
					}
					if round == 1 {
						expectXCache(t, r, "Hit")
					}
				}
			}
		}
		// The policy's answer is computed per request from one object; the
		// origin's is one object per Origin.
		if c := n.origin.count("/policy/x"); c != 1 {
			t.Fatalf("policy: origin fetched %d times, want 1", c)
		}
		if c := n.origin.count("/own/x"); c != 3 {
			t.Fatalf("origin's own CORS: origin fetched %d times, want 3 (a, b, evil)", c)
		}
	})
}

// TestTieredPreflightAtTheEdge: a CORS preflight is answered by the viewer
// edge alone: one Cache-Status entry, the edge's; no request to the origin;
// and it is answered with the parent tiers down.
func TestTieredPreflightAtTheEdge(t *testing.T) {
	mutate := func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "rhp", CORS: &config.CORSConfig{
			AccessControlAllowOrigins: []string{"https://app.example"}, AccessControlAllowMethods: []string{"GET", "PUT"},
			AccessControlAllowHeaders: []string{"X-Token"}, AccessControlMaxAgeSec: 600}}}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "rhp"
	}
	eachTopology(t, netOpts{}, cacheable, mutate, func(t *testing.T, n *network) {
		preflight := func() {
			t.Helper()
			r := n.send(n.viewer, viewerReq{method: "OPTIONS", path: "/api/x", header: []string{"Origin", "https://app.example",
				"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-token"}})
			if r.status != http.StatusNoContent {
				t.Fatalf("preflight: status %d %q", r.status, r.body)
			}
			expectHeader(t, r, hACAO, "https://app.example")
			expectHeader(t, r, hACAM, "GET, PUT")
			expectHeader(t, r, hACAH, "X-Token")
			expectHeader(t, r, hACMA, "600")
			cs := r.header.Values("Cache-Status")
			if len(cs) != 1 || !strings.HasPrefix(cs[0], "Strata-"+n.viewer+";") || !strings.Contains(cs[0], "detail=cors-preflight") {
				t.Fatalf("Cache-Status %q: want the viewer edge's entry only", cs)
			}
		}
		preflight()
		for _, id := range n.regionals() {
			n.servers[id].Close()
		}
		preflight()
		if c := n.origin.count("/api/x"); c != 0 {
			t.Fatalf("preflights reached the origin %d times", c)
		}
	})
}

// TestTieredPolicyAppliedOnce: between tiers no policy is applied, so each
// header a policy adds reaches the viewer once, with the edge's value, on a
// miss through every tier, on a regional hit and on an edge hit; a parent
// answers its child tier without the policy; Server-Timing is one field
// naming the viewer edge and the layer that answered it (its own, when the
// parents are down).
func TestTieredPolicyAppliedOnce(t *testing.T) {
	origin := func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		rw.Header().Set("X-Powered-By", "php")
		io.WriteString(rw, "x")
	}
	mutate := func(c *config.Config) {
		c.ResponseHeadersPolicies = []config.ResponseHeadersPolicy{{ID: "rhp",
			CORS:            &config.CORSConfig{AccessControlAllowOrigins: []string{"https://a.example"}, AccessControlExposeHeaders: []string{"ETag"}},
			SecurityHeaders: &config.SecurityHeadersConfig{FrameOptions: &config.FrameOptions{FrameOption: "DENY"}, ContentTypeOptions: &config.ContentTypeOptions{}},
			CustomHeaders:   []config.CustomResponseHeader{{Header: "X-Added", Value: "policy"}, {Header: "X-Appended", Value: "v", Override: true}},
			RemoveHeaders:   []string{"X-Powered-By"},
			ServerTiming:    &config.ServerTimingConfig{Enabled: true, SamplingRate: 100}}}
		c.Distributions[0].DefaultCacheBehavior.ResponseHeadersPolicyID = "rhp"
	}
	policyHeaders := []string{hACAO, hACEH, "X-Frame-Options", "X-Content-Type-Options", "X-Added", "X-Appended", "Server-Timing"}
	throughTiers(t, func(t *testing.T, tp topology) {
		tp, edges := sameRegion(tp)
		_, n := tp.network(t, origin, mutate)
		// answeredBy is the layer that had the object: cdn-hit-layer on a
		// hit anywhere, cdn-upstream-layer on a miss everywhere.
		check := func(name string, r response, xcache string, hit bool, answeredBy string) {
			t.Helper()
			expectXCache(t, r, xcache)
			once(t, r, policyHeaders...)
			expectHeader(t, r, hACAO, "https://a.example")
			expectHeader(t, r, "X-Added", "policy")
			expectHeader(t, r, "X-Appended", "v")
			if v := r.header.Values("X-Powered-By"); len(v) > 0 {
				t.Fatalf("%s: X-Powered-By %q not removed", name, v)
			}
			var origins int
			for _, f := range strings.Split(strings.Join(r.header.Values("Vary"), ","), ",") {
				if strings.EqualFold(strings.TrimSpace(f), "Origin") {
					origins++
				}
			}
			if origins != 1 {
				t.Fatalf("%s: Vary %q lists Origin %d times", name, r.header.Values("Vary"), origins)
			}
			names, m := timingMetrics(t, r.header.Get("Server-Timing"))
			if m["cdn-pop"]["desc"] != r.header.Get("X-Strata-Pop") {
				t.Fatalf("%s: Server-Timing %v names pop %q, the response came from %q", name, names, m["cdn-pop"]["desc"], r.header.Get("X-Strata-Pop"))
			}
			layer := m["cdn-upstream-layer"]["desc"]
			if _, ok := m["cdn-cache-hit"]; ok != hit {
				t.Fatalf("%s: Server-Timing %v: a hit: %v, want %v", name, names, ok, hit)
			} else if hit {
				layer = m["cdn-hit-layer"]["desc"]
			}
			if layer != answeredBy {
				t.Fatalf("%s: Server-Timing %v: layer %q, want %q", name, names, layer, answeredBy)
			}
		}
		o := []string{"Origin", "https://a.example"}
		check("miss", n.send(edges[0], viewerReq{path: "/p", header: o}), "Miss", false, tp.edgeLayer())
		if tp.tiered() {
			check("regional hit", n.send(edges[1], viewerReq{path: "/p", header: o}), "Miss", true, "REC")
			// A parent answers its child without the policy: the edge applies
			// it. (The parents on the path: the regional cache, the shield.)
			parents := []string{"RA1"}
			if tp.opts.shield == "B-R" {
				parents = append(parents, "RB1")
			}
			for _, id := range parents {
				r := n.send(id, viewerReq{path: "/p", header: append([]string{hopHeader, "s3cret", childHeader, edges[0]}, o...)})
				for _, h := range policyHeaders {
					if v := r.header.Values(h); len(v) > 0 {
						t.Fatalf("%s answered its child tier with %s %q", id, h, v)
					}
				}
			}
		}
		check("edge hit", n.send(edges[0], viewerReq{path: "/p", header: o}), "Hit", true, "EDGE")
		if c := n.origin.count("/p"); c != 1 {
			t.Fatalf("origin count %d", c)
		}
		// With the parents down the edge fetches from the origin itself, and
		// Server-Timing says so.
		for _, id := range n.regionals() {
			n.servers[id].Close()
		}
		check("parents down", n.send(edges[0], viewerReq{path: "/down", header: o}), "Miss", false, "EDGE")
	})
}

// TestTieredWebSocket: a WebSocket through the viewer edge of every
// topology, over ws:// and wss://. A handshake is never cached, so the edge
// connects it straight to the origin, as it sends a pass (websocket.go;
// CloudFront, too, connects WebSockets from the edge): the 101 has the
// edge's Cache-Status entry alone, the origin sees the viewer's address and
// no tier header, messages echo both ways, a close code goes from the
// viewer to the origin and from the origin to the viewer, and all of it
// works with the parent tiers down.
func TestTieredWebSocket(t *testing.T) {
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) {
			ended := make(chan error, 1)
			closed := make(chan error, 1)
			origin := func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/close" {
					originCloses(closed)(rw, r)
					return
				}
				echoOrigin(ended)(rw, r)
			}
			o := tp.opts
			o.tls = true
			n := newNetworkOpts(t, o, origin, nil)
			ctx := testContext(t)
			dial := func(scheme, path string) *websocket.Conn {
				t.Helper()
				base, tr := n.urls[n.viewer], &http.Transport{}
				if scheme == "wss" {
					base = n.tlsURLs[n.viewer]
					tr.TLSClientConfig = &tls.Config{RootCAs: n.ca.Pool(), ServerName: "d.strata.localhost"}
				}
				t.Cleanup(tr.CloseIdleConnections)
				before := n.origin.count(path)
				c, resp, err := websocket.Dial(ctx, scheme+base[strings.Index(base, "://"):]+path, &websocket.DialOptions{
					HTTPClient: &http.Client{Transport: tr}, Host: "d.strata.localhost", Subprotocols: []string{"chat"}})
				if err != nil {
					t.Fatalf("%s %s: %v", scheme, path, err)
				}
				t.Cleanup(func() { c.CloseNow() })
				c.SetReadLimit(1 << 20)
				if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "chat" && path != "/close" {
					t.Fatalf("%s %s: status %d, subprotocol %q", scheme, path, resp.StatusCode, c.Subprotocol())
				}
				if cs := resp.Header.Values("Cache-Status"); len(cs) != 1 || !strings.HasPrefix(cs[0], "Strata-"+n.viewer+";") {
					t.Fatalf("%s %s: Cache-Status %q: want the viewer edge's entry only", scheme, path, cs)
				}
				if got := n.origin.count(path); got != before+1 {
					t.Fatalf("%s %s: the origin saw %d handshakes, want 1", scheme, path, got-before)
				}
				or := n.origin.lastReq(path)
				if or.Header.Get("X-Forwarded-For") != "127.0.0.1" || or.Header.Get(hopHeader) != "" || or.Header.Get(childHeader) != "" {
					t.Fatalf("%s %s: the origin got %v", scheme, path, or.Header)
				}
				return c
			}
			run := func(scheme string) {
				t.Helper()
				c := dial(scheme, "/chat")
				for i := range 5 {
					msg := bytes.Repeat([]byte{byte('a' + i)}, 10+i*20_000)
					echo(ctx, t, c, websocket.MessageText, msg)
					echo(ctx, t, c, websocket.MessageBinary, msg)
				}
				if err := c.Close(4000, "viewer done"); err != nil {
					t.Fatalf("%s: close: %v", scheme, err)
				}
				select {
				case err := <-ended:
					if websocket.CloseStatus(err) != 4000 {
						t.Fatalf("%s: the origin ended with %v, want the viewer's 4000", scheme, err)
					}
				case <-ctx.Done():
					t.Fatalf("%s: the origin did not see the close", scheme)
				}
				c = dial(scheme, "/close")
				if err := c.Write(ctx, websocket.MessageText, []byte("bye?")); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.Read(ctx)
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye now" {
					t.Fatalf("%s: viewer read %v, want the origin's close 4001 %q", scheme, err, "bye now")
				}
				select {
				case err := <-closed:
					if err != nil {
						t.Fatalf("%s: the origin's close handshake: %v", scheme, err)
					}
				case <-ctx.Done():
					t.Fatalf("%s: the origin's close did not finish", scheme)
				}
			}
			run("ws")
			run("wss")
			for _, id := range n.regionals() {
				n.servers[id].Close()
			}
			run("ws")
			run("wss")
			waitFor(t, 10*time.Second, func() bool { return n.pops[n.viewer].tunnels.len() == 0 })
		})
	}
}

// originCloses accepts a WebSocket, reads one message and closes with 4001
// "bye now"; closed receives the result of its close handshake.
func originCloses(closed chan<- error) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, _, err := c.Read(ctx); err != nil {
			closed <- err
			return
		}
		closed <- c.Close(4001, "bye now") // nil once the viewer's echo came back
	}
}
