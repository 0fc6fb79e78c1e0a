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
	StaleIfError         time.Duration
	MustRevalidate       bool // also set for no-cache: never served stale

	VaryNames []string // canonical names from Vary; nil when it does not vary
}

// NewObject builds an object from a verdict.
func NewObject(status int, h http.Header, body *Body, reqTime, respTime time.Time, v Verdict) *Object {
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
	for _, f := range v.StripFields {
		h.Del(f)
	}
	return o
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

// StaleIfErrorOK: may be served when the origin fails.
func (o *Object) StaleIfErrorOK(now time.Time) bool {
	return !o.MustRevalidate && o.StaleIfError > 0 && -o.TTL(now) <= o.StaleIfError
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
// freshness restarting from it (RFC 9111 4.3.4). The body is shared.
func (o *Object) Refreshed(merged, h304 http.Header, reqTime, respTime time.Time, v Verdict) *Object {
	n := *o
	n.Header = merged
	n.RequestTime, n.ResponseTime = reqTime, respTime
	n.InitialAge = InitialAge(h304, reqTime, respTime)
	n.Lifetime = v.Lifetime
	n.StaleWhileRevalidate, n.StaleIfError = v.StaleWhileRevalidate, v.StaleIfError
	n.MustRevalidate = v.MustRevalidate || v.NoCache
	n.VaryNames = VaryNames(merged)
	merged.Del("Age")
	for _, f := range v.StripFields {
		merged.Del(f)
	}
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
