package pop

import (
	"io"
	"net/http"

	"github.com/strata-cdn/strata/internal/origin"
)

// pass forwards a request that is not cached (stage 14 without the cache):
// the body streams to the origin, the response streams back, and a successful
// unsafe request invalidates what is stored for its URI (RFC 9111 4.4).
func (p *PoP) pass(ex *exchange) error {
	var body io.Reader
	switch ex.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		// A GET body has no defined meaning; it is not forwarded.
		if ex.r.Method == http.MethodOptions && ex.r.ContentLength != 0 {
			body = ex.r.Body
		}
	default:
		if ex.r.ContentLength != 0 {
			body = ex.r.Body
		}
	}
	var vb *viewerBody // upload.go
	if body != nil {
		vb = p.newViewerBody(ex, body)
		defer vb.close() // also when a copy panics (ErrAbortHandler)
		var err error
		if body, err = p.bufferSmallBody(ex, vb); err != nil { // shield.go
			return err
		}
	}
	h := p.forwardHeader(ex, true)
	ctx, trace := origin.TraceUpstream(ex.r.Context(), ex.beh.timed()) // Server-Timing
	ctx = forwardInterim(ctx, ex)                                      // 1xx from the origin (interim.go)
	resp, failover, err := p.doOrigin(ex, func() *http.Request {
		return p.newOriginRequest(ctx, ex, ex.r.Method, h.Clone(), body)
	})
	ex.out.up.timing = trace.Result() // for Server-Timing, also on an error
	if err != nil {
		if err := vb.failure(ex.r.Context()); err != nil {
			return err // the viewer's body failed, not the origin
		}
		if ex.r.Context().Err() != nil {
			return errViewerGone
		}
		return originFailure(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return p.tunnel(ex, resp, failover) // websocket.go
	}
	defer resp.Body.Close()
	if !isSafe(ex.r.Method) && resp.StatusCode < 400 {
		p.invalidateURI(ex, resp.Header)
	}
	if resp.StatusCode >= 400 && p.serveErrorPage(ex, resp.StatusCode) {
		return nil
	}
	out := ex.w.Header()
	for k, vv := range cleanResponseHeader(resp.Header) {
		out[k] = vv
	}
	if !ex.fromTier {
		delete(out, strataTargeted) // for Strata's tiers only (deliver.go)
	}
	src := compressPassed(ex, resp, out) // compress.go: may rewrite out and compress the body
	ex.decide(outcome{kind: decPass, status: resp.StatusCode, fwdStatus: resp.StatusCode, failover: failover, up: ex.out.up})
	p.stampHeaders(ex, out)
	ex.w.WriteHeader(resp.StatusCode)
	if ex.r.Method == http.MethodHead {
		return nil
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := ex.w.Write(buf[:n]); werr != nil {
				return errViewerGone
			}
			ex.w.Flush()
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			// Headers are out: the only honest signal is an aborted response.
			ex.err = rerr
			panic(http.ErrAbortHandler)
		}
	}
}

func isSafe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// invalidateURI drops the stored GET/HEAD response for the request's URI and
// for same-host Location / Content-Location (RFC 9111 4.4).
func (p *PoP) invalidateURI(ex *exchange, resp http.Header) {
	key := p.cacheKey(ex)
	p.deleteEncodings(key)
	p.rememberUnsafe(ex, key) // for the parent tiers (unsafe.go)
	for _, f := range []string{"Location", "Content-Location"} {
		loc := resp.Get(f)
		if loc == "" {
			continue
		}
		u, err := ex.r.URL.Parse(loc)
		if err != nil || (u.Host != "" && normalizeHost(u.Host) != ex.host) {
			continue
		}
		path, ok := cleanPath(u.EscapedPath())
		if !ok {
			continue
		}
		sub := *ex
		r2 := ex.r.Clone(ex.r.Context())
		r2.URL = u
		sub.r, sub.path = r2, path
		sub.beh = ex.dist.behaviorFor(path)
		key := p.cacheKey(&sub)
		p.deleteEncodings(key)
		p.rememberUnsafe(&sub, key)
	}
}

// cleanResponseHeader copies an origin response header without hop-by-hop
// fields (and those its Connection lists).
func cleanResponseHeader(in http.Header) http.Header {
	listed := connectionListed(in)
	out := make(http.Header, len(in))
	for k, vv := range in {
		if hopByHop[k] || listed[k] {
			continue
		}
		out[k] = vv
	}
	return out
}
