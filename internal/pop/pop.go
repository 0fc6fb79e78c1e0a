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
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/cache/disk"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/origin"
	"github.com/strata-cdn/strata/internal/signedurl"
	"github.com/strata-cdn/strata/internal/viewertls"
	"github.com/strata-cdn/strata/internal/waf"
	"github.com/strata-cdn/strata/pkg/sigv4"
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
	// ManagedRuleGroups builds the managed rule groups of web ACLs
	// (internal/waf/managed); nil: a web ACL with one does not compile.
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
	flights            cache.Group
	snap               atomic.Pointer[snapshot]
	parent             *upstream
	shields            map[string]*upstream
	purges             purgeLog
	tunnels            tunnelSet // open WebSockets (websocket.go)
	tlsBase            *tls.Config
	stapler            *viewertls.Stapler // OCSP staples of the viewer certificates (tls.go)
	spillWarned        atomic.Bool        // a spill file could not be created (logged once)
	viewerErrors       sampler            // viewer errors logged at info (viewerlog.go)

	// Keys an unsafe request invalidated, for the parent tiers (unsafe.go).
	unsafe unsafeMemory
}

// New returns a PoP serving cfg.
func New(cfg *config.Config, opts Options) (*PoP, error) {
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
	p := &PoP{
		opts:  opts,
		log:   opts.Logger.With("pop", opts.ID),
		now:   opts.Now,
		via:   "1.1 " + opts.ID + " (strata)",
		store: cache.NewStore(opts.MemoryCacheSize),
	}
	p.viaValue, p.popValue = []string{p.via}, []string{opts.ID}
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
		up, err := newUpstream(*opts.Parent, opts.Egress, opts.TierCABundle)
		if err != nil {
			return nil, fmt.Errorf("parent %s: %w", opts.Parent.ID, err)
		}
		p.parent = up
	}
	p.shields = map[string]*upstream{}
	for rc, peer := range opts.Shields {
		if peer == nil || peer.ID == opts.ID {
			continue
		}
		up, err := newUpstream(*peer, opts.Egress, opts.TierCABundle)
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

// snapshot is one immutable configuration, resolved for serving.
type snapshot struct {
	hosts     map[string]*dist
	wildcards []wildcard // "*.example.com" aliases, longest suffix first
	fallback  *dist
	all       []*dist
	tls       *tlsSet
	staples   []*viewertls.Stapled // released by close
}

type wildcard struct {
	suffix string // ".example.com"
	d      *dist
}

type dist struct {
	cfg       *config.Distribution
	waf       *webACL // stage 5; nil: no web ACL (waf.go)
	origins   map[string]*origin.Origin
	behaviors []*behavior
	def       *behavior
}

type behavior struct {
	cfg    *config.CacheBehavior
	policy *config.CachePolicy
	orp    *config.OriginRequestPolicy // nil: forward only what is in the cache key
	ttls   cache.TTLs
	bypass bool // the policy's max TTL is 0: nothing is cached (Managed-CachingDisabled)
	target *origin.Origin
	// forwardHost: the viewer's Host goes to the origin (it is in the key or the ORP).
	forwardHost bool
	// shield is the regional cache id of the target origin's origin shield, if any.
	shield string
	// An origin group's secondary, and the statuses of the primary that send
	// a request there (origin.go of this package).
	secondary     *origin.Origin
	failoverCodes map[int]bool
	// verifier checks signed URLs and cookies when the behavior has trusted
	// key groups (stage 9); nil otherwise.
	verifier *signedurl.Verifier
	// rhp is the response headers policy (stage 16, respheaders.go); nil: none.
	rhp *respPolicy

	// staleIfError is the policy's defaultStaleIfError (negative: no
	// limit): how long a stale copy may be served on an origin error when
	// the origin gave no stale-if-error (fetch.go).
	staleIfError time.Duration
}

func (s *snapshot) close() {
	for _, st := range s.staples {
		st.Release()
	}
	s.staples = nil
	for _, d := range s.all {
		for _, o := range d.origins {
			o.Close()
		}
	}
}

func (p *PoP) build(cfg *config.Config) (*snapshot, error) {
	s := &snapshot{hosts: map[string]*dist{}}
	acls, err := p.buildWebACLs(cfg)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Distributions {
		dc := &cfg.Distributions[i]
		if !dc.IsEnabled() {
			continue
		}
		d := &dist{cfg: dc, origins: map[string]*origin.Origin{}, waf: acls[dc.WebACLID]}
		for j := range dc.Origins {
			oc := &dc.Origins[j]
			os, err := p.originSettings(oc)
			if err != nil {
				return nil, fmt.Errorf("distributions[%d].origins[%d]: %w", i, j, err)
			}
			o, err := origin.New(os)
			if err != nil {
				return nil, fmt.Errorf("distributions[%d].origins[%d]: %w", i, j, err)
			}
			d.origins[oc.ID] = o
		}
		var err error
		if d.def, err = p.buildBehavior(cfg, d, &dc.DefaultCacheBehavior); err != nil {
			return nil, fmt.Errorf("distributions[%d].defaultCacheBehavior: %w", i, err)
		}
		for j := range dc.CacheBehaviors {
			b, err := p.buildBehavior(cfg, d, &dc.CacheBehaviors[j])
			if err != nil {
				return nil, fmt.Errorf("distributions[%d].cacheBehaviors[%d]: %w", i, j, err)
			}
			d.behaviors = append(d.behaviors, b)
		}
		s.all = append(s.all, d)
		for _, h := range append([]string{dc.DomainName}, dc.Aliases...) {
			h = strings.ToLower(h)
			if suffix, ok := strings.CutPrefix(h, "*"); ok {
				s.wildcards = append(s.wildcards, wildcard{suffix: suffix, d: d})
			} else if h != "" {
				s.hosts[h] = d
			}
		}
		if p.opts.DefaultDistribution != "" && dc.ID == p.opts.DefaultDistribution {
			s.fallback = d
		}
	}
	if p.opts.DefaultDistribution != "" && s.fallback == nil {
		return nil, fmt.Errorf("default distribution %q not found or disabled", p.opts.DefaultDistribution)
	}
	// Longest suffix first, so the most specific wildcard wins.
	for i := 1; i < len(s.wildcards); i++ {
		for j := i; j > 0 && len(s.wildcards[j].suffix) > len(s.wildcards[j-1].suffix); j-- {
			s.wildcards[j], s.wildcards[j-1] = s.wildcards[j-1], s.wildcards[j]
		}
	}
	if err := p.buildTLS(cfg, s); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (p *PoP) buildBehavior(cfg *config.Config, d *dist, bc *config.CacheBehavior) (*behavior, error) {
	b := &behavior{cfg: bc}
	b.policy = cfg.CachePolicy(bc.CachePolicyID)
	if b.policy == nil {
		return nil, fmt.Errorf("unknown cache policy %q", bc.CachePolicyID)
	}
	if bc.OriginRequestPolicyID != "" {
		if b.orp = cfg.OriginRequestPolicy(bc.OriginRequestPolicyID); b.orp == nil {
			return nil, fmt.Errorf("unknown origin request policy %q", bc.OriginRequestPolicyID)
		}
	}
	b.ttls = cache.TTLs{
		Min:     time.Duration(b.policy.MinTTL) * time.Second,
		Default: time.Duration(deref(b.policy.DefaultTTL, config.DefaultCachePolicyTTL)) * time.Second,
		Max:     time.Duration(deref(b.policy.MaxTTL, config.DefaultCachePolicyMaxTTL)) * time.Second,
	}
	b.bypass = b.ttls.Max == 0
	b.staleIfError = -1
	if s := b.policy.DefaultStaleIfError; s != nil {
		b.staleIfError = time.Duration(*s) * time.Second
	}
	targetID := bc.TargetOriginID
	if g := d.cfg.OriginGroup(targetID); g != nil {
		targetID = g.PrimaryOriginID
		b.secondary = d.origins[g.SecondaryOriginID]
		b.failoverCodes = map[int]bool{}
		for _, c := range g.FailoverCriteria.StatusCodes {
			b.failoverCodes[c] = true
		}
	}
	b.target = d.origins[targetID]
	if b.target == nil {
		return nil, fmt.Errorf("unknown target origin %q", bc.TargetOriginID)
	}
	if oc := d.cfg.Origin(targetID); oc != nil && oc.OriginShield.Enabled {
		b.shield = oc.OriginShield.Region
		if p.opts.ShieldRegion != nil {
			rc, ok := p.opts.ShieldRegion(oc.OriginShield.Region)
			if !ok {
				return nil, fmt.Errorf("origin %s: originShield.region %q is not a regional edge cache", targetID, oc.OriginShield.Region)
			}
			b.shield = rc
		}
	}
	if len(bc.TrustedKeyGroups) > 0 {
		keys, err := signedurl.KeysFromConfig(cfg, bc.TrustedKeyGroups)
		if err != nil {
			return nil, fmt.Errorf("trustedKeyGroups: %w", err)
		}
		b.verifier = signedurl.NewVerifier(keys)
	}
	if id := bc.ResponseHeadersPolicyID; id != "" {
		rc := cfg.ResponseHeadersPolicy(id)
		if rc == nil {
			return nil, fmt.Errorf("unknown response headers policy %q", id)
		}
		b.rhp = newRespPolicy(rc)
	}
	b.forwardHost = b.policy.CacheKey.Headers.Names("Host") ||
		(b.orp != nil && (b.orp.Headers.Names("Host") || b.orp.Headers.Behavior == config.KeyAllViewer))
	return b, nil
}

func deref(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

func (p *PoP) originSettings(oc *config.Origin) (origin.Settings, error) {
	s := origin.Settings{
		ID:                 oc.ID,
		HTTPBase:           oc.BaseURL("http"),
		HTTPSBase:          oc.BaseURL("https"),
		ConnectionTimeout:  time.Duration(oc.ConnectionTimeout),
		ConnectionAttempts: oc.ConnectionAttempts,
		LocalAddr:          p.opts.Egress,
	}
	for _, h := range oc.CustomHeaders {
		s.CustomHeaders = append(s.CustomHeaders, [2]string{h.Name, h.Value})
	}
	if c := oc.CustomOriginConfig; c != nil {
		s.ReadTimeout = time.Duration(c.OriginReadTimeout)
		s.KeepaliveTimeout = time.Duration(c.OriginKeepaliveTimeout)
		s.CABundle = c.CABundle
		s.InsecureSkipVerify = c.InsecureSkipVerify
		if a := c.OriginAccessControl; a != nil && a.SigningBehavior != config.SigningNever {
			sg, err := signing(a, a.Region, a.Service)
			if err != nil {
				return s, err
			}
			s.Signing = sg
		}
	}
	if oc.S3OriginConfig != nil {
		s.OwnHost = true
	}
	if s3 := oc.S3OriginConfig; s3 != nil && s3.OriginAccessControl.SigningBehavior != config.SigningNever {
		sg, err := signing(&s3.OriginAccessControl, s3.Region, "s3")
		if err != nil {
			return s, err
		}
		s.Signing = sg
	}
	return s, nil
}

// signing resolves origin access control (its credentials may name
// environment variables: they are read now, when the origin is built).
func signing(a *config.OriginAccessControl, region, service string) (*origin.Signing, error) {
	id, secret, err := a.Credentials()
	if err != nil {
		return nil, err
	}
	return &origin.Signing{
		NoOverride:  a.SigningBehavior == config.SigningNoOverride,
		Credentials: sigv4.Credentials{AccessKeyID: id, SecretAccessKey: secret},
		Region:      region,
		Service:     service,
	}, nil
}

// lookup finds the distribution for a normalized host.
func (s *snapshot) lookup(host string) *dist {
	if d, ok := s.hosts[host]; ok {
		return d
	}
	for _, w := range s.wildcards {
		if strings.HasSuffix(host, w.suffix) && len(host) > len(w.suffix) {
			return w.d
		}
	}
	return s.fallback
}

// behaviorFor returns the first behavior whose pattern matches path.
func (d *dist) behaviorFor(path string) *behavior {
	for _, b := range d.behaviors {
		if config.MatchPath(b.cfg.PathPattern, path) {
			return b
		}
	}
	return d.def
}

// Close releases the origins' connections and closes open WebSockets.
func (p *PoP) Close() {
	p.tunnels.closeAll()
	if s := p.snap.Load(); s != nil {
		s.close()
	}
	p.stapler.Close()
	if p.parent != nil {
		p.parent.o.Close()
	}
	for _, u := range p.shields {
		u.o.Close()
	}
	if d := p.store.Disk(); d != nil {
		d.Close()
	}
}

var _ http.Handler = (*PoP)(nil)
