package pop

import (
	"fmt"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/origin"
	"github.com/strata-cdn/strata/internal/respheaders"
	"github.com/strata-cdn/strata/internal/signedurl"
	"github.com/strata-cdn/strata/internal/viewertls"
	"github.com/strata-cdn/strata/pkg/sigv4"
)

// The configuration snapshot: built whole from a config, swapped in
// atomically by Apply, looked up per request (stage 2 finds the
// distribution by host, stage 8 the behavior by path).

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
	// rhp is the response headers policy (stage 16, internal/respheaders,
	// applied in servertiming.go); nil: none.
	rhp *respheaders.Policy

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
		b.rhp = respheaders.New(rc)
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
