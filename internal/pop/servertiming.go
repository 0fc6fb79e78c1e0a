package pop

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/respheaders"
)

// Stage 16, the PoP's part: the response headers policy of the behavior
// (internal/respheaders) is applied to every response a viewer gets, after
// Strata's own headers; Server-Timing, which only the PoP can fill in, is
// rendered here; a CORS preflight the policy answers is answered here,
// ahead of the cache.

// hTiming is the Server-Timing header name.
const hTiming = "Server-Timing"

// policy is the response headers policy for ex: a custom error page gets the
// one of the behavior the viewer's request chose.
func (ex *exchange) policy() *respheaders.Policy {
	b := ex.beh
	if ex.viewerBeh != nil {
		b = ex.viewerBeh
	}
	if b == nil || ex.fromTier {
		return nil
	}
	return b.rhp
}

// timed reports whether upstream requests for b are measured: its policy
// has Server-Timing on (origin.TraceUpstream).
func (b *behavior) timed() bool { return b != nil && b.rhp != nil && b.rhp.ServerTiming() }

// applyResponsePolicy is called by stampHeaders for every response, after
// Strata's own headers are in h.
func (p *PoP) applyResponsePolicy(ex *exchange, h http.Header) {
	rp := ex.policy()
	if rp == nil {
		return
	}
	rp.Apply(ex.r, h)
	if rp.WantsTiming(ex.r) {
		h[hTiming] = p.serverTiming(ex, h[hTiming])
	}
}

// answerPreflight answers a CORS preflight at the edge when the behavior's
// policy lists allowed methods: 204 with the policy's headers; the origin is
// not asked. It returns errAnswered when it did (the stage contract,
// pipeline.go).
func (p *PoP) answerPreflight(ex *exchange) error {
	rp := ex.policy()
	if rp == nil || !rp.AnswersPreflight(ex.r) {
		return nil
	}
	h := ex.w.Header()
	ex.decide(outcome{kind: decPreflight})
	p.stampHeaders(ex, h)
	ex.w.WriteHeader(http.StatusNoContent)
	return errAnswered
}

// serverTiming is the Server-Timing value, with CloudFront's metric names
// and Strata's timings, from ex's outcome. On a miss the origin's own value
// follows ours; a hit has only ours.
func (p *PoP) serverTiming(ex *exchange, fromOrigin []string) []string {
	var b strings.Builder
	b.Grow(256)
	metric := func(name, param string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(param)
	}
	dur := func(d time.Duration) string { return ";dur=" + strconv.FormatInt(d.Milliseconds(), 10) }
	desc := func(s string) string { return `;desc="` + s + `"` }

	t, via := ex.out.up.timing, ex.out.up.via
	result := ex.out.timingResult()
	if (result == timingMiss || result == timingRefresh) && t.Measured {
		layer := p.layer(ex)
		if via != "" {
			layer = p.parentLayer()
		}
		metric("cdn-upstream-layer", desc(layer))
		metric("cdn-upstream-dns", dur(t.DNS))
		metric("cdn-upstream-connect", dur(t.Connect))
		metric("cdn-upstream-fbl", dur(t.FirstByte))
	}
	switch result {
	case timingHit, timingParentHit:
		metric("cdn-cache-hit", "")
	case timingRefresh:
		metric("cdn-cache-refresh", "")
	case timingMiss:
		metric("cdn-cache-miss", "")
	}
	metric("cdn-pop", desc(p.opts.ID))
	metric("cdn-rid", desc(ex.id))
	switch result {
	case timingHit:
		metric("cdn-hit-layer", desc(p.layer(ex)))
	case timingParentHit:
		metric("cdn-hit-layer", desc(p.parentLayer()))
	}
	metric("cdn-downstream-fbl", dur(p.now().Sub(ex.start)))
	if result != timingHit && result != timingParentHit {
		for _, v := range fromOrigin {
			if v != "" {
				b.WriteByte(',')
				b.WriteString(v)
			}
		}
	}
	return []string{b.String()}
}

// layer is this PoP's cache layer in CloudFront's words.
func (p *PoP) layer(ex *exchange) string {
	if p.opts.Tier != TierRegional {
		return "EDGE"
	}
	if s := ex.beh; s != nil && s.shield != "" && s.shield == p.opts.RegionalCache {
		return "Origin Shield"
	}
	return "REC"
}

// parentLayer is the layer of the parent tier this PoP fetches from.
func (p *PoP) parentLayer() string {
	if p.parent != nil {
		return "REC"
	}
	return "Origin Shield"
}
