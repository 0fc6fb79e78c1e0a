// Command offload measures origin offload: the fraction of viewer requests
// that never reach the origin, for one Zipf workload served by three set-ups
// of the same demo world, each started fresh in this process on loopback:
//
//   - flat: the edges only, each fetching from the origin;
//   - tiered: edges → their regional cache → origin;
//   - shielded: tiered, plus an origin shield at the first regional cache.
//
// Every request goes to a uniformly random edge (viewers everywhere); the
// origin counts what reaches it. The result is a Markdown table on stdout.
//
//	go run ./bench/offload [-pops 24] [-keys 100000] [-s 1.0] [-requests 200000] [-conc 64] [-seed 42]
//
// This is a benchmark, not a test: it never fails on a figure. It exits
// non-zero only when a set-up cannot run or a viewer response is wrong.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/topology"
	"github.com/strata-cdn/strata/internal/world"
)

// options are the command-line flags.
type options struct {
	PoPs     int           // PoPs of the full (tiered) world, as for topology.DemoN
	Keys     int           // distinct objects the workload draws from
	S        float64       // Zipf exponent: rank k has probability ∝ 1/k^s
	Requests int           // viewer requests per set-up
	Conc     int           // concurrent keep-alive viewer clients
	Seed     uint64        // workload seed (same sequence for every set-up)
	Timeout  time.Duration // bound on the request phase of one set-up
}

// objectSize is the size of every object the origin serves.
const objectSize = 1024

// host is the distribution's domain name, sent by every viewer.
const host = "bench.strata.localhost"

// Set-ups, in the order they run.
const (
	setupFlat     = "flat"
	setupTiered   = "tiered"
	setupShielded = "shielded"
)

var setups = []string{setupFlat, setupTiered, setupShielded}

func main() {
	var o options
	flag.IntVar(&o.PoPs, "pops", 24, "PoPs in the tiered world (about 1/4 regional caches, the rest edges)")
	flag.IntVar(&o.Keys, "keys", 100000, "distinct 1 KiB objects")
	flag.Float64Var(&o.S, "s", 1.0, "Zipf exponent (rank k has probability ∝ 1/k^s)")
	flag.IntVar(&o.Requests, "requests", 200000, "viewer requests per set-up")
	flag.IntVar(&o.Conc, "conc", 64, "concurrent keep-alive viewer clients")
	flag.Uint64Var(&o.Seed, "seed", 42, "workload seed")
	flag.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "bound on the request phase of each set-up")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "offload: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}

	rep, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "offload:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	if rep.failures() > 0 {
		os.Exit(1)
	}
}

// workload is the request sequence every set-up replays.
type workload struct {
	keys     []int32 // rank of the requested object (1-based), per request
	edges    []int32 // index of the edge the request goes to
	distinct int     // distinct keys in the whole sequence
}

// newWorkload draws n requests: a Zipf(s) rank over keys objects and a
// uniformly random edge out of nEdges, from a fixed seed.
func newWorkload(o options, nEdges int) workload {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	// math/rand/v2's Zipf needs s > 1; an inverse-CDF table takes any s >= 0.
	cdf := make([]float64, o.Keys)
	sum := 0.0
	for k := range cdf {
		sum += math.Pow(float64(k+1), -o.S)
		cdf[k] = sum
	}
	w := workload{keys: make([]int32, o.Requests), edges: make([]int32, o.Requests)}
	seen := make([]bool, o.Keys+1)
	for i := range o.Requests {
		k := sort.SearchFloat64s(cdf, r.Float64()*sum)
		k = min(k, o.Keys-1) + 1
		w.keys[i] = int32(k)
		w.edges[i] = int32(r.IntN(nEdges))
		if !seen[k] {
			seen[k] = true
			w.distinct++
		}
	}
	return w
}

