package pop

import (
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/origin"
)

// The outcome of a request: what was decided about its response (served
// from the cache, fetched, passed, refused…), with the details that go with
// the decision. It is set where the decision is made (the lookup, the fetch,
// pass, the error path, the redirect, the preflight) and read by one
// renderer: X-Cache, the Cache-Status entry (RFC 9211), Server-Timing and
// the log are written from it, never parsed back.

// decision is the kind of an outcome.
type decision uint8

const (
	decNone            decision = iota // nothing decided yet (no response was stamped)
	decHit                             // a fresh stored object
	decStaleRevalidate                 // a stale object under stale-while-revalidate; refreshed in the background
	decRefreshHit                      // a stale object the upstream confirmed (304)
	decStaleIfError                    // a stale object in place of a failing upstream
	decMiss                            // fetched (cacheable request)
	decPass                            // forwarded uncached (and WebSocket handshakes)
	decError                           // an error Strata rendered
	decRedirect                        // the viewer protocol policy's redirect
	decPreflight                       // a CORS preflight answered by the response headers policy
)

// outcome is the decision about a request and its details.
type outcome struct {
	kind decision
	// status is the status of the response as had (stored, fetched,
	// passed), before a custom error page replaces it.
	status int
	ttl    time.Duration // decHit: freshness left
	// fwdStatus is the upstream's status (0: it gave none).
	fwdStatus int
	// withStale: a decMiss that had a stale copy in hand (fwd=stale).
	withStale bool
	slow      bool   // decStaleIfError: the upstream was too slow, not failing
	parent    string // a parent tier that was skipped (down): its id
	failover  string // the origin group's secondary that was asked
	// notStored is why a fetched response was not stored (a cache.Verdict
	// reason); stored says it was (or is being) stored.
	notStored string
	stored    bool
	collapsed bool   // the response of a fetch another viewer started
	source    Source // decError: whose fault
	page      bool   // a custom error page in place of the response (errorpages.go)

	up upstream // kept when an error replaces the decision
}

// upstream is what Server-Timing says about the request upstream.
type upstream struct {
	via       string        // the parent tier that answered, "" for the origin
	parentHit bool          // it answered from its cache
	timing    origin.Timing // the upstream request, when measured
}

// decide records the decision about ex's response. A custom error page
// stays one: the page's own decision (a hit, a miss) is made inside it.
func (ex *exchange) decide(o outcome) {
	o.page = ex.out.page
	ex.out = o
}

// xcacheWord is an X-Cache value.
type xcacheWord uint8

const (
	xNone xcacheWord = iota
	xHit
	xMiss
	xRefreshHit
	xError
	xRedirect
)

// xcacheValues are the X-Cache header values, allocated once and shared
// (never modified).
var xcacheValues = [...][]string{
	xHit:        {"Hit from strata"},
	xMiss:       {"Miss from strata"},
	xRefreshHit: {"RefreshHit from strata"},
	xError:      {"Error from strata"},
	xRedirect:   {"Redirect from strata"},
}

// xcache is the X-Cache value of o in CloudFront's words; an error status
// is an "Error" whatever served it, except a stored one served fresh.
func (o *outcome) xcache() xcacheWord {
	if o.page {
		return xError // CloudFront's word for a custom error response
	}
	switch o.kind {
	case decNone:
		return xNone
	case decHit, decStaleRevalidate:
		return xHit
	case decRedirect:
		return xRedirect
	case decError:
		return xError
	case decPreflight:
		return xMiss
	}
	if o.status >= 400 {
		return xError
	}
	switch o.kind {
	case decRefreshHit:
		return xRefreshHit
	case decStaleIfError:
		return xHit
	}
	return xMiss
}

// xcacheString is the X-Cache value, "" when nothing was decided.
func (o *outcome) xcacheString() string {
	if v := xcacheValues[o.xcache()]; v != nil {
		return v[0]
	}
	return ""
}

// cacheStatus is the parameters of this PoP's Cache-Status entry (RFC 9211
// with Strata's details), "" for none.
func (o *outcome) cacheStatus() string {
	var b strings.Builder
	detail := func(d string) {
		b.WriteString("; detail=")
		b.WriteString(d)
	}
	fwdStatus := func() {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(o.fwdStatus))
	}
	switch o.kind {
	case decHit:
		b.WriteString("hit; ttl=")
		b.WriteString(strconv.FormatInt(int64(o.ttl/time.Second), 10))
	case decStaleRevalidate:
		b.WriteString("hit; fwd=stale")
	case decRefreshHit:
		b.WriteString("fwd=stale")
		fwdStatus()
	case decStaleIfError:
		b.WriteString("fwd=stale; ")
		if o.fwdStatus != 0 {
			b.WriteString("fwd-status=")
			b.WriteString(strconv.Itoa(o.fwdStatus))
			b.WriteString("; ")
		}
		b.WriteString("detail=stale-if-error")
		if o.slow {
			b.WriteString("; origin-slow")
		}
	case decMiss:
		if o.withStale {
			b.WriteString("fwd=stale")
		} else {
			b.WriteString("fwd=miss")
		}
		fwdStatus()
		switch {
		case o.parent != "" && o.failover != "":
			detail("parent-down-" + o.parent + ",failover-" + o.failover)
		case o.parent != "":
			detail("parent-down-" + o.parent)
		case o.failover != "":
			detail("failover-" + o.failover)
		}
		if o.notStored != "" {
			detail(o.notStored)
		}
	case decPass:
		b.WriteString("fwd=bypass")
		fwdStatus()
		if o.failover != "" {
			detail("failover-" + o.failover)
		}
	case decError:
		b.WriteString("fwd=uri-miss")
		detail(string(o.source) + "-error")
	case decPreflight:
		b.WriteString("detail=cors-preflight")
	}
	if o.stored {
		b.WriteString("; stored")
	}
	if o.collapsed {
		b.WriteString("; collapsed")
	}
	if o.page {
		detail("custom-error-page")
	}
	return b.String()
}

// timingResult is the cache result Server-Timing reports.
type timingResult uint8

const (
	timingNone timingResult = iota // no cache involved (a redirect, a preflight)
	timingHit
	timingRefresh
	timingParentHit
	timingMiss
)

func (o *outcome) timingResult() timingResult {
	x := o.xcache()
	switch {
	case o.kind == decPreflight || x == xRedirect:
		return timingNone
	case x == xHit:
		return timingHit
	case x == xRefreshHit:
		return timingRefresh
	case o.up.parentHit:
		return timingParentHit
	}
	return timingMiss
}
