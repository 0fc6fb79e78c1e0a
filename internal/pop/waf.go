package pop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/waf"
)

// Stage 5: the web ACL a distribution names (webACLId). Each web ACL of the
// configuration is compiled once per snapshot (waf.Compile) and shared by
// the distributions that name it. It runs at the edge, after the geo
// lookup (GeoMatch reads its country): a request that came over the tier
// hop was evaluated by the edge its viewer reached, so a parent does not
// evaluate it again (nor count it twice in a rate-based rule).
//
// A Block without a custom response is a 403 through the one error path
// (so a custom error page for 403 applies, as CloudFront's does after AWS
// WAF); a Block with a custom response is written here; Allow and Count
// add their inserted x-amzn-waf-* headers to the request.

// webACL is a compiled web ACL of a snapshot.
type webACL struct {
	id   string
	prog *waf.Program
}

// wafState is what outlives snapshots: the rate-based rules' counters, kept
// while a rule is unchanged (waf.RateRule's fingerprint), so that a
// configuration reload does not reset them.
type wafState struct {
	mu       sync.Mutex
	counters map[waf.RateRule]waf.RateCounter
}

func (p *PoP) rateCounter(r waf.RateRule) waf.RateCounter {
	s := &p.waf
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counters == nil {
		s.counters = map[waf.RateRule]waf.RateCounter{}
	}
	if c, ok := s.counters[r]; ok {
		return c
	}
	c := waf.NewSlidingWindow(r.Window, p.now)
	s.counters[r] = c
	return c
}

// buildWebACLs compiles the web ACLs that distributions name.
func (p *PoP) buildWebACLs(cfg *config.Config) (map[string]*webACL, error) {
	out := map[string]*webACL{}
	for i := range cfg.Distributions {
		ref := cfg.Distributions[i].WebACLID
		if ref == "" {
			continue
		}
		a := cfg.FindWebACL(ref)
		if a == nil {
			return nil, fmt.Errorf("distribution %s: no web ACL %q", cfg.Distributions[i].ID, ref)
		}
		if _, done := out[a.ID]; done {
			out[ref] = out[a.ID]
			continue
		}
		opts := waf.Options{Resolver: cfg.WebACLResolver(), Managed: p.opts.ManagedRuleGroups, RateCounter: p.rateCounter, Now: p.now}
		if p.opts.Geo != nil {
			opts.CountryOf = func(a netip.Addr) string { return p.opts.Geo.Lookup(a).Country }
		}
		prog, err := waf.Compile(&a.ACL, opts)
		if err != nil {
			return nil, fmt.Errorf("web ACL %s: %w", a.ID, err)
		}
		out[a.ID] = &webACL{id: a.ID, prog: prog}
		out[ref] = out[a.ID]
	}
	return out, nil
}

// webACL is stage 5.
func (p *PoP) webACL(ex *exchange) error {
	a := ex.dist.waf
	if a == nil {
		return nil
	}
	r := &waf.Request{
		Country: ex.geo.Country, Method: ex.r.Method, Host: ex.r.Host, Path: ex.r.URL.EscapedPath(),
		RawQuery: ex.r.URL.RawQuery, Proto: ex.r.Proto, Header: ex.r.Header, BodySize: ex.r.ContentLength, ID: ex.id,
	}
	if ip, err := netip.ParseAddr(ex.client); err == nil {
		r.ClientIP = ip
	}
	if a.prog.InspectsBody() && ex.r.Body != nil && ex.r.Body != http.NoBody && ex.r.ContentLength != 0 {
		if err := peekBody(ex.r, r, a.prog.BodyLimit()); err != nil {
			return err
		}
	}
	v := a.prog.Evaluate(r)
	if v.Action != waf.Block {
		for _, h := range v.InsertHeaders {
			ex.r.Header.Set(h.Name, h.Value)
		}
		return nil
	}
	if v.Response == nil {
		return &Error{Status: http.StatusForbidden, Source: FromViewer,
			Reason: "Request blocked. We can't connect to the server for this app or website at this time.",
			Err:    fmt.Errorf("web ACL %s: rule %s", a.id, ruleName(v))}
	}
	h := ex.w.Header()
	clear(h)
	for k, vv := range v.Response.Header {
		h[k] = vv
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(v.Response.Body)))
	ex.decide(outcome{kind: decError, source: FromViewer})
	p.stampHeaders(ex, h)
	ex.err = &Error{Status: v.Response.Status, Source: FromViewer, Reason: "blocked by the web ACL",
		Err: fmt.Errorf("web ACL %s: rule %s", a.id, ruleName(v))}
	ex.w.WriteHeader(v.Response.Status)
	if ex.r.Method != http.MethodHead {
		ex.w.Write(v.Response.Body)
	}
	return errAnswered
}

func ruleName(v *waf.Verdict) string {
	if v.RuleWithinGroup != "" {
		return v.TerminatingRule + " (" + v.RuleWithinGroup + ")"
	}
	return v.TerminatingRule
}

// peekBody reads the first limit bytes of the request body for inspection
// and puts them back in front of the rest, so the body still streams to the
// origin whole. A body that ends within limit+1 bytes is whole; otherwise
// the WAF sees the first limit bytes and BodyOversize.
func peekBody(hr *http.Request, r *waf.Request, limit int) error {
	buf := make([]byte, limit+1)
	n, err := io.ReadFull(hr.Body, buf)
	switch {
	case err == nil:
		r.Body, r.BodyOversize = buf[:limit], true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		r.Body = buf[:n]
		if r.BodySize < 0 {
			r.BodySize = int64(n)
		}
	default:
		return &Error{Status: http.StatusBadRequest, Source: FromViewer, Reason: "the request body could not be read", Err: err}
	}
	hr.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf[:n]), hr.Body), hr.Body}
	return nil
}