// result is one set-up's figures.
type result struct {
	Setup           string
	Regional, Edges int
	Viewer          int64 // viewer requests sent
	Distinct        int   // distinct keys among them
	Failures        int64 // viewer responses that were not 200 with the right body
	FailureSamples  []string
	Origin          int64 // requests that reached the origin
	OffTier         int64 // origin requests from a PoP that should not reach it in this set-up
	DupKeys         int   // keys the origin served more than once
	Overlap         int64 // origin requests that came while another for the same key was unanswered
	Wall            time.Duration
	Incomplete      bool // the request phase hit its time bound
}

func (r result) offload() float64 { return 1 - float64(r.Origin)/float64(max(r.Viewer, 1)) }
func (r result) ideal() float64   { return 1 - float64(r.Distinct)/float64(max(r.Viewer, 1)) }
func (r result) perKey() float64  { return float64(r.Origin) / float64(max(r.Distinct, 1)) }
func (r result) rate() float64    { return float64(r.Viewer) / r.Wall.Seconds() }

// report is a whole run.
type report struct {
	Opts    options
	Work    workload
	Results []result
}

func (rep report) failures() int64 {
	var n int64
	for _, r := range rep.Results {
		n += r.Failures
	}
	return n
}

// run builds the workload and runs every set-up on it in turn.
func run(ctx context.Context, o options) (report, error) {
	if o.Keys < 1 || o.Requests < 1 || o.Conc < 1 || o.S < 0 || o.Timeout <= 0 {
		return report{}, errors.New("-keys, -requests, -conc and -timeout must be positive and -s not negative")
	}
	if o.Keys > math.MaxInt32 {
		return report{}, fmt.Errorf("-keys %d: at most %d", o.Keys, math.MaxInt32)
	}
	specs, err := topology.DemoN(o.PoPs, 0)
	if err != nil {
		return report{}, fmt.Errorf("-pops %d: %w", o.PoPs, err)
	}
	all := world.Specs(specs)
	nEdges := 0
	for _, s := range all {
		if s.Tier == topology.TierEdge {
			nEdges++
		}
	}
	rep := report{Opts: o, Work: newWorkload(o, nEdges)}
	for _, name := range setups {
		r, err := runSetup(ctx, o, name, all, rep.Work)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

// topologyFor returns the PoPs of a set-up (copies) and the origin shield's
// regional cache id ("" for none). all is the tiered world of DemoN.
func topologyFor(name string, all []config.TopologyPoP) ([]config.TopologyPoP, string) {
	var out []config.TopologyPoP
	shield := ""
	for _, s := range all {
		if s.Tier == topology.TierRegional && shield == "" {
			shield = s.Location // the first regional cache: IAD-R
		}
		if name == setupFlat {
			if s.Tier != topology.TierEdge {
				continue
			}
			s.Parent = "" // and no regional PoP left for Validate to pick
		}
		out = append(out, s)
	}
	if name != setupShielded {
		shield = ""
	}
	return out, shield
}

// benchConfig is quickConfig of cmd/strata: one distribution in front of one
// origin, every query string in the key, a default TTL of 24h.
func benchConfig(originURL, shield string, pops []config.TopologyPoP) (*config.Config, error) {
	ttl, maxTTL := int64(86400), int64(31536000)
	org := config.Origin{ID: "origin", URL: originURL}
	if shield != "" {
		org.OriginShield = config.OriginShield{Enabled: true, Region: shield}
	}
	cfg := &config.Config{
		Distributions: []config.Distribution{{
			ID:         "bench",
			DomainName: host,
			Origins:    []config.Origin{org},
			DefaultCacheBehavior: config.CacheBehavior{
				TargetOriginID:        "origin",
				AllowedMethods:        []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"},
				CachePolicyID:         "bench",
				OriginRequestPolicyID: "Managed-AllViewerExceptHostHeader",
			},
		}},
		CachePolicies: []config.CachePolicy{{
			ID: "bench", MinTTL: 0, DefaultTTL: &ttl, MaxTTL: &maxTTL,
			CacheKey: config.CacheKeyConfig{
				QueryStrings:               config.KeyList{Behavior: "all"},
				EnableAcceptEncodingGzip:   true,
				EnableAcceptEncodingBrotli: true,
			},
		}},
	}
	cfg.Topology.PoPs = pops
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// body is the content of object k: its name repeated over 1 KiB.
func body(k int) []byte {
	b := make([]byte, objectSize)
	name := "object " + strconv.Itoa(k) + "\n"
	for i := 0; i < len(b); i += copy(b[i:], name) {
	}
	return b
}

// origin is the counting origin of one set-up.
type origin struct {
	perKey   []atomic.Int64 // index: rank
	inflight []atomic.Int32 // requests for the rank not yet answered
	overlap  atomic.Int64   // requests that came while another for the same rank was unanswered
	total    atomic.Int64
	offTier  atomic.Int64
	other    atomic.Int64 // paths that are not objects
	allowed  map[string]bool
	srv      *http.Server
	url      string
}

// startOrigin serves /obj/<rank> for ranks 1..keys on 127.0.0.1:0. Requests
// from source addresses not in allowed are counted as off-tier.
func startOrigin(keys int, allowed map[string]bool) (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &origin{perKey: make([]atomic.Int64, keys+1), inflight: make([]atomic.Int32, keys+1),
		allowed: allowed, url: "http://" + ln.Addr().String()}
	o.srv = &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second}
	go o.srv.Serve(ln)
	return o, nil
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.total.Add(1)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !o.allowed[ip] {
		o.offTier.Add(1)
	}
	k, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/obj/"))
	if !strings.HasPrefix(r.URL.Path, "/obj/") || err != nil || k < 1 || k >= len(o.perKey) {
		o.other.Add(1)
		http.NotFound(w, r)
		return
	}
	o.perKey[k].Add(1)
	if o.inflight[k].Add(1) > 1 {
		o.overlap.Add(1)
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(objectSize))
	b := body(k)
	// Answered from here on: no fetch that waits for this answer can start
	// before this point.
	o.inflight[k].Add(-1)
	w.Write(b)
}

// runSetup starts a fresh origin and world for one set-up, replays the
// workload through its edges and shuts everything down.
func runSetup(ctx context.Context, o options, name string, all []config.TopologyPoP, wl workload) (result, error) {
	pops, shield := topologyFor(name, all)
	res := result{Setup: name}
	// The origin expects requests only from the tier next to it: the edges
	// (flat), the regional PoPs (tiered) or the shield's PoP (shielded).
	allowed := map[string]bool{}
	for _, p := range pops {
		switch {
		case name == setupFlat && p.Tier == topology.TierEdge,
			name == setupTiered && p.Tier == topology.TierRegional,
			name == setupShielded && p.Tier == topology.TierRegional && p.Location == shield:
			allowed[p.Egress] = true
		}
		if p.Tier == topology.TierRegional {
			res.Regional++
		} else {
			res.Edges++
		}
	}
	org, err := startOrigin(o.Keys, allowed)
	if err != nil {
		return res, err
	}
	defer org.srv.Close()
	cfg, err := benchConfig(org.url, shield, pops)
	if err != nil {
		return res, err
	}
	w, err := world.Start(world.Options{
		Config:              cfg,
		DefaultDistribution: "bench",
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return res, err
	}
	edges := w.Edges()
	if len(edges) != res.Edges {
		w.Close()
		return res, fmt.Errorf("world has %d edges, want %d", len(edges), res.Edges)
	}
	// Same order as the topology (and so as the workload's edge indexes).
	urls := make([]string, len(edges))
	for i, n := range edges {
		urls[i] = n.URL + "/obj/"
	}

	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        o.Conc * len(edges),
		MaxIdleConnsPerHost: o.Conc,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true, // the viewer's Accept-Encoding is part of the key: keep it fixed
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	bodies := make([][]byte, o.Keys+1) // expected bodies, built once per key
	var bodyOnce = make([]sync.Once, o.Keys+1)
	expect := func(k int) []byte {
		bodyOnce[k].Do(func() { bodies[k] = body(k) })
		return bodies[k]
	}

	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	issued := make([]bool, len(wl.keys))
	var next, sent, failures atomic.Int64
	var cut atomic.Bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Conc {
		wg.Go(func() {
			buf := bytes.NewBuffer(make([]byte, 0, 2*objectSize))
			for {
				i := int(next.Add(1) - 1)
				if i >= len(wl.keys) || rctx.Err() != nil {
					return
				}
				issued[i] = true
				sent.Add(1)
				k := int(wl.keys[i])
				if msg := get(rctx, client, urls[wl.edges[i]]+strconv.Itoa(k), expect(k), buf); msg != "" {
					if rctx.Err() != nil {
						cut.Store(true) // cut off by the time bound: incomplete, not a viewer failure
						return
					}
					failures.Add(1)
					mu.Lock()
					if len(res.FailureSamples) < 10 {
						res.FailureSamples = append(res.FailureSamples, fmt.Sprintf("%s /obj/%d via %s: %s", name, k, edges[wl.edges[i]].ID, msg))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res.Wall = time.Since(start)
	res.Incomplete = cut.Load() || rctx.Err() != nil && sent.Load() < int64(len(wl.keys))
	tr.CloseIdleConnections()

	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := w.Shutdown(sctx); err != nil {
		return res, fmt.Errorf("shutdown: %w", err)
	}

	res.Viewer, res.Failures = sent.Load(), failures.Load()
	seen := make([]bool, o.Keys+1)
	for i, ok := range issued {
		if k := wl.keys[i]; ok && !seen[k] {
			seen[k] = true
			res.Distinct++
		}
	}
	res.Origin, res.OffTier, res.Overlap = org.total.Load(), org.offTier.Load(), org.overlap.Load()
	for k := range org.perKey {
		if org.perKey[k].Load() > 1 {
			res.DupKeys++
		}
	}
	if n := org.other.Load(); n > 0 {
		return res, fmt.Errorf("the origin got %d requests for unknown paths", n)
	}
	return res, nil
}

// get fetches url and returns "" when the answer is 200 with the expected
// body, else what was wrong.
func get(ctx context.Context, c *http.Client, url string, want []byte, buf *bytes.Buffer) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 4*objectSize))
	switch {
	case err != nil:
		return "body: " + err.Error()
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("status %d (%s): %.80q", resp.StatusCode, resp.Header.Get("Cache-Status"), buf.Bytes())
	case !bytes.Equal(buf.Bytes(), want):
		return fmt.Sprintf("wrong body (%d bytes, %.40q)", buf.Len(), buf.Bytes())
	}
	return ""
}

// print writes the report as Markdown.
func (rep report) print(out io.Writer) {
	o := rep.Opts
	fmt.Fprintf(out, "Workload: %d requests, Zipf s=%g over %d keys of %d B (%d distinct requested), seed %d, "+
		"%d concurrent keep-alive viewers, each request to a uniformly random edge. %s, GOMAXPROCS %d.\n\n",
		o.Requests, o.S, o.Keys, objectSize, rep.Work.distinct, o.Seed, o.Conc, runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Fprintln(out, "| set-up | PoPs (regional/edges) | viewer requests | origin requests | offload | origin req / distinct key | ideal (one cache) | wall | viewer req/s | failures |")
	fmt.Fprintln(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rep.Results {
		wall := fmt.Sprintf("%.1f s", r.Wall.Seconds())
		if r.Incomplete {
			wall += " (time bound hit)"
		}
		fmt.Fprintf(out, "| %s | %d/%d | %d | %d | %.2f %% | %.3f | %.2f %% | %s | %.0f | %d |\n",
			r.Setup, r.Regional, r.Edges, r.Viewer, r.Origin, 100*r.offload(), r.perKey(), 100*r.ideal(), wall, r.rate(), r.Failures)
	}
	fmt.Fprintln(out)
	for _, r := range rep.Results {
		fmt.Fprintf(out, "- %s: %d distinct keys requested, %d of them fetched from the origin more than once, "+
			"%d origin requests while another for the same key was unanswered; "+
			"%d origin requests from outside the tier next to the origin.\n", r.Setup, r.Distinct, r.DupKeys, r.Overlap, r.OffTier)
	}
	for _, r := range rep.Results {
		for _, s := range r.FailureSamples {
			fmt.Fprintln(out, "- failure:", s)
		}
	}
}
