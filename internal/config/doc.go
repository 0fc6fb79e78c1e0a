// Package config is Strata's configuration model: distributions, origins,
// cache behaviors and the policies they refer to, shaped after CloudFront's
// DistributionConfig, plus the settings of the PoP process itself.
//
// A configuration is read from YAML or JSON (JSON is parsed as YAML, through
// the same code path) by [Parse] or [Load]. Decoding is strict: unknown
// fields, duplicate keys and values of the wrong type are refused, each error
// naming the field path and the line. [Config.Validate] then fills in the
// defaults and reports every problem it finds, not only the first, as
// [Errors]: one [FieldError] per problem, with the path written with the
// JSON field names (distributions[0].cacheBehaviors[2].pathPattern).
//
// Managed policies (Managed-CachingOptimized, Managed-AllViewer, ...) can be
// referred to without being declared; [Config.CachePolicy],
// [Config.OriginRequestPolicy] and [Config.ResponseHeadersPolicy] resolve both
// kinds.
//
// A few fields are accepted, so that CloudFront-style configurations load,
// but nothing acts on them yet (priceClass, webACLId, logging, ...): they are
// listed once, in inert.go, and [Config.Warnings] names each one a
// configuration sets to something other than its default. Every way a
// configuration comes in reports those warnings. A test classifies every
// field of the model as acted on or inert, so a new field must say which.
//
// The reference for users is docs/config.md; a test keeps it in step with the
// fields of [Config] and with the inert list.
package config
