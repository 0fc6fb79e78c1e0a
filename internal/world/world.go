// Package world starts the PoPs of a topology in one process: every PoP with
// its own listener on its own address, its own cache, and its parent and
// origin shields reached over real HTTP — the same wire as PoPs on separate
// machines. `strata run` starts a whole world; `strata pop` starts one PoP of
// it.
package world

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/listener"
	"github.com/strata-cdn/strata/internal/pop"
	"github.com/strata-cdn/strata/internal/topology"
)

// Options configure Start.
type Options struct {
	Config *config.Config // validated; its topology lists the PoPs (none: one PoP from the pop section)
	// Only, if set, starts just that PoP of the topology (strata pop); the
	// others are reached at their configured URLs.
	Only                string
	DefaultDistribution string // answers any Host (demo, quick mode)
	DataDir             string // each PoP keeps its disk cache in DataDir/cache/<id> and its spill files in DataDir/spill; "" = memory only (spill files in the system's temp dir)
	Logger              *slog.Logger
	// DefaultCertFile and DefaultKeyFile are the PoPs' default certificate
	// for HTTPS (default: pop.tlsCertificateFile and pop.tlsKeyFile); the
	// development CA's in strata run.
	DefaultCertFile, DefaultKeyFile string
	// TierCABundle is the PEM file of the CAs a child verifies an https://
	// parent with (default: topology.caBundle; unset: the system's roots).
	TierCABundle string
	// SetMemoryLimit makes the process's memory budget (MemoryBudget) the
	// Go runtime's memory limit, unless the environment sets GOMEMLIMIT
	// (strata run and strata pop; not tests, which share one process).
	SetMemoryLimit bool
}

// Node is one running PoP.
type Node struct {
	ID, Tier, Location, Region, Parent string
	URL                                string // where it listens
	HTTPSURL                           string // where it listens for HTTPS ("" = it does not)
	Egress                             string // source address of its upstream connections (topology egress, else egressOf)
	PoP                                *pop.PoP
	server                             *listener.Server
	ln, tlsLn                          net.Listener
	quicLn                             net.PacketConn // HTTP/3, on the HTTPS port
}

// World is the running PoPs of this process.
type World struct {
	extraQUIC []net.PacketConn // HTTP/3 sockets of AddListeners
	Nodes     []*Node
	Secret    string
	geo       *geo.DB
	log       *slog.Logger
	wg        sync.WaitGroup
	errc      chan error
}

