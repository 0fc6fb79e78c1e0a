package pop

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
)

// toViewerSkip are stored fields that never go to viewers. Strata's own
// targeted field is for Strata's tiers only; CDN-Cache-Control, which Strata
// obeys too, goes on to viewers as RFC 9213 section 3 expects of a CDN (a
// CDN downstream may use it; browsers ignore it).
var toViewerSkip = map[string]bool{strataTargeted: true, "Age": true}

// strataTargeted is Strata's own targeted cache-control field (RFC 9213).
const strataTargeted = "Strata-Cdn-Cache-Control"

// deliverObject serves a stored object: a hit, or a stale one under
// stale-while-revalidate.
func (p *PoP) deliverObject(ex *exchange, o *cache.Object, kind decision) error {
	age := o.Age(ex.start)
	out := outcome{kind: kind, status: o.Status}
	if kind == decHit {
		out.ttl = o.TTL(ex.start)
	}
	ex.decide(out)
	return p.deliver(ex, o.Status, o.Header, o.Body, age, p.popValue)
}

// deliverFlight serves the result of a shared fetch.
func (p *PoP) deliverFlight(ex *exchange, fl *flight, leader bool) error {
	if fl.Err != nil {
		return originFailure(fl.Err)
	}
	f := &fl.Value
	if f.out.kind == decHit { // the flight found the object stored after all
		return p.deliverObject(ex, fl.Object, decHit)
	}
	out := f.out
	out.collapsed = !leader
	ex.decide(out)
	var age time.Duration
	if fl.Object != nil {
		age = fl.Object.Age(p.now())
	}
	servedBy := originValue
	switch {
	case out.up.via != "":
		if v := f.header[servedByHeader]; len(v) > 0 {
			servedBy = v
		}
	case out.kind == decStaleIfError: // a stale copy in place of a fetch
		servedBy = p.popValue
	}
	hdr := f.header
	if !leader && fl.Object != nil {
		// Served to another viewer as it is stored: without the fields a
		// qualified no-cache or private leaves to the first response only
		// (RFC 9111 5.2.2.4, 5.2.2.7).
		hdr = fl.Object.Header
	}
	return p.deliver(ex, f.status, hdr, fl.Body, age, servedBy)
}

// deliver writes a response from stored or streaming parts, answering range
// and conditional requests from the object when it is a complete 200. Its
// outcome was decided by the caller.
func (p *PoP) deliver(ex *exchange, status int, stored http.Header, body *cache.Body, age time.Duration, servedBy []string) error {
	if status >= 400 && p.serveErrorPage(ex, status) {
		return nil
	}
	h := ex.w.Header()
	for k, vv := range stored {
		// A child tier gets the targeted fields: they are for every cache.
		if !toViewerSkip[k] || (ex.fromTier && k != "Age") {
			h[k] = vv
		}
	}
	h[servedByHeader] = servedBy
	if ex.fromTier {
		h[originTimeHeader] = []string{strconv.FormatInt(p.now().Add(-age).UnixMilli(), 10)}
	} else {
		delete(h, originTimeHeader)
	}
	h["Age"] = []string{strconv.Itoa(int(age / time.Second))}
	p.stampHeaders(ex, h)
	r := ex.r
	if status == http.StatusOK && !body.Complete() && len(r.Header["Range"]) == 1 && !hasConditionals(r) {
		// A single range of an object still arriving (a video's first
		// seconds): answered as soon as those bytes are in, not after the
		// whole object.
		if size, err := strconv.ParseInt(stored.Get("Content-Length"), 10, 64); err == nil {
			if start, end, ok := singleRange(r.Header.Get("Range"), size); ok {
				delete(h, "Content-Length")
				h["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10) + "/" + strconv.FormatInt(size, 10)}
				h["Content-Length"] = []string{strconv.FormatInt(end-start+1, 10)}
				ex.w.WriteHeader(http.StatusPartialContent)
				if r.Method == http.MethodHead {
					return nil
				}
				if _, err := body.WriteTo(r.Context(), &limitWriter{w: ex.w, n: end - start + 1}, start); err != nil && !errors.Is(err, errLimitReached) {
					if errors.Is(err, cache.ErrIncomplete) {
						panic(http.ErrAbortHandler)
					}
					return errViewerGone
				}
				return nil
			}
		}
	}
	if status == http.StatusOK && needsServeContent(r) {
		if err := body.Wait(r.Context()); err != nil {
			if errors.Is(err, cache.ErrIncomplete) {
				return originFailure(err)
			}
			return errViewerGone
		}
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // no sniffing
		}
		var mod time.Time
		if lm, err := http.ParseTime(stored.Get("Last-Modified")); err == nil {
			mod = lm
		}
		delete(h, "Content-Length")
		http.ServeContent(ex.w, r, "", mod, body.Reader())
		return nil
	}
	if r.Method == http.MethodHead && !body.Complete() {
		// A HEAD on a miss waits for the object: it then has its length,
		// and the next request finds it stored.
		if err := body.Wait(r.Context()); err != nil {
			if errors.Is(err, cache.ErrIncomplete) {
				return originFailure(err)
			}
			return errViewerGone
		}
	}
	if body.Complete() {
		h["Content-Length"] = []string{strconv.FormatInt(body.Size(), 10)}
	}
	ex.w.WriteHeader(status)
	if r.Method == http.MethodHead || status == http.StatusNotModified || status == http.StatusNoContent {
		return nil
	}
	if _, err := body.WriteTo(r.Context(), ex.w.bodyWriter(ex.r.TLS != nil), 0); err != nil {
		if errors.Is(err, cache.ErrIncomplete) {
			if ex.w.rewind() {
				return originFailure(err) // nothing went out yet: a clean 502
			}
			ex.err = err
			panic(http.ErrAbortHandler) // never present a truncated body as complete
		}
		return errViewerGone
	}
	return nil
}

