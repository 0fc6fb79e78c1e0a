package origin

import (
	"errors"
	"net/http"
	"strconv"
)

// Group is an origin group (CloudFront's origin failover): every request
// goes to the primary first; a GET, HEAD or OPTIONS request goes to the
// secondary when the primary answers one of Codes, or cannot be reached, or
// times out. Only before any byte of the primary's response went to a
// viewer: the primary's response is discarded whole, and once Do returned
// it, a failure while its body is read is the caller's (no failover).
//
// A Group with no Secondary is a single origin: Do sends to the primary and
// returns what it got.
type Group struct {
	Primary   *Origin
	Secondary *Origin      // nil: no failover
	Codes     map[int]bool // statuses of the primary that send a request to the secondary
	// OnFailover, if set, is called with the reason ("status 503", or the
	// primary's error) before the secondary is asked.
	OnFailover func(reason string)
	// Send, if set, sends a request to one of the group's origins in place
	// of Origin.Do(req, viewerScheme, keepHost) (the PoP's origin fetch cap
	// wraps it). An error from Send that is not an *Error is not failed over.
	Send func(o *Origin, req *http.Request) (*http.Response, error)
}

func (g Group) send(o *Origin, req *http.Request, viewerScheme string, keepHost bool) (*http.Response, error) {
	if g.Send != nil {
		return g.Send(o, req)
	}
	return o.Do(req, viewerScheme, keepHost)
}

// Do sends the request that mk builds to the primary, and a second request
// that mk builds to the secondary when the primary fails. failover is the
// secondary's id when it was asked (its answer or error is returned).
// viewerScheme and keepHost are as for Origin.Do.
//
// A request that the viewer cancelled is not failed over, nor an error that
// is not an origin's.
func (g Group) Do(mk func() *http.Request, viewerScheme string, keepHost bool) (resp *http.Response, failover string, err error) {
	req := mk()
	method := req.Method
	resp, err = g.send(g.Primary, req, viewerScheme, keepHost)
	if g.Secondary == nil || !failoverMethod(method) {
		return resp, "", err
	}
	var why string
	switch {
	case err != nil:
		var oe *Error
		if !errors.As(err, &oe) || req.Context().Err() != nil {
			return nil, "", err
		}
		why = err.Error()
	case g.Codes[resp.StatusCode]:
		why = "status " + strconv.Itoa(resp.StatusCode)
		resp.Body.Close()
	default:
		return resp, "", nil
	}
	if g.OnFailover != nil {
		g.OnFailover(why)
	}
	resp, err = g.send(g.Secondary, mk(), viewerScheme, keepHost)
	return resp, g.Secondary.ID(), err
}

// failoverMethod: only idempotent requests are sent twice.
func failoverMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
