package cache

import (
	"net/http"
	"time"
)

// Object is a stored response. Once in the store it is never mutated: a
// revalidation that updates headers stores a new Object sharing the Body.
type Object struct {
	Status int
	Header http.Header // stored header fields (no hop-by-hop, no Age)
	Body   *Body

	RequestTime  time.Time     // when the fetch that produced it started
	ResponseTime time.Time     // when its headers arrived
	InitialAge   time.Duration // corrected initial age (RFC 9111 4.2.3)
	Lifetime     time.Duration // freshness lifetime after the TTL clamp

	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration // -1: the origin sent no stale-if-error
	MustRevalidate       bool          // also set for no-cache: never served stale

	VaryNames []string // canonical names from Vary; nil when it does not vary
}

// NewObject builds an object from a verdict. The stored header is h without
// Age and without the fields a qualified no-cache or private names (RFC 9111
// 5.2.2.4, 5.2.2.7): when there are such fields it is a copy, and h, the
// response the fetch forwards to the viewer that asked, keeps them.
func NewObject(status int, h http.Header, body *Body, reqTime, respTime time.Time, v Verdict) *Object {
	h = storedHeader(h, v)
	o := &Object{
		Status:               status,
		Header:               h,
		Body:                 body,
		RequestTime:          reqTime,
		ResponseTime:         respTime,
		InitialAge:           InitialAge(h, reqTime, respTime),
		Lifetime:             v.Lifetime,
		StaleWhileRevalidate: v.StaleWhileRevalidate,
		StaleIfError:         v.StaleIfError,
		MustRevalidate:       v.MustRevalidate || v.NoCache,
		VaryNames:            VaryNames(h),
	}
	h.Del("Age")
	return o
}

// storedHeader is h, or a copy of it without the fields v strips when it
// names any that h has.
func storedHeader(h http.Header, v Verdict) http.Header {
	for _, f := range v.StripFields {
		if _, ok := h[f]; ok {
			h = h.Clone()
			for _, f := range v.StripFields {
				delete(h, f)
			}
			return h
		}
	}
	return h
}

// Age is the object's current age (RFC 9111 4.2.3).
func (o *Object) Age(now time.Time) time.Duration {
	return o.InitialAge + max(now.Sub(o.ResponseTime), 0)
}

// TTL is the remaining freshness; negative when stale.
func (o *Object) TTL(now time.Time) time.Duration { return o.Lifetime - o.Age(now) }

// Fresh reports whether the object may be served without revalidation.
func (o *Object) Fresh(now time.Time) bool { return o.TTL(now) > 0 }

// StaleWhileRevalidateOK: stale but still inside its stale-while-revalidate window.
func (o *Object) StaleWhileRevalidateOK(now time.Time) bool {
	return !o.MustRevalidate && o.StaleWhileRevalidate > 0 && -o.TTL(now) <= o.StaleWhileRevalidate
}

// StaleIfErrorOK reports whether o, stale, may be served when the origin
// fails (cannot be reached, times out, or answers 5xx): for as long after it
// expired as the origin's stale-if-error says, or, when the origin said
// nothing, as dflt says (negative: without limit, as CloudFront). A
// stale-if-error=0 from the origin, must-revalidate or no-cache forbid it.
func (o *Object) StaleIfErrorOK(now time.Time, dflt time.Duration) bool {
	if o.MustRevalidate {
		return false
	}
	window := o.StaleIfError
	if window < 0 {
		window = dflt
	}
	return window < 0 || window > 0 && -o.TTL(now) <= window
}

// Validators returns the conditional request headers for revalidating o.
func (o *Object) Validators() (etag, lastModified string) {
	return o.Header.Get("Etag"), o.Header.Get("Last-Modified")
}

// MergeHeaders returns the stored header updated by a 304 response (RFC 9111
// 3.2): the 304's fields replace the stored ones, except framing fields.
func MergeHeaders(stored, h304 http.Header) http.Header {
	h := stored.Clone()
	for k, vv := range h304 {
		switch k {
		case "Content-Length", "Content-Range", "Transfer-Encoding":
			continue
		}
		h[k] = vv
	}
	return h
}

// Refreshed returns a copy of o with the merged header of a 304 response and
// freshness restarting from it (RFC 9111 4.3.4). The body is shared. As in
// NewObject, merged itself keeps the fields a qualified no-cache or private
// names; the stored copy does not.
func (o *Object) Refreshed(merged, h304 http.Header, reqTime, respTime time.Time, v Verdict) *Object {
	merged = storedHeader(merged, v)
	n := *o
	n.Header = merged
	n.RequestTime, n.ResponseTime = reqTime, respTime
	n.InitialAge = InitialAge(h304, reqTime, respTime)
	n.Lifetime = v.Lifetime
	n.StaleWhileRevalidate, n.StaleIfError = v.StaleWhileRevalidate, v.StaleIfError
	n.MustRevalidate = v.MustRevalidate || v.NoCache
	n.VaryNames = VaryNames(merged)
	merged.Del("Age")
	return &n
}

// VaryNames lists the canonical field names of the Vary header.
func VaryNames(h http.Header) []string {
	var names []string
	for _, v := range h["Vary"] {
		for len(v) > 0 {
			var f string
			f, v = nextItem(v)
			if f != "" && f != "*" {
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	return names
}