// Start listens for every PoP first (so addresses ending in :0 are known
// before anyone needs them), then builds the PoPs and serves.
func Start(opts Options) (*World, error) {
	cfg := opts.Config
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	specs := cfg.Topology.PoPs
	if len(specs) == 0 {
		specs = []config.TopologyPoP{{ID: cfg.PoP.ID, Tier: topology.TierEdge, Listen: cfg.PoP.Listen, HTTPSListen: cfg.PoP.HTTPSListen}}
	}
	secret := cfg.Topology.Secret
	if secret == "" {
		if opts.Only != "" && len(specs) > 1 {
			return nil, errors.New("topology.secret is required when PoPs run as separate processes")
		}
		var b [16]byte
		rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	}
	w := &World{Secret: secret, log: opts.Logger, errc: make(chan error, len(specs))}
	mem := MemoryBudget(cfg, opts.Only)
	bodies := cache.NewBudget(mem.Bodies) // shared by the PoPs of this process
	if opts.SetMemoryLimit {
		limit, fromEnv := SetMemoryLimit(mem, os.Getenv("GOMEMLIMIT"))
		src := "pop.memoryCacheSize"
		if fromEnv {
			src = "GOMEMLIMIT"
		}
		shown := config.ByteSize(limit).String()
		if limit == math.MaxInt64 {
			shown = "off"
		}
		opts.Logger.Info("memory budget", "limit", shown, "from", src,
			"caches", config.ByteSize(mem.Caches).String(), "bodies", config.ByteSize(mem.Bodies).String(),
			"overhead", config.ByteSize(mem.Overhead).String())
	}
	path := cfg.PoP.GeoDatabase
	if def := filepath.Join(opts.DataDir, "country.mmdb"); path == "" && opts.DataDir != "" {
		if _, err := os.Stat(def); err == nil {
			path = def // installed by scripts/geo-db.sh
		}
	}
	if path != "" {
		db, err := geo.Open(path)
		if err != nil {
			return nil, fmt.Errorf("pop.geoDatabase: %w", err)
		}
		w.geo = db
	} else {
		opts.Logger.Info("no geo database (pop.geoDatabase, or scripts/geo-db.sh for a free one): viewers have no country; geo restriction allow lists refuse them")
	}
	urls := map[string]string{}
	for _, s := range specs {
		urls[s.ID] = s.URL
	}
	local := func(s config.TopologyPoP) bool { return opts.Only == "" || s.ID == opts.Only }
	if opts.Only != "" && cfg.Topology.PoPByID(opts.Only) == nil && len(cfg.Topology.PoPs) > 0 {
		return nil, fmt.Errorf("no PoP %q in the topology", opts.Only)
	}
	if opts.DefaultCertFile == "" {
		opts.DefaultCertFile, opts.DefaultKeyFile = cfg.PoP.TLSCertificateFile, cfg.PoP.TLSKeyFile
	}
	if opts.TierCABundle == "" {
		opts.TierCABundle = cfg.Topology.CABundle
	}
	lns, tlsLns := map[string]net.Listener{}, map[string]net.Listener{}
	quicLns := map[string]net.PacketConn{}
	fail := func(err error) (*World, error) {
		for _, ln := range lns {
			ln.Close()
		}
		for _, ln := range tlsLns {
			ln.Close()
		}
		for _, pc := range quicLns {
			pc.Close()
		}
		return nil, err
	}
	for _, s := range specs {
		if !local(s) {
			continue
		}
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			return fail(fmt.Errorf("PoP %s: listen %s: %w", s.ID, s.Listen, err))
		}
		lns[s.ID] = ln
		if s.URL == "" || strings.HasSuffix(s.URL, ":0") {
			urls[s.ID] = "http://" + ln.Addr().String()
		}
		if s.HTTPSListen != "" {
			tln, err := net.Listen("tcp", s.HTTPSListen)
			if err != nil {
				return fail(fmt.Errorf("PoP %s: listen %s (https): %w", s.ID, s.HTTPSListen, err))
			}
			tlsLns[s.ID] = tln
			// HTTP/3 on the same port over UDP; without it HTTPS still works.
			if pc, err := net.ListenPacket("udp", tln.Addr().String()); err == nil {
				quicLns[s.ID] = pc
			} else {
				opts.Logger.Warn("no HTTP/3 (UDP listen failed)", "pop", s.ID, "addr", tln.Addr().String(), "err", err)
			}
			if strings.HasPrefix(s.URL, "https://") && strings.HasSuffix(s.URL, ":0") {
				urls[s.ID] = "https://" + tln.Addr().String()
			}
		}
	}
	shields := map[string]*pop.Peer{}
	for _, s := range specs {
		if s.Tier == topology.TierRegional {
			if _, ok := shields[s.Location]; !ok {
				shields[s.Location] = &pop.Peer{ID: s.ID, URL: urls[s.ID]}
			}
		}
	}
	peers := peerAddrs(specs, urls)
	for _, s := range specs {
		if !local(s) {
			continue
		}
		n := &Node{ID: s.ID, Tier: s.Tier, Location: s.Location, Parent: s.Parent, URL: urls[s.ID], Egress: s.Egress, ln: lns[s.ID], tlsLn: tlsLns[s.ID], quicLn: quicLns[s.ID]}
		if n.Egress == "" {
			n.Egress = egressOf(n.ln.Addr(), n.URL)
			if n.Egress == "" {
				opts.Logger.Warn("this PoP listens on every address and has no egress: its connections to origins leave from whatever address the system picks, which ip-ranges.json cannot know; set its egress",
					"pop", s.ID, "field", "egress")
			}
		}
		httpsPort, http3Port := 0, 0
		if n.tlsLn != nil {
			n.HTTPSURL = "https://" + n.tlsLn.Addr().String()
			httpsPort = n.tlsLn.Addr().(*net.TCPAddr).Port
		}
		if n.quicLn != nil {
			http3Port = n.quicLn.LocalAddr().(*net.UDPAddr).Port
		}
		rc := s.Location
		if l, ok := topology.LocationByID(s.Location); ok {
			rc, n.Region = l.RegionalCache, l.Region
		} else if r, ok := topology.RegionalCacheByID(s.Location); ok {
			n.Region = r.Region
		}
		po := pop.Options{
			ID:                  s.ID,
			MemoryCacheSize:     int64(cfg.PoP.MemoryCacheSize),
			MaxObjectSize:       int64(cfg.PoP.MaxObjectSize),
			DefaultDistribution: opts.DefaultDistribution,
			Logger:              opts.Logger,
			Tier:                s.Tier,
			RegionalCache:       rc,
			Shields:             shields,
			TierSecret:          secret,
			AcceptViewers:       s.AcceptViewers,
			Egress:              n.Egress,
			ShieldRegion:        topology.ShieldCache,
			Geo:                 w.geo,
			DefaultCertFile:     opts.DefaultCertFile,
			DefaultKeyFile:      opts.DefaultKeyFile,
			HTTPSPort:           httpsPort,
			HTTP3Port:           http3Port,
			TierCABundle:        opts.TierCABundle,
			BodyBudget:          bodies,
		}
		po.WebSocketIdleTimeout = time.Duration(cfg.PoP.WebSocketIdleTimeout)
		po.RequestBodyTimeout = time.Duration(cfg.PoP.RequestBodyTimeout)
		if opts.DataDir != "" {
			po.DiskDir = filepath.Join(opts.DataDir, "cache", s.ID)
			po.DiskCacheSize = int64(cfg.PoP.DiskCacheSize)
			// Bodies too large for memory stream through unlinked files
			// there, on the disk cache's filesystem.
			po.SpillDir = filepath.Join(opts.DataDir, "spill")
		}
		if s.Parent != "" {
			po.Parent = &pop.Peer{ID: s.Parent, URL: urls[s.Parent]}
		}
		p, err := pop.New(cfg, po)
		if err != nil {
			w.Close()
			return fail(fmt.Errorf("PoP %s: %w", s.ID, err))
		}
		n.PoP = p
		p.AddListeners(n.ln.Addr(), listenAddr(n.tlsLn), packetAddr(n.quicLn))
		w.Nodes = append(w.Nodes, n)
		id := s.ID
		n.server, err = listener.New(listener.Options{
			Handler:           p,
			TLSConfig:         p.TLSConfig(),
			HTTP3:             func(name string) bool { return p.HTTPVersionOffered(name, "h3") },
			MaxHeaderBytes:    int(cfg.PoP.MaxHeaderBytes),
			ReadHeaderTimeout: time.Duration(cfg.PoP.ReadHeaderTimeout),
			IdleTimeout:       time.Duration(cfg.PoP.IdleTimeout),
			WriteTimeout:      time.Duration(cfg.PoP.ViewerWriteTimeout),
			MaxConnsPerAddr:   cfg.PoP.MaxConnectionsPerAddress,
			MaxConns:          cfg.PoP.MaxConnections,
			NewConnsPerAddr:   cfg.PoP.NewConnectionsPerAddress,
			ExemptAddr:        func(a netip.Addr) bool { _, ok := peers[a]; return ok },
			Logger:            opts.Logger,
			OnError: func(remote net.Addr, status int, reason string) {
				opts.Logger.Debug("request refused", "stage", "listener", "pop", id, "client", remote.String(), "status", status, "reason", reason)
			},
		})
		if err != nil {
			w.Close()
			return fail(fmt.Errorf("PoP %s: %w", s.ID, err))
		}
	}
	for _, n := range w.Nodes {
		w.serve(n.server.Serve, n.ln)
		if n.tlsLn != nil {
			w.serve(n.server.ServeTLS, n.tlsLn)
		}
		if n.quicLn != nil {
			w.serveQUIC(n.server, n.quicLn)
		}
	}
	return w, nil
}

