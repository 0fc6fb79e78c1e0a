package pop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/origin"
)

// Stages 12–14: cache lookup, collapsing, and the fetch.

// serveCached answers a GET/HEAD (or cached OPTIONS) from the store, or
// through one shared fetch per key.
func (p *PoP) serveCached(ex *exchange) error {
	now := ex.start
	obj := p.store.Get(ex.key, func() http.Header { return p.fwdHeader(ex) })
	if obj != nil {
		switch {
		case obj.Fresh(now):
			defer obj.Body.Release() // a body read from disk is this request's
			return p.deliverObject(ex, obj, "Hit from strata", "hit")
		case obj.StaleWhileRevalidateOK(now):
			obj.Body.Share() // the revalidation may hand it to other viewers
			p.revalidateInBackground(ex, obj)
			return p.deliverObject(ex, obj, "Hit from strata", "hit; fwd=stale")
		}
		obj.Body.Share()
	}
	return p.fetchShared(ex, obj)
}

func (p *PoP) fwdHeader(ex *exchange) http.Header {
	if ex.fwd == nil {
		ex.fwd = p.forwardHeader(ex, false)
	}
	return ex.fwd
}

// fetchShared joins (or starts) the flight for the key and serves its result.
func (p *PoP) fetchShared(ex *exchange, stale *cache.Object) error {
	fwd := p.fwdHeader(ex)
	fx := ex.detach()
	hints := &interimSink{w: ex.w} // 1xx for this viewer if it leads the fetch (interim.go)
	fx.r = ex.r.WithContext(hints.trace(ex.r.Context()))
	f, leader := p.flights.JoinRelease(ex.key, func(publish func(*cache.Flight), release func()) {
		p.fetch(fx, fwd, stale, publish, release)
	})
	defer func() { f.Done() }() // the flight this request ends up using
	late, err := p.waitFlight(ex, f, stale)
	hints.close()
	if err != nil {
		return errViewerGone
	}
	if !late && !leader && !usable(f, fwd) {
		// Another viewer's response that we may not use (private, cookies,
		// another variant): fetch for ourselves, uncollapsed.
		f.Done()
		f = cache.Start(func(publish func(*cache.Flight)) { p.fetch(fx, fwd, stale, publish, func() {}) })
		if late, err = p.waitFlight(ex, f, stale); err != nil {
			return errViewerGone
		}
		leader = true
	}
	if late {
		// The origin has not answered in time: the stale copy now, and the
		// fetch goes on for the next viewer.
		return p.deliverFlight(ex, staleFlight(stale, 0, "stale-if-error; origin-slow"), true)
	}
	return p.deliverFlight(ex, f, leader)
}

