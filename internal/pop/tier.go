package pop

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/strata-cdn/strata/internal/origin"
	topo "github.com/strata-cdn/strata/internal/topology" // pop's tests declare a type topology
)

// Tiers. An edge's cacheable misses go to its parent, the regional edge
// cache of its region; a regional cache's go to the origin shield when the
// origin names one (and it is not that shield itself), else to the origin.
// Requests that are not cached go from the edge straight to the origin, as
// CloudFront sends them. A parent that cannot be reached is skipped for a
// while and the fetch goes to the origin (origin.Upstream keeps its health).

// Tier names: topology's (the one declaration).
const (
	TierEdge     = topo.TierEdge
	TierRegional = topo.TierRegional
)

// Peer is another PoP of the network.
type Peer struct {
	ID  string // PoP id, e.g. "FRA1"
	URL string // how this PoP reaches it, e.g. "http://127.0.1.1:8080"
}

// Header fields between tiers. hopHeader carries the network's shared
// secret: only a request that has it is trusted as coming from a child tier.
const (
	hopHeader      = "X-Strata-Hop"
	childHeader    = "X-Strata-Child"
	servedByHeader = "X-Strata-Served-By"
)

// upstreamFor picks the parent tier for a cacheable fetch, or nil for the origin.
func (p *PoP) upstreamFor(ex *exchange) *origin.Upstream {
	if p.parent != nil {
		return p.parent
	}
	if s := ex.beh.shield; s != "" && s != p.opts.RegionalCache {
		return p.shields[s]
	}
	return nil
}

// fetchUpstream sends a cacheable request to the parent tier, or to the origin
// when there is none or it cannot be reached before it answered (the fetch is
// idempotent, so that retry is safe). via is the parent's id when it answered;
// skipped names a parent that was skipped.
func (p *PoP) fetchUpstream(ctx context.Context, ex *exchange, hdr http.Header, noParent bool) (resp *http.Response, via, skipped string, err error) {
	// A HEAD is fetched as a GET (the object is stored for both); a cached
	// OPTIONS is its own request, keyed apart (key.go).
	method := http.MethodGet
	if ex.r.Method == http.MethodOptions {
		method = http.MethodOptions
	}
	if up := p.upstreamFor(ex); up != nil && !noParent {
		if !up.Healthy(p.now()) {
			skipped = "parent-down-" + up.ID()
		} else {
			h := hdr.Clone()
			h.Set(hopHeader, p.opts.TierSecret)
			h.Set(childHeader, p.opts.ID)
			parentEncoding(ex, h)  // compress.go
			p.signalRefresh(ex, h) // unsafe.go
			req := p.newOriginRequest(ctx, ex, method, h, nil)
			resp, err = up.Do(req)
			if err == nil {
				return resp, up.ID(), "", nil
			}
			if ctx.Err() != nil {
				return nil, "", "", err
			}
			up.MarkDown(p.now())
			skipped = "parent-down-" + up.ID()
			p.log.Warn("parent unreachable, going to the origin", "stage", "fetch", "parent", up.ID(), "err", err.Error())
		}
	}
	resp, failover, err := p.doOrigin(ex, func() *http.Request {
		return p.newOriginRequest(ctx, ex, method, hdr.Clone(), nil)
	})
	if failover != "" {
		skipped = joinDetail(skipped, "failover-"+failover)
	}
	return resp, "", skipped, err
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// regionalRefusal refuses a request to a regional PoP that did not come
// over the tier hop: regional caches are not viewer-facing (CloudFront's
// regional edge caches cannot be addressed by viewers), so a viewer cannot
// reach what an edge keeps behind its viewer checks (signed URLs, geo
// restriction, the viewer protocol policy) by asking the parent directly.
// Options.AcceptViewers (topology.pops[].acceptViewers) lets it serve them,
// with every viewer check of an edge.
func (p *PoP) regionalRefusal(ex *exchange) error {
	if p.opts.Tier != TierRegional || ex.fromTier || p.opts.AcceptViewers {
		return nil
	}
	return viewerError(http.StatusForbidden, "regional cache "+p.opts.ID+" does not serve viewers: use an edge PoP")
}

// fromChildTier reports whether a request carries the network's secret.
// Only a regional PoP has child tiers: an edge treats every request as a
// viewer's, so a leaked or guessed hop header never skips its checks.
func (p *PoP) fromChildTier(r *http.Request) bool {
	if p.opts.TierSecret == "" || p.opts.Tier != TierRegional {
		return false
	}
	v := r.Header.Get(hopHeader)
	return v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(p.opts.TierSecret)) == 1
}

// clientFromForwarded is the viewer address a child tier reported: the last
// entry of X-Forwarded-For, which the child appended.
func clientFromForwarded(xff string) string {
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	return strings.TrimSpace(xff)
}
