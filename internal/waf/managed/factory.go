package managed

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/strata-cdn/strata/internal/waf"
)

// The link between a web ACL's ManagedRuleGroupStatement (AWS's shape, in
// internal/waf) and the CRS-backed groups of this package. The web ACL
// engine applies the statement's ExcludedRules (Count), RuleActionOverrides
// and ScopeDownStatement to the rules a group reports, as AWS does; the
// group itself runs CRS's anomaly scoring at paranoia level 1. A rule set to
// Count still adds to CRS's score: it cannot block by itself, but it can
// help another rule reach the blocking threshold (README, "Managed rule
// groups").

// Factory builds the group of a managed rule group statement. It is the
// waf.ManagedFactory the PoPs use. Groups are shared per (group, body
// limit): building CRS takes a fraction of a second, a request's
// inspection a transaction of a few milliseconds.
func Factory(s *waf.ManagedRuleGroupStatement, bodyLimit int) (waf.ManagedGroup, error) {
	g, err := New(Options{Vendor: s.VendorName, Name: s.Name, Version: s.Version, BodyLimit: min(bodyLimit, MaxBodyLimit)})
	if err != nil {
		return nil, err
	}
	if err := checkRuleNames(s, g.Rules()); err != nil {
		return nil, err
	}
	return adapter{g}, nil
}

// Check is Factory without building the Coraza engine: the vendor, name
// and version exist and the rules the statement names are the group's.
// Configuration validation uses it (building CRS for every validation
// would cost a fraction of a second each).
func Check(s *waf.ManagedRuleGroupStatement, bodyLimit int) (waf.ManagedGroup, error) {
	_, def, err := (Options{Vendor: s.VendorName, Name: s.Name, Version: s.Version}).normalize()
	if err != nil {
		return nil, err
	}
	in, _, err := groupRules(def)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(in))
	for i, id := range in {
		names[i] = strconv.Itoa(id)
	}
	if err := checkRuleNames(s, names); err != nil {
		return nil, err
	}
	return adapter{}, nil
}

// checkRuleNames refuses ExcludedRules and RuleActionOverrides naming a
// rule the group does not have.
func checkRuleNames(s *waf.ManagedRuleGroupStatement, rules []string) error {
	var errs []error
	for i, r := range s.ExcludedRules {
		if !slices.Contains(rules, r.Name) {
			errs = append(errs, fmt.Errorf("ExcludedRules[%d]: group %s has no rule %q (rules are named by their CRS id, e.g. \"942100\")", i, s.Name, r.Name))
		}
	}
	for i, r := range s.RuleActionOverrides {
		if !slices.Contains(rules, r.Name) {
			errs = append(errs, fmt.Errorf("RuleActionOverrides[%d]: group %s has no rule %q (rules are named by their CRS id, e.g. \"942100\")", i, s.Name, r.Name))
		}
	}
	return errors.Join(errs...)
}

// adapter is a Group as a waf.ManagedGroup.
type adapter struct{ g *Group }

func (a adapter) Inspect(r *waf.Request) []waf.ManagedMatch {
	if a.g == nil {
		return nil
	}
	uri := r.Path
	if r.RawQuery != "" {
		uri += "?" + r.RawQuery
	}
	ms := a.g.Inspect(Input{Method: r.Method, URI: uri, Proto: r.Proto, Host: r.Host, Header: r.Header,
		Body: r.Body, BodyTruncated: r.BodyOversize, ClientIP: r.ClientIP})
	if len(ms) == 0 {
		return nil
	}
	out := make([]waf.ManagedMatch, len(ms))
	for i, m := range ms {
		out[i] = waf.ManagedMatch{Rule: m.Rule, Msg: m.Msg, Data: m.Data}
		if m.Rule != "" {
			out[i].Labels = []string{"crs:" + m.Rule}
		}
	}
	return out
}
