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
//
// The page is had the way any request is (the cache path or pass), through
// a pageWriter in place of the viewer's writer: the path knows nothing of
// pages.

// errPageUnavailable ends a page fetch that did not give a 200.
var errPageUnavailable = errors.New("pop: custom error page unavailable")

// pageWriter is the writer a custom error page is served through, as
// Caddy's headers module wraps the response writer: it lets a 200 through
// with the page's status instead, refuses anything else (the header the
// page's response filled in is put back as it was, its body goes nowhere,
// and the original error can go out), and drops the body for a viewer's
// HEAD. Interim responses pass.
type pageWriter struct {
	w       *responseWriter // the viewer's
	status  int             // the status the page goes out with
	head    bool            // the viewer asked with HEAD
	saved   http.Header     // the header before the page (for a refusal)
	wrote   bool
	refused bool
}

func (pw *pageWriter) Header() http.Header { return pw.w.Header() }

func (pw *pageWriter) WriteHeader(code int) {
	switch {
	case code < http.StatusOK:
		pw.w.WriteHeader(code)
	case pw.wrote || pw.refused:
	case code != http.StatusOK:
		pw.refused = true
		h := pw.w.Header()
		clear(h)
		for k, vv := range pw.saved {
			h[k] = vv
		}
	default:
		pw.wrote = true
		pw.w.WriteHeader(pw.status)
	}
}

func (pw *pageWriter) Write(b []byte) (int, error) {
	if !pw.wrote && !pw.refused {
		pw.WriteHeader(http.StatusOK)
	}
	switch {
	case pw.refused:
		return 0, errPageUnavailable
	case pw.head:
		return len(b), nil
	}
	return pw.w.Write(b)
}

func (pw *pageWriter) Flush() {
	if pw.wrote && !pw.head {
		pw.w.Flush()
	}
}

// Rewind takes the page back when none of it reached the viewer
// (responseWriter.rewind).
func (pw *pageWriter) Rewind() bool {
	if !pw.wrote || !pw.w.rewind() {
		return false
	}
	pw.wrote = false
	return true
}

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
	if ex.fromTier || ex.w == nil || ex.w.wrote {
		return false
	}
	if _, page := ex.w.ResponseWriter.(*pageWriter); page {
		return false // the page's own error: the original one goes out
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
	pw := &pageWriter{w: ex.w, status: status, head: ex.r.Method == http.MethodHead, saved: ex.w.Header().Clone()}
	if c.ResponseCode != 0 {
		pw.status = c.ResponseCode
	}
	sub := &exchange{r: pr, id: ex.id, start: ex.start, scheme: ex.scheme, client: ex.client,
		host: ex.host, path: path, snap: ex.snap, dist: ex.dist, fromTier: ex.fromTier,
		out: outcome{page: true}, viewerBeh: ex.beh}
	sub.rw = responseWriter{ResponseWriter: pw}
	sub.w = &sub.rw
	sub.beh = ex.dist.behaviorFor(path)
	var err error
	if sub.beh.bypass {
		err = p.pass(sub)
	} else {
		sub.setKey(p.cacheKey(sub))
		err = p.serveCached(sub)
	}
	if pw.refused {
		err = errPageUnavailable
	}
	if pw.refused || err != nil && !ex.w.wrote {
		p.log.Warn("custom error page unavailable", "stage", "errorpages", "page", path, "status", status, "err", err.Error())
		return false
	}
	ex.out = sub.out
	return true
}
