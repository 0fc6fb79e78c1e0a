// Package control is Strata's control plane: the REST API that owns the
// configuration (distributions, policies, public keys, key groups), the
// invalidations and the API tokens, the store of all of it on NATS JetStream,
// and the view of the PoPs' health from their heartbeats.
//
// The shapes and names shared with the PoPs (buckets, stream, subjects,
// JSON messages) are in the wire package; the REST contract is API.md.
//
//   - [StartNATS] runs an embedded NATS server with JetStream (the default
//     deployment); a real deployment may point at an external NATS instead.
//     It admits no anonymous client: [NATSAuth] holds the keys of its
//     accounts and issues each identity (the control plane, each PoP, each
//     DNS server) a user JWT with the [Permissions] of its [Role].
//   - [OpenStore] creates the buckets and the stream and reads and writes
//     resources with compare-and-set on their KV revision.
//   - [New] builds the API [Server]: [Server.Handler] serves the REST API,
//     [Server.EnsureToken] makes the first API token.
package control
