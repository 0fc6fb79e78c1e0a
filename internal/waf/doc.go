// Package waf is the engine of Strata's web ACLs: AWS WAFv2 web ACLs in
// their JSON shape, compiled into an immutable program that evaluates
// requests.
//
// The path of a web ACL:
//
//  1. DecodeWebACL reads the JSON (`aws wafv2 get-web-acl`'s output, or
//     the bare WebACL) strictly: a field Strata does not know, or knows and
//     does not support, is an error naming its JSON path.
//  2. Compile checks every value (again with paths), resolves IP sets and
//     regex pattern sets through Options.Resolver, builds managed rule
//     groups through Options.Managed and rate counters through
//     Options.RateCounter, and returns a Program.
//  3. Program.Evaluate runs the rules by ascending Priority, as AWS does:
//     a matching rule adds its labels (seen only by later rules) and
//     applies its action; Count goes on, Allow and Block end the
//     evaluation; the DefaultAction decides when no rule did. Captcha and
//     Challenge are refused by Compile.
//  4. Program.Metrics (per-rule allowed, blocked and counted requests) and
//     Program.Sampled (GetSampledRequests' shape) report what happened.
//
// The package knows nothing of the PoP: the caller fills a Request (the
// client address, the country of the PoP's geo lookup, the first
// BodyLimit bytes of the body) and renders the Verdict.
package waf
