package pop

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/strata-cdn/strata/internal/origin"
)

// Origin groups (CloudFront's origin failover): every request goes to the
// primary first; a GET, HEAD or OPTIONS request goes to the secondary when
// the primary answers one of the group's failover status codes, or cannot
// be reached, or times out. Only before any byte of the primary's response
// went to a viewer: the primary's response is discarded whole.

// doOrigin sends the request that mk builds to the behavior's origin, and to
// the origin group's secondary when the primary fails. failover names the
// secondary when it answered.
func (p *PoP) doOrigin(ex *exchange, mk func() *http.Request) (resp *http.Response, failover string, err error) {
	b := ex.beh
	req := mk()
	method := req.Method
	resp, err = p.originDo(ex, b.target, req) // shield.go: the origin fetch cap
	if b.secondary == nil || !failoverMethod(method) {
		return resp, "", err
	}
	var why string
	switch {
	case err != nil:
		var oe *origin.Error
		if !errors.As(err, &oe) || req.Context().Err() != nil {
			return nil, "", err
		}
		why = err.Error()
	case b.failoverCodes[resp.StatusCode]:
		why = "status " + strconv.Itoa(resp.StatusCode)
		resp.Body.Close()
	default:
		return resp, "", nil
	}
	p.log.Info("origin failover", "stage", "fetch", "distribution", ex.dist.cfg.ID,
		"primary", b.target.ID(), "secondary", b.secondary.ID(), "reason", why, "id", ex.id)
	resp, err = p.originDo(ex, b.secondary, mk())
	return resp, b.secondary.ID(), err
}

func failoverMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