// waitFlight waits for the result of f. When a stale copy may be served on
// an origin error, the wait is bounded by the target origin's connection
// timeout, counted from the start of the fetch: an origin (or a path to it)
// that hangs that long is treated as failing, and late reports that the
// viewer should get the stale copy while the fetch goes on in the
// background (CloudFront waits for its full origin timeout; a viewer should
// not, when a copy is at hand).
func (p *PoP) waitFlight(ex *exchange, f *cache.Flight, stale *cache.Object) (late bool, err error) {
	ctx := ex.r.Context()
	if stale == nil || !stale.StaleIfErrorOK(p.now(), ex.beh.staleIfError) {
		return false, f.Wait(ctx)
	}
	wait := ex.beh.target.ConnectionTimeout() - time.Since(f.Started())
	select {
	case <-f.Ready():
		return false, nil
	default:
	}
	if wait <= 0 {
		return true, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-f.Ready():
		return false, nil
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func usable(f *cache.Flight, fwd http.Header) bool {
	if f.Err != nil {
		return true // the error is shared: the origin is failing for everyone
	}
	if !f.Shareable {
		return false
	}
	if f.Object != nil && len(f.Object.VaryNames) > 0 {
		return cache.SameVariant(f.Object.VaryNames, f.Request, fwd)
	}
	return true
}

// revalidateInBackground refreshes a stale object served under
// stale-while-revalidate; concurrent requests share the one revalidation.
func (p *PoP) revalidateInBackground(ex *exchange, stale *cache.Object) {
	fwd := p.fwdHeader(ex)
	fx := ex.detach()
	f, _ := p.flights.JoinRelease(ex.key, func(publish func(*cache.Flight), release func()) {
		p.fetch(fx, fwd, stale, publish, release)
	})
	f.Done() // this request does not read the flight
}

// fetch is the body of a shared fetch. It runs detached from the viewer that
// started it (its own context and timeout), publishes the response as soon as
// headers are known, then streams the body into the Body every waiter
// follows, and stores the object when it is complete.
func (p *PoP) fetch(ex *exchange, fwd http.Header, stale *cache.Object, publish func(*cache.Flight), release func()) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ex.r.Context()), p.opts.FetchTimeout)
	defer cancel()
	beh, key := ex.beh, ex.key
	ctx, trace := origin.TraceUpstream(ctx, beh.timed()) // Server-Timing
	// Look again, inside the flight: between this request's lookup and its
	// joining, another flight for the key may have stored the object and
	// released the key (the interleaving groupcache's load guards against).
	if o := p.store.Get(key, func() http.Header { return fwd }); o != nil && o.Fresh(p.now()) {
		o.Body.Share()
		publish(&cache.Flight{Status: o.Status, Header: o.Header, Body: o.Body, Shareable: true,
			Object: o, Request: fwd, Info: "hit"})
		return
	}
	hdr := fwd.Clone()
	if stale != nil {
		if etag, lm := stale.Validators(); etag != "" || lm != "" {
			if etag != "" {
				hdr.Set("If-None-Match", etag)
			}
			if lm != "" {
				hdr.Set("If-Modified-Since", lm)
			}
		}
	}
	reqTime := p.now()
	resp, via, skipped, err := p.fetchUpstream(ctx, ex, hdr, false)
	p.refreshed(ex, via) // unsafe.go
	if err == nil && via != "" && p.purgedSince(ex, resp.Header, originTime(true, resp.Header, reqTime, p.now())) {
		// The parent has not applied an invalidation this PoP has: its copy
		// is older than the purge. Ask the origin.
		resp.Body.Close()
		reqTime = p.now()
		resp, via, skipped, err = p.fetchUpstream(ctx, ex, hdr, true)
	}
	if err != nil {
		// An origin that cannot be reached or times out: a stale copy is
		// served if its origin and the cache policy allow it (CloudFront
		// serves it), else the error goes to the viewer; the copy is kept.
		if stale != nil && stale.StaleIfErrorOK(p.now(), beh.staleIfError) {
			release() // a viewer arriving from now on asks the origin again
			publish(staleFlight(stale, 0, "stale-if-error"))
			return
		}
		publish(&cache.Flight{Err: err})
		return
	}
	defer resp.Body.Close()
	respTime := p.now()
	h := cleanResponseHeader(resp.Header)

	if resp.StatusCode == http.StatusNotModified && stale != nil {
		merged := cache.MergeHeaders(stale.Header, h)
		keepEncodedHeaders(ex, stale.Header, merged)
		v := cache.Evaluate(hdr, stale.Status, merged, beh.ttls, respTime, -1)
		fresh := stale.Refreshed(merged, h, reqTime, respTime, v)
		fresh.VaryNames = keyedVary(ex, fresh.VaryNames)
		if v.Store {
			p.store.Refresh(key, fwd, fresh)
			if !fresh.Body.OnDisk() {
				release()
			}
		} else {
			p.store.Delete(key)
		}
		publish(&cache.Flight{Status: stale.Status, Header: merged, Body: stale.Body,
			Shareable: v.Store, Object: fresh, Request: fwd, Info: "fwd=stale; fwd-status=304", Upstream: via, Timing: trace.Result()})
		return
	}
	// An origin error (5xx) never replaces a stale copy: it is served in
	// the error's place when allowed, else the error passes, uncached.
	keepStale := resp.StatusCode >= 500 && stale != nil
	if keepStale && stale.StaleIfErrorOK(p.now(), beh.staleIfError) {
		release()
		publish(staleFlight(stale, resp.StatusCode, "stale-if-error"))
		return
	}

	v := cache.Evaluate(hdr, resp.StatusCode, h, beh.ttls, respTime, errorTTL(ex.dist, resp.StatusCode))
	if keepStale && v.Store {
		v = cache.Verdict{Reason: "status"}
	}
	// Compression (compress.go) may rewrite h and give the body to store
	// instead of the origin's, of unknown length.
	src, length := p.compressFetched(ex, fwd, resp, h)
	body := cache.NewBody()
	body.LimitMemory(p.opts.BodyBudget, p.opts.SpillDir)
	switch {
	case length > p.opts.MaxObjectSize:
		// Never kept in memory: streamed through a file from the first
		// byte, so that the viewers following it (and those who join
		// late) cost no memory.
		body.SpillAfter(0, p.opts.SpillDir)
	case length > 0:
		body.Grow(length) // one chunk: a hit is one write
	default:
		// Unknown length: in memory as long as it may still be stored there.
		body.SpillAfter(p.opts.MaxObjectSize, p.opts.SpillDir)
	}
	var obj *cache.Object
	store := v.Store && length <= p.opts.MaxObjectSize // in memory
	if v.Store {
		obj = cache.NewObject(resp.StatusCode, h, body, reqTime, respTime, v)
		obj.VaryNames = keyedVary(ex, obj.VaryNames)
	}
	fwdKind := "miss"
	if stale != nil {
		fwdKind = "stale"
	}
	info := "fwd=" + fwdKind + "; fwd-status=" + itoa(resp.StatusCode)
	if skipped != "" {
		info += "; detail=" + skipped
	}
	if !v.Store {
		if v.Reason != "" {
			info += "; detail=" + v.Reason
		}
		// The new response replaces the stale one, unless it is an error
		// or a parent's own stale copy (no better than this one).
		if stale != nil && !keepStale && !(via != "" && v.Reason == "stale on arrival") {
			p.store.Delete(key)
		}
	}
	// A response that is not stored may still go to the waiters, unless it
	// has fields only the viewer who asked may see (qualified no-cache or
	// private); a stored one goes to them as stored, without those fields.
	shareable := v.Store || (v.Reason == "status" && len(v.StripFields) == 0)
	publish(&cache.Flight{Status: resp.StatusCode, Header: h, Body: body,
		Shareable: shareable, Object: obj, Request: fwd, Info: info, Upstream: via, Timing: trace.Result()})

	var dw *cache.DiskWrite
	if obj != nil {
		dw = p.store.BeginDisk(key, fwd, obj, length)
	}
	// finalize stores the object once its body is known complete: just
	// before its last bytes become visible when the length is declared (a
	// viewer who has seen every byte finds it stored), else at EOF.
	finalized := false
	finalize := func() {
		finalized = true
		if obj != nil && p.purgedSince(ex, h, originTime(via != "", resp.Header, reqTime, respTime)) {
			store = false // invalidated while it was in flight: serve it, keep nothing
			dw.Finish(errPurged)
		}
		if store && body.Size() <= p.opts.MaxObjectSize && body.HeldInMemory(max(length, body.Size())) {
			p.store.Put(key, fwd, obj)
			release() // from now on the store answers
		}
	}
	want := int64(-1)
	if obj != nil {
		want = length
	}
	n, err := copyBody(body, dw, src, p.opts.MaxObjectSize, &store, want, finalize)
	if serr := body.SpillErr(); serr != nil && p.spillWarned.CompareAndSwap(false, true) {
		p.log.Warn("large body held in memory: no spill file (logged once)", "stage", "fetch",
			"key", key, "dir", p.opts.SpillDir, "err", serr)
	}
	if err != nil {
		if finalized {
			p.store.Delete(key) // stored just before a failure: take it back
		}
		release() // a viewer who sees the failure and asks again starts a new fetch
		body.Finish(err)
		dw.Finish(err)
		p.log.Warn("fetch body failed", "key", key, "bytes", n, "err", err)
		return
	}
	if !finalized {
		finalize()
	}
	body.Finish(nil)
	dw.Finish(nil)
}

