package pop

import (
	"net/http"

	"github.com/strata-cdn/strata/internal/origin"
)

// doOrigin sends the request that mk builds to the behavior's origin, or its
// origin group (origin.Group: the secondary when the primary fails). failover
// names the secondary when it was asked.
func (p *PoP) doOrigin(ex *exchange, mk func() *http.Request) (resp *http.Response, failover string, err error) {
	b := ex.beh
	g := origin.Group{Primary: b.target, Secondary: b.secondary, Codes: b.failoverCodes,
		Send: func(o *origin.Origin, req *http.Request) (*http.Response, error) {
			return p.originDo(ex, o, req) // shield.go: the origin fetch cap
		}}
	if b.secondary != nil {
		g.OnFailover = func(why string) {
			p.log.Info("origin failover", "stage", "fetch", "distribution", ex.dist.cfg.ID,
				"primary", b.target.ID(), "secondary", b.secondary.ID(), "reason", why, "id", ex.id)
		}
	}
	return g.Do(mk, ex.scheme, b.forwardHost)
}
