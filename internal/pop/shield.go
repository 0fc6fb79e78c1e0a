package pop

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	if o.MinRequestBodyRate <= 0 {
		o.MinRequestBodyRate = int64(config.DefaultMinRequestBodyRate)
	}
	if o.BufferedBodySize <= 0 {
		o.BufferedBodySize = int64(config.DefaultBufferedBodySize)
	}
	return o
}

// Slow request bodies. Each read of a body may wait RequestBodyTimeout for
// the viewer's next bytes (upload.go); on top of that, once bodyRateGrace
// has passed, the body as a whole must have come at MinRequestBodyRate or
// faster (Apache's mod_reqtimeout MinRate): a body trickled at 1 byte/s is
// cut with 408 a few seconds in, however regular its bytes. And a body of
// up to BufferedBodySize is read whole before the origin request starts,
// so a slow viewer holds no origin connection (nor a slot of the origin
// fetch cap) while it sends; a larger one streams, and so do a body of
// unknown length (chunked: it may be a duplex stream) and the body of
// a viewer that sent Expect: 100-continue (it is sent only once the origin
// agreed to take it), its pace bounded by the minimum rate.

// bodyRateGrace is the time a body has before its rate is enforced.
const bodyRateGrace = 5 * time.Second

// deadline is the read deadline of the next read of b at now: the idle
// timeout, or earlier the time by which the bytes received so far fall
// under the minimum rate. Called with b.mu held.
func (b *viewerBody) deadline(now time.Time) time.Time {
	d := now.Add(b.idle)
	if b.minRate > 0 {
		late := b.start.Add(bodyRateGrace + time.Duration(float64(b.n)/float64(b.minRate)*float64(time.Second)))
		if late.Before(d) {
			d = late
		}
	}
	return d
}

// bufferSmallBody reads a body declared (Content-Length) at most
// Options.BufferedBodySize whole, before any origin connection is taken.
// Any other body streams. On a read error it returns the viewer's failure.
func (p *PoP) bufferSmallBody(ex *exchange, vb *viewerBody) (io.Reader, error) {
	limit := p.opts.BufferedBodySize
	if cl := ex.r.ContentLength; cl < 0 || cl > limit || expectsContinue(ex.r) {
		// A viewer that waits for 100 Continue sends its body when the
		// origin asks for it (interim.go): the origin may refuse first.
		// A body of unknown length (chunked, or HTTP/2 without
		// content-length) may be a duplex stream the viewer writes as the
		// origin answers: holding it back would stall both.
		return vb, nil
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(vb, limit+1))
	if err != nil {
		if f := vb.failure(ex.r.Context()); f != nil {
			return nil, f
		}
		return nil, errViewerGone
	}
	if n > limit {
		return io.MultiReader(&buf, vb), nil
	}
	return bytes.NewReader(buf.Bytes()), nil
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

func expectsContinue(r *http.Request) bool {
	for _, v := range r.Header.Values("Expect") {
		if strings.EqualFold(strings.TrimSpace(v), "100-continue") {
			return true
		}
	}
	return false
}