var errPurged = errors.New("pop: invalidated while in flight")

// staleFlight serves the stale copy o in place of an origin's failure
// (fwdStatus is the origin's 5xx, or 0 when it gave no response).
func staleFlight(o *cache.Object, fwdStatus int, why string) *cache.Flight {
	info := "fwd=stale; "
	if fwdStatus != 0 {
		info += "fwd-status=" + itoa(fwdStatus) + "; "
	}
	return &cache.Flight{Status: o.Status, Header: o.Header, Body: o.Body, Shareable: true,
		Object: o, Info: info + "detail=" + why}
}

// copyBody streams src into body and the disk tier; past limit bytes the
// object is no longer stored in memory (it keeps streaming to the viewers,
// through the body's spill file, and to disk). An error is the origin's or
// the body's. When want (the declared length) is known, beforeLast runs
// just before the bytes that complete it are written.
func copyBody(body *cache.Body, dw *cache.DiskWrite, src io.Reader, limit int64, store *bool, want int64, beforeLast func()) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if n+int64(m) > limit {
				*store = false
			}
			if want >= 0 && n+int64(m) == want && beforeLast != nil {
				dw.Write(buf[:m]) // the disk copy first: Put must not race its commit
				beforeLast()
				beforeLast = nil
				if _, err := body.Write(buf[:m]); err != nil {
					return n, err
				}
				n += int64(m)
				continue
			}
			if _, err := body.Write(buf[:m]); err != nil {
				return n, err // a spill file that can't be written (disk full)
			}
			dw.Write(buf[:m])
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// newOriginRequest builds the origin request for ex with the given header.
func (p *PoP) newOriginRequest(ctx context.Context, ex *exchange, method string, h http.Header, body io.Reader) *http.Request {
	u := &url.URL{Path: unescapePath(ex.path), RawPath: ex.path, RawQuery: ex.query}
	req := (&http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       ex.r.Host,
	}).WithContext(ctx)
	if body != nil {
		req.Body = io.NopCloser(body)
		req.ContentLength = ex.r.ContentLength
		if req.ContentLength == 0 {
			req.ContentLength = -1
		}
	}
	return req
}

