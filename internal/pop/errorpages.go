package pop

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// Stage 15: custom error responses. When a response to a viewer would be a
// 4xx/5xx for which the distribution configures a page, the page is served
// instead: fetched through the first behavior whose pattern matches its path
// (and cached like any object), sent with the configured status (or the
// original one). If the page itself cannot be had, the original error goes
// out. errorCachingMinTTL decides how long the error itself is cached.

// errPageUnavailable ends a page fetch that did not give a 200.
var errPageUnavailable = errors.New("pop: custom error page unavailable")

func customErrorFor(d *dist, status int) *config.CustomErrorResponse {
	if d == nil {
		return nil
	}
	for i := range d.cfg.CustomErrorResponses {
		if c := &d.cfg.CustomErrorResponses[i]; c.ErrorCode == status {
			return c
		}
	}
	return nil
}

// errorTTL is how long an error status may be cached (-1: not at all,
// unless the origin's own headers make it cacheable).
func errorTTL(d *dist, status int) time.Duration {
	c := customErrorFor(d, status)
	if c == nil || status == http.StatusRequestedRangeNotSatisfiable || c.ErrorCachingMinTTL == nil {
		return -1
	}
	return time.Duration(*c.ErrorCachingMinTTL) * time.Second
}

// serveErrorPage answers ex with the distribution's page for status, and
// reports whether it did (nothing has been written when it did not).
//
// Pages are for viewers: a parent tier answers its child with the error
// itself (cached for errorCachingMinTTL like any error), and the edge
// serves the page, so that the viewer sees "Error from strata" and the edge
// caches the error for errorCachingMinTTL, not the page for its TTL.
func (p *PoP) serveErrorPage(ex *exchange, status int) bool {
	if ex.errorPage || ex.fromTier || ex.w == nil || ex.w.wrote {
		return false
	}
	c := customErrorFor(ex.dist, status)
	if c == nil || c.ResponsePagePath == "" {
		return false
	}
	path, ok := cleanPath(c.ResponsePagePath)
	if !ok {
		return false
	}
	pr := ex.r.Clone(ex.r.Context())
	pr.Method, pr.Body, pr.ContentLength = http.MethodGet, http.NoBody, 0
	pr.URL = &url.URL{Path: path}
	for _, h := range []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "Upgrade"} {
		pr.Header.Del(h)
	}
	sub := &exchange{w: ex.w, r: pr, id: ex.id, start: ex.start, scheme: ex.scheme, client: ex.client,
		host: ex.host, path: path, snap: ex.snap, dist: ex.dist, fromTier: ex.fromTier, errorPage: true,
		pageStatus: status, headOnly: ex.r.Method == http.MethodHead, viewerBeh: ex.beh}
	if c.ResponseCode != 0 {
		sub.pageStatus = c.ResponseCode
	}
	sub.beh = ex.dist.behaviorFor(path)
	var err error
	if sub.beh.bypass {
		err = p.pass(sub)
	} else {
		sub.setKey(p.cacheKey(sub))
		err = p.serveCached(sub)
	}
	if err != nil && !ex.w.wrote {
		p.log.Warn("custom error page unavailable", "stage", "errorpages", "page", path, "status", status, "err", err.Error())
		return false
	}
	ex.xcache, ex.status = sub.xcache, sub.status
	return true
}
