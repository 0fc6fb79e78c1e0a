package config

import (
	"errors"

	"github.com/strata-cdn/strata/internal/waf"
	"github.com/strata-cdn/strata/internal/waf/managed"
)

// The AWS WAFv2 resources are checked by the waf package: an IP set's
// addresses, a pattern set's expressions, and a web ACL compiled whole
// against the IP sets and pattern sets of the configuration.
//
// Managed rule groups (internal/waf/managed, CRS through Coraza) are not
// wired into the PoPs yet, so a ManagedRuleGroupStatement is refused here
// rather than accepted and ignored; wiring them means checking the group
// name here (managed.GroupNames) and setting pop.Options.ManagedRuleGroups.

func (v *validator) ipSet(s *IPSet, p string) {
	if s.undecoded {
		return
	}
	if _, err := waf.CompileIPSet(&s.Set); err != nil {
		v.wafError(p, err)
	}
}

func (v *validator) regexPatternSet(s *RegexPatternSet, p string) {
	if s.undecoded {
		return
	}
	if _, err := waf.CompileRegexPatternSet(&s.Set); err != nil {
		v.wafError(p, err)
	}
}

func (v *validator) webACL(a *WebACL, p string) {
	if a.undecoded {
		return
	}
	_, err := waf.Compile(&a.ACL, waf.Options{Resolver: v.cfg.WebACLResolver(), Managed: managed.Check, SampleSize: 1})
	if err != nil {
		v.wafError(p, err)
	}
}

func (v *validator) wafError(p string, err error) {
	var de *waf.DecodeError
	if errors.As(err, &de) {
		if de.Path != "" {
			p = joinPath(p, de.Path)
		}
		v.add(p, "%s", de.Msg)
		return
	}
	v.add(p, "%v", err)
}