func unescapePath(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

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
	ex.timing = trace.Result()
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
	if ex.errorPage && resp.StatusCode != http.StatusOK {
		return errPageUnavailable
	}
	if resp.StatusCode >= 400 && p.serveErrorPage(ex, resp.StatusCode) {
		return nil
	}
	status := resp.StatusCode
	if ex.errorPage {
		status = ex.pageStatus
	}
	out := ex.w.Header()
	for k, vv := range cleanResponseHeader(resp.Header) {
		out[k] = vv
	}
	if !ex.fromTier {
		delete(out, strataTargeted) // for Strata's tiers only (deliver.go)
	}
	src := compressPassed(ex, resp, out) // compress.go: may rewrite out and compress the body
	xc := "Miss from strata"
	if resp.StatusCode >= 400 {
		xc = "Error from strata"
	}
	cs := "fwd=bypass; fwd-status=" + itoa(resp.StatusCode)
	if failover != "" {
		cs += "; detail=failover-" + failover
	}
	p.stampHeaders(ex, out, xc, cs)
	ex.w.WriteHeader(status)
	if ex.r.Method == http.MethodHead || ex.headOnly {
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

func originFailure(err error) *Error {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e // refused before the origin (shield.go)
	}
	var oe *origin.Error
	e := &Error{Status: http.StatusBadGateway, Source: FromOrigin, Retry: true, Reason: "origin unreachable", Err: err}
	if errors.As(err, &oe) {
		switch {
		case oe.Timeout:
			e.Status, e.Reason = http.StatusGatewayTimeout, "origin timed out"
		case oe.Connect:
			e.Reason = "origin connection failed"
		case errors.Is(err, origin.ErrTransferCoding):
			e.Reason = "origin used a transfer coding other than chunked"
		default:
			e.Reason = "origin request failed"
		}
	} else if errors.Is(err, context.DeadlineExceeded) {
		e.Status, e.Reason = http.StatusGatewayTimeout, "origin timed out"
	}
	return e
}

func itoa(n int) string { return strconv.Itoa(n) }
