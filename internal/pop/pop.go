// Package pop is a Strata point of presence: the request pipeline of
// DESIGN.md assembled in order (pipeline.go), over a cache store and the
// origins of the current configuration snapshot.
package pop

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/cache/disk"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/origin"
	"github.com/strata-cdn/strata/internal/viewertls"
	"github.com/strata-cdn/strata/internal/waf"
	"github.com/strata-cdn/strata/internal/waf/managed"
)

// Options configure a PoP. Zero fields take the documented defaults.
type Options struct {
	ID              string        // PoP id shown in X-Strata-Pop and Via; default "LOCAL1"
	MemoryCacheSize int64         // bytes; default 256 MiB
	MaxObjectSize   int64         // largest object stored in memory; default 64 MiB
	FetchTimeout    time.Duration // bound on one shared (collapsed) fetch; default 10m
	// DefaultDistribution answers requests whose Host matches no distribution
	// (quick mode and the demo); empty means such requests get 421.
	DefaultDistribution string
	Logger              *slog.Logger
	Now                 func() time.Time
	// ManagedRuleGroups builds the managed rule groups of web ACLs; nil:
	// managed.Factory (the OWASP CRS through Coraza, internal/waf/managed).
	ManagedRuleGroups waf.ManagedFactory

	// Tiers (see tier.go). Zero values: a lone edge fetching from origins.
	Tier          string           // TierEdge (default) or TierRegional
	RegionalCache string           // catalog id of this PoP's regional cache, e.g. "FRA-R"
	Parent        *Peer            // an edge's regional PoP; nil: fetch from the origin
	Shields       map[string]*Peer // regional cache id -> the PoP acting as origin shield there
	TierSecret    string           // shared by the PoPs of a network; marks requests between tiers
	Egress        string           // source address of upstream connections ("" = any)
	// AcceptViewers lets a regional PoP serve requests that did not come
	// over the tier hop; by default it refuses them (403), as regional
	// caches are not viewer-facing. Edges always serve viewers.
	AcceptViewers bool
	// DiskDir, if set, holds the disk tier of the cache, bounded by
	// DiskCacheSize (default 1 GiB). Objects up to PromoteSize (default
	// 512 KiB) read from disk are copied into memory.
	DiskDir       string
	DiskCacheSize int64
	PromoteSize   int64
	// SpillDir holds the temporary files of bodies too large to keep in
	// memory while they stream through a fetch (larger than MaxObjectSize):
	// each is unlinked as soon as it is created and closed when its last
	// viewer is done. Default: DiskDir if set (the space the operator sized
	// for the cache), else os.TempDir(). It is created if missing.
	SpillDir string
	// BodyBudget, if set, bounds the memory of bodies being fetched (not
	// yet in the store): one that does not fit streams through a spill file
	// and is not kept in memory. Shared by the PoPs of a process.
	BodyBudget *cache.Budget
	// Geo, if set, is the country database of stages 4 and 6.
	Geo *geo.DB
	// ShieldRegion maps an originShield.region value to a regional cache id;
	// nil means region values are regional cache ids.
	ShieldRegion func(region string) (string, bool)
	// WebSocketIdleTimeout closes a WebSocket on which no byte moved either
	// way for that long; default 10m, CloudFront's idle timeout.
	WebSocketIdleTimeout time.Duration
	// RequestBodyTimeout bounds each read of a request body forwarded to
	// an origin: a viewer that sends nothing for that long gets 408
	// (upload.go); default 60s, nginx's client_body_timeout.
	RequestBodyTimeout time.Duration
	// Origin protection (shield.go): at most MaxOriginFetches fetches to
	// origins at once, MaxOriginFetchesPerOrigin to each origin host; one
	// over a cap waits at most OriginQueueTimeout, then gets 503. Zero
	// means the config default.
	MaxOriginFetches          int
	MaxOriginFetchesPerOrigin int
	OriginQueueTimeout        time.Duration
	// MinRequestBodyRate (bytes/s) and BufferedBodySize (bytes): slow
	// request bodies (shield.go). Zero means the config default.
	MinRequestBodyRate int64
	BufferedBodySize   int64

	// Viewer TLS (tls.go). DefaultCertFile and DefaultKeyFile are the PEM
	// files of the default certificate (domain names, no SNI, unknown
	// names), read again with every Apply; unset, only aliases with a
	// certificate of their own can be served over HTTPS. HTTPSPort is the
	// public port of the PoP's HTTPS listener, put in redirect-to-https
	// Locations unless it is 0 or 443, for requests on listeners not given
	// to AddListeners (ports.go).
	DefaultCertFile, DefaultKeyFile string
	HTTPSPort                       int
	// HTTP3Port is the UDP port of the PoP's HTTP/3 listener (0: none).
	// Responses over HTTPS of distributions that offer HTTP/3 advertise it
	// in Alt-Svc (on listeners not given to AddListeners).
	HTTP3Port int
	// TierCABundle is the PEM file of the CAs that verify an https://
	// parent or shield (unset: the system's roots).
	TierCABundle string
}

