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

// fetched is what a fetch reports besides the body: the value of its
// cache.Flight.
type fetched struct {
	status int
	header http.Header
	// shareable reports whether requests other than the one that started
	// the fetch may use this response (it is storable: not private, no
	// Set-Cookie, no Vary *). Waiters that cannot use it fetch for themselves.
	shareable bool
	// request is the header of the request that started the fetch, for
	// Vary matching by waiters.
	request http.Header
	out     outcome // how it was had
}

// flight is a shared fetch (internal/cache collapses them).
type flight = cache.Flight[fetched]

// result is what a fetch publishes.
type result = cache.Result[fetched]

// serveCached answers a GET/HEAD (or cached OPTIONS) from the store, or
// through one shared fetch per key.
func (p *PoP) serveCached(ex *exchange) error {
	now := ex.start
	obj := p.store.Get(ex.key, func() http.Header { return p.fwdHeader(ex) })
	if obj != nil {
		switch {
		case obj.Fresh(now):
			defer obj.Body.Release() // a body read from disk is this request's
			return p.deliverObject(ex, obj, decHit)
		case obj.StaleWhileRevalidateOK(now):
			obj.Body.Share() // the revalidation may hand it to other viewers
			p.revalidateInBackground(ex, obj)
			return p.deliverObject(ex, obj, decStaleRevalidate)
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
	f, leader := p.flights.Join(ex.key, func(publish func(result), release func()) {
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
		f = cache.Start(func(publish func(result)) { p.fetch(fx, fwd, stale, publish, func() {}) })
		if late, err = p.waitFlight(ex, f, stale); err != nil {
			return errViewerGone
		}
		leader = true
	}
	if late {
		// The origin has not answered in time: the stale copy now, and the
		// fetch goes on for the next viewer.
		return p.deliverFlight(ex, &flight{Result: staleFlight(stale, 0, true)}, true)
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
func (p *PoP) waitFlight(ex *exchange, f *flight, stale *cache.Object) (late bool, err error) {
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

func usable(f *flight, fwd http.Header) bool {
	if f.Err != nil {
		return true // the error is shared: the origin is failing for everyone
	}
	if !f.Value.shareable {
		return false
	}
	if f.Object != nil && len(f.Object.VaryNames) > 0 {
		return cache.SameVariant(f.Object.VaryNames, f.Value.request, fwd)
	}
	return true
}

// revalidateInBackground refreshes a stale object served under
// stale-while-revalidate; concurrent requests share the one revalidation.
func (p *PoP) revalidateInBackground(ex *exchange, stale *cache.Object) {
	fwd := p.fwdHeader(ex)
	fx := ex.detach()
	f, _ := p.flights.Join(ex.key, func(publish func(result), release func()) {
		p.fetch(fx, fwd, stale, publish, release)
	})
	f.Done() // this request does not read the flight
}

// fetch is the body of a shared fetch. It runs detached from the viewer that
// started it (its own context and timeout), publishes the response as soon as
// headers are known, then streams the body into the Body every waiter
// follows, and stores the object when it is complete.
func (p *PoP) fetch(ex *exchange, fwd http.Header, stale *cache.Object, publish func(result), release func()) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ex.r.Context()), p.opts.FetchTimeout)
	defer cancel()
	beh, key := ex.beh, ex.key
	ctx, trace := origin.TraceUpstream(ctx, beh.timed()) // Server-Timing
	// Look again, inside the flight: between this request's lookup and its
	// joining, another flight for the key may have stored the object and
	// released the key (the interleaving groupcache's load guards against).
	if o := p.store.Get(key, func() http.Header { return fwd }); o != nil && o.Fresh(p.now()) {
		o.Body.Share()
		publish(result{Body: o.Body, Object: o,
			Value: fetched{status: o.Status, header: o.Header, shareable: true, request: fwd, out: outcome{kind: decHit}}})
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
	var out outcome // which upstream answered, which were skipped
	resp, err := p.fetchUpstream(ctx, ex, hdr, false, &out)
	via := out.up.via
	p.refreshed(ex, via) // unsafe.go
	if err == nil && via != "" && p.purgedSince(ex, resp.Header, originTime(true, resp.Header, reqTime, p.now())) {
		// The parent has not applied an invalidation this PoP has: its copy
		// is older than the purge. Ask the origin.
		resp.Body.Close()
		reqTime = p.now()
		out = outcome{}
		resp, err = p.fetchUpstream(ctx, ex, hdr, true, &out)
		via = out.up.via
	}
	if err != nil {
		// An origin that cannot be reached or times out: a stale copy is
		// served if its origin and the cache policy allow it (CloudFront
		// serves it), else the error goes to the viewer; the copy is kept.
		if stale != nil && stale.StaleIfErrorOK(p.now(), beh.staleIfError) {
			release() // a viewer arriving from now on asks the origin again
			publish(staleFlight(stale, 0, false))
			return
		}
		publish(result{Err: err})
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
		out.kind, out.status, out.fwdStatus, out.stored = decRefreshHit, stale.Status, resp.StatusCode, true
		out.up.parentHit, out.up.timing = via != "" && parentCacheHit(merged), trace.Result()
		publish(result{Body: stale.Body, Object: fresh, Value: fetched{status: stale.Status, header: merged,
			shareable: v.Store, request: fwd, out: out}})
		return
	}
	// An origin error (5xx) never replaces a stale copy: it is served in
	// the error's place when allowed, else the error passes, uncached.
	keepStale := resp.StatusCode >= 500 && stale != nil
	if keepStale && stale.StaleIfErrorOK(p.now(), beh.staleIfError) {
		release()
		publish(staleFlight(stale, resp.StatusCode, false))
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
	out.kind, out.status, out.fwdStatus, out.withStale = decMiss, resp.StatusCode, resp.StatusCode, stale != nil
	out.stored = obj != nil
	out.up.parentHit, out.up.timing = via != "" && parentCacheHit(h), trace.Result()
	if !v.Store {
		out.notStored = v.Reason
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
	publish(result{Body: body, Object: obj, Value: fetched{status: resp.StatusCode, header: h,
		shareable: shareable, request: fwd, out: out}})

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
// (fwdStatus is the origin's 5xx, or 0 when it gave no response; slow: it
// has not answered in time).
func staleFlight(o *cache.Object, fwdStatus int, slow bool) result {
	out := outcome{kind: decStaleIfError, status: o.Status, fwdStatus: fwdStatus, slow: slow}
	return result{Body: o.Body, Object: o,
		Value: fetched{status: o.Status, header: o.Header, shareable: true, out: out}}
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

func itoa(n int) string { return strconv.Itoa(n) }
