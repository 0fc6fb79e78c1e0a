// Package cache is the RFC 9111 shared-cache logic of a Strata PoP: parsing
// Cache-Control (and RFC 9213 targeted fields), freshness with CloudFront's
// TTL rules, ages, the in-memory store, streaming object bodies and request
// collapsing. It knows nothing about distributions or origins.
package cache
