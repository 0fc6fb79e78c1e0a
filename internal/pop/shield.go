package pop

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/origin"
)

// Origin protection (issue 14, the Shield half): every request to an origin
// (a cacheable miss or a pass, not a hop to a parent tier, which has its own
// cap) takes a slot of the PoP's origin fetch limiter (internal/origin,
// limit.go) for as long as its response body is being read. Misses collapse
// per key already; this bounds what distinct keys (random query strings)
// can make an origin do at once. A fetch that finds no slot within the
// queue timeout is answered 503 with Retry-After, by Strata.

func originLimitDefaults(o Options) Options {
	if o.MaxOriginFetches <= 0 {
		o.MaxOriginFetches = config.DefaultMaxOriginFetches
	}
	if o.MaxOriginFetchesPerOrigin <= 0 {
		o.MaxOriginFetchesPerOrigin = config.DefaultMaxOriginFetchesPerOrigin
	}
	if o.OriginQueueTimeout <= 0 {
		o.OriginQueueTimeout = config.DefaultOriginQueueTimeout
	}
	return o
}

// originDo sends req to o in a slot of the origin fetch limiter.
func (p *PoP) originDo(ex *exchange, o *origin.Origin, req *http.Request) (*http.Response, error) {
	resp, err := p.originLimit.Do(req.Context(), o.LimitKey(), func() (*http.Response, error) {
		return o.Do(req, ex.scheme, ex.beh.forwardHost)
	})
	var busy *origin.BusyError
	if errors.As(err, &busy) {
		if req.Body != nil {
			req.Body.Close()
		}
		p.log.Warn("origin fetch refused: concurrent fetch cap", "stage", "fetch",
			"distribution", ex.dist.cfg.ID, "origin", o.ID(), "host", busy.Origin,
			"perOrigin", busy.PerOrigin, "limit", busy.Limit, "id", ex.id)
		return nil, &Error{Status: http.StatusServiceUnavailable, Source: FromStrata, Retry: true,
			Reason: "too many requests to the origin: try again shortly",
			Header: http.Header{"Retry-After": {strconv.Itoa(busy.RetryAfter())}}, Err: err}
	}
	return resp, err
}