// PoP serves viewers. It is an http.Handler; listeners live elsewhere.
type PoP struct {
	opts Options
	waf  wafState // web ACLs' rate counters, across snapshots (waf.go)
	log  *slog.Logger
	now  func() time.Time
	via  string // "1.1 <id> (strata)"
	// Header values shared by every response (never modified in place).
	viaValue, popValue []string
	statusID           string    // this cache's name in Cache-Status: "Strata-<id>"
	altSvc             []string  // Alt-Svc advertising Options.HTTP3Port, if set
	ports              portTable // the ports each listener advertises (ports.go)
	store              *cache.Store
	flights            cache.Group[fetched]
	snap               atomic.Pointer[snapshot]
	parent             *origin.Upstream
	shields            map[string]*origin.Upstream
	purges             purgeLog
	tunnels            tunnelSet // open WebSockets (websocket.go)
	tlsBase            *tls.Config
	stapler            *viewertls.Stapler // OCSP staples of the viewer certificates (tls.go)
	spillWarned        atomic.Bool        // a spill file could not be created (logged once)
	viewerErrors       sampler            // viewer errors logged at info (viewerlog.go)
	originLimit        *origin.Limiter    // concurrent origin fetches (shield.go)

	// Keys an unsafe request invalidated, for the parent tiers (unsafe.go).
	unsafe unsafeMemory
}

// New returns a PoP serving cfg.
func New(cfg *config.Config, opts Options) (*PoP, error) {
	if opts.ManagedRuleGroups == nil {
		opts.ManagedRuleGroups = managed.Factory
	}
	if opts.ID == "" {
		opts.ID = config.DefaultPoPID
	}
	if opts.MemoryCacheSize <= 0 {
		opts.MemoryCacheSize = int64(config.DefaultMemoryCacheSize)
	}
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = int64(config.DefaultMaxObjectSize)
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebSocketIdleTimeout <= 0 {
		opts.WebSocketIdleTimeout = config.DefaultWebSocketIdleTimeout
	}
	if opts.RequestBodyTimeout <= 0 {
		opts.RequestBodyTimeout = config.DefaultRequestBodyTimeout
	}
	opts = originLimitDefaults(opts) // shield.go
	p := &PoP{
		opts:  opts,
		log:   opts.Logger.With("pop", opts.ID),
		now:   opts.Now,
		via:   "1.1 " + opts.ID + " (strata)",
		store: cache.NewStore(opts.MemoryCacheSize),
	}
	p.viaValue, p.popValue = []string{p.via}, []string{opts.ID}
	p.originLimit = origin.NewLimiter(opts.MaxOriginFetches, opts.MaxOriginFetchesPerOrigin, opts.OriginQueueTimeout)
	p.tlsBase = p.newTLSBase()
	p.stapler = newStapler(opts.Egress, p.log)
	p.statusID = "Strata-" + opts.ID
	if opts.HTTP3Port != 0 {
		p.altSvc = altSvcValue(opts.HTTP3Port)
	}
	if opts.Tier == "" {
		p.opts.Tier = TierEdge
	}
	if opts.Tier == TierRegional && opts.TierSecret == "" && !opts.AcceptViewers {
		return nil, fmt.Errorf("regional PoP %s: no tier secret to tell its child tiers from viewers, whom it refuses", opts.ID)
	}
	if opts.Parent != nil {
		up, err := origin.NewUpstream(opts.Parent.ID, opts.Parent.URL, opts.Egress, opts.TierCABundle)
		if err != nil {
			return nil, fmt.Errorf("parent %s: %w", opts.Parent.ID, err)
		}
		p.parent = up
	}
	p.shields = map[string]*origin.Upstream{}
	for rc, peer := range opts.Shields {
		if peer == nil || peer.ID == opts.ID {
			continue
		}
		up, err := origin.NewUpstream(peer.ID, peer.URL, opts.Egress, opts.TierCABundle)
		if err != nil {
			return nil, fmt.Errorf("shield %s: %w", peer.ID, err)
		}
		p.shields[rc] = up
	}
	if opts.DiskDir != "" {
		if opts.DiskCacheSize <= 0 {
			opts.DiskCacheSize = int64(config.DefaultDiskCacheSize)
		}
		if opts.PromoteSize <= 0 {
			opts.PromoteSize = 512 << 10
		}
		d, err := disk.Open(disk.Options{Dir: opts.DiskDir, MaxBytes: opts.DiskCacheSize, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("disk cache: %w", err)
		}
		p.store.AttachDisk(d, opts.PromoteSize, p.log)
	}
	if p.opts.SpillDir == "" {
		p.opts.SpillDir = opts.DiskDir
	}
	if p.opts.SpillDir == "" {
		p.opts.SpillDir = os.TempDir()
	}
	if err := os.MkdirAll(p.opts.SpillDir, 0o700); err != nil {
		p.Close()
		return nil, fmt.Errorf("spill directory: %w", err)
	}
	if err := p.Apply(cfg); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// ID is the PoP's id.
func (p *PoP) ID() string { return p.opts.ID }

// Store gives access to the PoP's cache (invalidation, tests).
func (p *PoP) Store() *cache.Store { return p.store }

// Apply builds a new snapshot from cfg and swaps it in atomically. On error
// the running snapshot keeps serving.
func (p *PoP) Apply(cfg *config.Config) error {
	s, err := p.build(cfg)
	if err != nil {
		return err
	}
	old := p.snap.Swap(s)
	if old != nil {
		old.close()
	}
	return nil
}

// Close releases the origins' connections and closes open WebSockets.
func (p *PoP) Close() {
	p.tunnels.closeAll()
	if s := p.snap.Load(); s != nil {
		s.close()
	}
	p.stapler.Close()
	if p.parent != nil {
		p.parent.Close()
	}
	for _, u := range p.shields {
		u.Close()
	}
	if d := p.store.Disk(); d != nil {
		d.Close()
	}
}

var _ http.Handler = (*PoP)(nil)
