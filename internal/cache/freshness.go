package cache

import (
	"net/http"
	"time"
)

// TTLs are a cache policy's limits, as CloudFront applies them: an origin's
// max-age/s-maxage/Expires is clamped to [Min, Max]; when the origin says
// nothing, Default applies.
type TTLs struct {
	Min, Default, Max time.Duration
}

// defaultCacheable are the statuses stored with the default TTL when the
// origin gives no freshness (RFC 9110 15.1 heuristically cacheable, minus the
// error codes CloudFront and Strata do not cache unless configured).
var defaultCacheable = map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true, 410: true}

// explicitCacheable are statuses stored only when the origin gives them an
// explicit lifetime.
var explicitCacheable = map[int]bool{302: true, 307: true, 404: true}

// Verdict says whether a response may be stored and for how long it is fresh.
type Verdict struct {
	Store    bool
	Reason   string        // why not stored (for Cache-Status detail and logs)
	Lifetime time.Duration // freshness lifetime after clamping
	// Directives that matter once stored.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration // -1: absent
	MustRevalidate       bool
	NoCache              bool
	// StripFields are header fields that must not be stored (qualified
	// private/no-cache).
	StripFields []string
}

// Evaluate decides storability and freshness of a response to a GET/HEAD
// request for a shared cache (RFC 9111 section 3), with CloudFront's TTL clamp.
// reqHeader is the viewer's request as forwarded; errorTTL, if >= 0, makes an
// otherwise uncacheable error status storable for that long (custom error
// responses' ErrorCachingMinTTL).
func Evaluate(reqHeader http.Header, status int, resp http.Header, ttl TTLs, responseTime time.Time, errorTTL time.Duration) Verdict {
	d, targeted := ResponseDirectives(resp)
	v := Verdict{
		StaleWhileRevalidate: max(d.StaleWhileRevalidate, 0),
		StaleIfError:         d.StaleIfError, // absent (-1) and 0 differ: see Object.StaleIfErrorOK
		MustRevalidate:       d.MustRevalidate,
		NoCache:              d.NoCache,
	}
	v.StripFields = append(append(v.StripFields, d.PrivateFields...), d.NoCacheFields...)
	reqCC := ParseCacheControl(reqHeader["Cache-Control"])
	explicit := d.SMaxAge >= 0 || d.MaxAge >= 0 || (!targeted && resp.Get("Expires") != "")
	switch {
	case reqCC.NoStore:
		v.Reason = "request no-store"
	case d.NoStore:
		v.Reason = "no-store"
	case d.Private:
		v.Reason = "private"
	case hasVaryStar(resp):
		v.Reason = "vary *"
	case reqHeader.Get("Authorization") != "" && !(d.Public || d.SMaxAge >= 0 || d.MustRevalidate):
		v.Reason = "authorization"
	case reqHeader.Get("Cookie") != "" && !(d.Public || d.SMaxAge >= 0):
		v.Reason = "cookie"
	case len(resp["Set-Cookie"]) > 0 && !containsField(v.StripFields, "Set-Cookie"):
		v.Reason = "set-cookie"
	case defaultCacheable[status], explicitCacheable[status] && explicit:
		v.Store = true
	case errorTTL >= 0 && status >= 400:
		v.Store = true
		v.Lifetime = errorTTL
		return v
	default:
		v.Reason = "status"
	}
	if !v.Store {
		return v
	}
	switch {
	case d.NoCache:
		v.Lifetime = 0 // stored, but revalidated before every use
		return v
	case d.SMaxAge >= 0 && !targeted:
		v.Lifetime = d.SMaxAge
	case d.MaxAge >= 0:
		v.Lifetime = d.MaxAge
	case d.SMaxAge >= 0:
		v.Lifetime = d.SMaxAge
	case !targeted && resp.Get("Expires") != "":
		exp, ok := parseExpires(resp, responseTime)
		if !ok {
			v.Lifetime = 0 // invalid Expires means already expired (RFC 9111 5.3)
			break
		}
		date, ok := ParseHTTPDate(resp.Get("Date"), responseTime)
		if !ok {
			date = responseTime
		}
		v.Lifetime = max(exp.Sub(date), 0)
	default:
		v.Lifetime = ttl.Default // already within [Min, Max]
	}
	v.Lifetime = min(max(v.Lifetime, ttl.Min), ttl.Max)
	if v.Lifetime <= 0 && resp.Get("Etag") == "" && resp.Get("Last-Modified") == "" {
		// Stale on arrival and impossible to revalidate: storing it is useless.
		v.Store, v.Reason = false, "stale on arrival"
	}
	return v
}

func hasVaryStar(h http.Header) bool {
	for _, v := range h["Vary"] {
		for len(v) > 0 {
			var f string
			f, v = nextItem(v)
			if f == "*" {
				return true
			}
		}
	}
	return false
}

func containsField(list []string, name string) bool {
	for _, f := range list {
		if f == name {
			return true
		}
	}
	return false
}

// InitialAge is the corrected initial age of a response (RFC 9111 4.2.3),
// computed once when it is received.
func InitialAge(resp http.Header, requestTime, responseTime time.Time) time.Duration {
	var apparent time.Duration
	if date, ok := ParseHTTPDate(resp.Get("Date"), responseTime); ok {
		apparent = max(responseTime.Sub(date), 0)
	}
	ageValue, _ := ParseAge(resp["Age"]) // invalid: ignored (RFC 9111 5.1)
	corrected := time.Duration(ageValue)*time.Second + max(responseTime.Sub(requestTime), 0)
	return min(max(apparent, corrected), maxDelta*time.Second)
}
