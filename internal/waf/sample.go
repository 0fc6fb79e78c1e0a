package waf

import (
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// The shapes of GetSampledRequests (AWS WAFv2 API).

// SampledRequests is GetSampledRequests' response.
type SampledRequests struct {
	SampledRequests []SampledHTTPRequest `json:"SampledRequests"`
	PopulationSize  int64                `json:"PopulationSize"`
	TimeWindow      TimeWindow           `json:"TimeWindow"`
}

// TimeWindow is the window the samples were taken from.
type TimeWindow struct {
	StartTime time.Time `json:"StartTime"`
	EndTime   time.Time `json:"EndTime"`
}

// SampledHTTPRequest is one sampled request.
type SampledHTTPRequest struct {
	Request                 HTTPRequest `json:"Request"`
	Weight                  int64       `json:"Weight"`
	Timestamp               time.Time   `json:"Timestamp"`
	Action                  string      `json:"Action"`
	RuleNameWithinRuleGroup string      `json:"RuleNameWithinRuleGroup,omitempty"`
	RequestHeadersInserted  []HeaderNV  `json:"RequestHeadersInserted,omitempty"`
	ResponseCodeSent        int         `json:"ResponseCodeSent,omitempty"`
	Labels                  []Label     `json:"Labels,omitempty"`
	OverriddenAction        string      `json:"OverriddenAction,omitempty"`

	metrics []string // the metric names of the rules that matched, and of the ACL
}

// HTTPRequest is a sampled request's request.
type HTTPRequest struct {
	ClientIP    string     `json:"ClientIP"`
	Country     string     `json:"Country"`
	URI         string     `json:"URI"`
	Method      string     `json:"Method"`
	HTTPVersion string     `json:"HTTPVersion"`
	Headers     []HeaderNV `json:"Headers"`
}

// defaultEvery is the sampling rate of requests that no rule matched: one
// in defaultEvery is kept, with that Weight. Requests a rule matched are
// all kept (the ring bounds them).
const defaultEvery = 16

type sampler struct {
	mu      sync.Mutex
	ring    []SampledHTTPRequest
	next    int
	full    bool
	skipped int64 // default-action requests since the last sample
}

func newSampler(n int) *sampler { return &sampler{ring: make([]SampledHTTPRequest, n)} }

func (p *Program) sample(r *Request, v *Verdict) {
	if !p.sampled {
		return
	}
	var metrics []string
	for _, m := range v.Matches {
		for _, rule := range p.rules {
			if rule.name == m.Rule && rule.sampled && !slices.Contains(metrics, rule.metric) {
				metrics = append(metrics, rule.metric)
			}
		}
	}
	s := p.samples
	weight := int64(1)
	if len(v.Matches) == 0 {
		s.mu.Lock()
		s.skipped++
		keep := s.skipped >= defaultEvery
		if keep {
			weight, s.skipped = s.skipped, 0
		}
		s.mu.Unlock()
		if !keep {
			return
		}
	}
	metrics = append(metrics, p.metric)
	sr := SampledHTTPRequest{
		Request: HTTPRequest{ClientIP: r.ClientIP.String(), Country: r.Country, URI: r.Path, Method: r.Method,
			HTTPVersion: r.Proto, Headers: sampleHeaders(r)},
		Weight:                  weight,
		Timestamp:               p.now(),
		Action:                  string(v.Action),
		RuleNameWithinRuleGroup: v.RuleWithinGroup,
		RequestHeadersInserted:  v.InsertHeaders,
		metrics:                 metrics,
	}
	if v.Action == Block {
		sr.ResponseCodeSent = http.StatusForbidden
		if v.Response != nil {
			sr.ResponseCodeSent = v.Response.Status
		}
	}
	for _, l := range v.Labels {
		sr.Labels = append(sr.Labels, Label{Name: l})
	}
	s.mu.Lock()
	s.ring[s.next] = sr
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	s.mu.Unlock()
}

func sampleHeaders(r *Request) []HeaderNV {
	pairs := headerPairs(r)
	out := make([]HeaderNV, 0, len(pairs))
	for _, kv := range pairs {
		out = append(out, HeaderNV{Name: kv[0], Value: kv[1]})
	}
	return out
}

// Sampled returns up to max (1 to 500) sampled requests of the window
// [start, end) for a rule's metric name, or the web ACL's metric name for
// all of them, newest first. PopulationSize is the number of requests
// they stand for (the sum of their weights).
func (p *Program) Sampled(metric string, start, end time.Time, max int) SampledRequests {
	if max <= 0 || max > 500 {
		max = 500
	}
	out := SampledRequests{TimeWindow: TimeWindow{StartTime: start, EndTime: end}, SampledRequests: []SampledHTTPRequest{}}
	s := p.samples
	s.mu.Lock()
	n := s.next
	if s.full {
		n = len(s.ring)
	}
	all := make([]SampledHTTPRequest, 0, n)
	for i := range n {
		sr := s.ring[(s.next-1-i+len(s.ring))%len(s.ring)]
		if sr.Timestamp.Before(start) || !sr.Timestamp.Before(end) || !slices.Contains(sr.metrics, metric) {
			continue
		}
		all = append(all, sr)
	}
	s.mu.Unlock()
	sort.SliceStable(all, func(i, j int) bool { return all[i].Timestamp.After(all[j].Timestamp) })
	for i, sr := range all {
		out.PopulationSize += sr.Weight
		if i < max {
			out.SampledRequests = append(out.SampledRequests, sr)
		}
	}
	return out
}

// MetricName is the web ACL's metric name (its VisibilityConfig's, else
// its name): Sampled with it returns every sample.
func (p *Program) MetricName() string { return p.metric }