func hasConditionals(r *http.Request) bool {
	h := r.Header
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0 || len(h["If-Match"]) > 0 ||
		len(h["If-Unmodified-Since"]) > 0 || len(h["If-Range"]) > 0
}

// singleRange parses "bytes=a-b", "bytes=a-" or "bytes=-n" against size;
// ok is false for anything else (multiple ranges, unsatisfiable): those wait
// for the whole object and go through http.ServeContent.
func singleRange(v string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") || size <= 0 {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end = size - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, 0, false
		}
		end = min(end, size-1)
	}
	return start, end, true
}

var errLimitReached = errors.New("pop: range written")

// limitWriter passes n bytes on, then stops the copy.
type limitWriter struct {
	w http.ResponseWriter
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	m, err := l.w.Write(p)
	l.n -= int64(m)
	if err == nil && l.n == 0 {
		return m, errLimitReached
	}
	return m, err
}

func (l *limitWriter) Flush() {
	if f, ok := l.w.(http.Flusher); ok {
		f.Flush()
	}
}

func needsServeContent(r *http.Request) bool {
	h := r.Header
	return len(h["Range"]) > 0 || len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0 ||
		len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
}

// originValue is the X-Strata-Served-By value of a response from the origin.
var originValue = []string{"origin"}

// stampHeaders renders ex's outcome (outcome.go) into X-Cache and
// Cache-Status, adds Via and X-Strata-Pop, then applies the response
// headers policy (and Server-Timing, from the same outcome).
func (p *PoP) stampHeaders(ex *exchange, h http.Header) {
	if v := xcacheValues[ex.out.xcache()]; v != nil {
		h["X-Cache"] = v // shared, never modified
	}
	if via := h["Via"]; len(via) > 0 {
		h["Via"] = append(via[:len(via):len(via)], p.via)
	} else {
		h["Via"] = p.viaValue
	}
	h["X-Strata-Pop"] = p.popValue
	h["X-Strata-Request-Id"] = []string{ex.id}
	entry := p.statusID
	if cs := ex.out.cacheStatus(); cs != "" {
		entry += "; " + cs
	}
	if cs := h["Cache-Status"]; len(cs) > 0 {
		h["Cache-Status"] = append(cs[:len(cs):len(cs)], entry)
	} else {
		h["Cache-Status"] = []string{entry}
	}
	// Alt-Svc speaks for the authority of the connection: the origin's is
	// about the origin, never passed on; this PoP advertises its HTTP/3.
	if !ex.fromTier {
		if alt := p.altSvcFor(ex); alt != nil {
			h["Alt-Svc"] = alt
		} else {
			delete(h, "Alt-Svc")
		}
	}
	p.applyResponsePolicy(ex, h)
}