func (w *World) serve(serve func(net.Listener) error, ln net.Listener) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.errc <- err
		}
	}()
}

func (w *World) serveQUIC(s *listener.Server, pc net.PacketConn) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// Serve returns once the server is closed; a failure here leaves
		// HTTPS over TCP working, so it is logged, not fatal.
		if err := s.ServeQUIC(pc); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Warn("HTTP/3 listener stopped", "addr", pc.LocalAddr().String(), "err", err)
		}
	}()
}

// ListenError is an address a listener could not be opened on.
type ListenError struct {
	Addr  string
	HTTPS bool // the HTTPS (and HTTP/3) address of a pair
	Err   error
}

func (e *ListenError) Error() string {
	if e.HTTPS {
		return fmt.Sprintf("listen %s (https): %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("listen %s: %v", e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// AddListeners serves node n on one more pair of addresses (the front door
// of strata run): plain HTTP on addr and, unless httpsAddr is "", HTTPS on
// httpsAddr with HTTP/3 on the same UDP port when it can be had. Requests
// that come in on them are redirected to, and told in Alt-Svc of, this
// pair's ports, not the node's own. It returns the URLs served; an address
// that cannot be listened on is a *ListenError.
func (w *World) AddListeners(n *Node, addr, httpsAddr string) (httpURL, httpsURL string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", "", &ListenError{Addr: addr, Err: err}
	}
	var tln net.Listener
	var pc net.PacketConn
	if httpsAddr != "" {
		if tln, err = net.Listen("tcp", httpsAddr); err != nil {
			ln.Close()
			return "", "", &ListenError{Addr: httpsAddr, HTTPS: true, Err: err}
		}
		if pc, err = net.ListenPacket("udp", tln.Addr().String()); err != nil {
			w.log.Warn("no HTTP/3 on the front door (UDP listen failed)", "addr", tln.Addr().String(), "err", err)
			pc = nil
		}
	}
	n.PoP.AddListeners(ln.Addr(), listenAddr(tln), packetAddr(pc))
	w.serve(n.server.Serve, ln)
	httpURL = "http://" + ln.Addr().String()
	if tln != nil {
		w.serve(n.server.ServeTLS, tln)
		httpsURL = "https://" + tln.Addr().String()
	}
	if pc != nil {
		w.extraQUIC = append(w.extraQUIC, pc)
		w.serveQUIC(n.server, pc)
	}
	return httpURL, httpsURL, nil
}

func listenAddr(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

func packetAddr(pc net.PacketConn) net.Addr {
	if pc == nil {
		return nil
	}
	return pc.LocalAddr()
}

// egressOf is the source address of a PoP without an egress: the address
// it listens on, or, listening on every address, its URL's host when that
// is an address of this machine; "" when neither. Its upstream
// connections are bound to it (origin.BindEgress), so what ip-ranges.json
// publishes is what origins see.
// peerAddrs are the addresses the PoPs of the topology connect from: their
// egress and the hosts of their URLs, where those are IP literals. Their
// connections to a PoP (tier hops) are exempt from the connection limits
// per viewer address.
func peerAddrs(specs []config.TopologyPoP, urls map[string]string) map[netip.Addr]struct{} {
	peers := map[netip.Addr]struct{}{}
	add := func(host string) {
		if i := strings.Index(host, "://"); i >= 0 {
			host = host[i+3:]
		}
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !a.IsUnspecified() {
			peers[a.Unmap()] = struct{}{}
		}
	}
	for _, s := range specs {
		add(s.Egress)
		add(urls[s.ID])
	}
	return peers
}

func egressOf(listen net.Addr, url string) string {
	if a, ok := listen.(*net.TCPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
		return a.IP.String()
	}
	host := url
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return ""
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return ip.String()
		}
	}
	return ""
}

// Err reports the first listener failure.
func (w *World) Err() <-chan error { return w.errc }

// Node returns the running PoP with the given id.
func (w *World) Node(id string) *Node {
	for _, n := range w.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Edges returns the running edge PoPs.
func (w *World) Edges() []*Node {
	var out []*Node
	for _, n := range w.Nodes {
		if n.Tier == topology.TierEdge {
			out = append(out, n)
		}
	}
	return out
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// and releases the PoPs.
func (w *World) Shutdown(ctx context.Context) error {
	var errs []error
	for _, n := range w.Nodes {
		if err := n.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	w.wg.Wait()
	w.release()
	return errors.Join(errs...)
}

// Close stops everything at once.
func (w *World) Close() {
	for _, n := range w.Nodes {
		if n.server != nil {
			n.server.Close()
		}
	}
	w.wg.Wait()
	for _, n := range w.Nodes {
		if n.quicLn != nil {
			n.quicLn.Close()
		}
	}
	for _, pc := range w.extraQUIC {
		pc.Close()
	}
	w.release()
}

func (w *World) release() {
	for _, n := range w.Nodes {
		if n.PoP != nil {
			n.PoP.Close()
		}
	}
	if w.geo != nil {
		w.geo.Close()
	}
}

// NodeInfo is one line of network.json.
type NodeInfo struct {
	ID       string `json:"id"`
	Tier     string `json:"tier"`
	Location string `json:"location"`
	Region   string `json:"region"`
	Parent   string `json:"parent,omitempty"`
	URL      string `json:"url"`
	HTTPSURL string `json:"httpsUrl,omitempty"`
}

// Info lists the running PoPs.
func (w *World) Info() []NodeInfo {
	out := make([]NodeInfo, 0, len(w.Nodes))
	for _, n := range w.Nodes {
		out = append(out, NodeInfo{ID: n.ID, Tier: n.Tier, Location: n.Location, Region: n.Region, Parent: n.Parent, URL: n.URL, HTTPSURL: n.HTTPSURL})
	}
	return out
}

// WriteNetwork writes Info as JSON to path (atomically).
func (w *World) WriteNetwork(path string) error {
	b, err := json.MarshalIndent(w.Info(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Specs converts a demo world of the catalog into topology PoPs.
func Specs(specs []topology.PoPSpec) []config.TopologyPoP {
	out := make([]config.TopologyPoP, 0, len(specs))
	for _, s := range specs {
		out = append(out, config.TopologyPoP{ID: s.ID, Location: s.Location, Tier: s.Tier, Listen: s.Listen, Egress: s.Egress, Parent: s.Parent})
	}
	return out
}
