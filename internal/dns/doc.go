// Package dns is Strata's DNS router: an authoritative DNS server for the
// CDN's zone (cdn.example.net.) that answers each distribution's name with
// the PoP nearest the viewer, as CloudFront's DNS does.
//
// # Answering a query
//
//  1. The packet is parsed (miekg/dns). One that does not parse gets
//     FORMERR, as do two OPT records and a malformed EDNS Client Subnet
//     option (RFC 6891 §6.1.1, RFC 7871 §7.1.1); a packet that is not a
//     query is dropped.
//  2. Over UDP, response rate limiting per client prefix ([RateLimit])
//     answers a flooding source only now and then, truncated, so the
//     server is no amplifier.
//  3. A name outside the zone, another class or a zone transfer is
//     REFUSED: the server never recurses.
//  4. In the zone: the apex has SOA and NS (and, for ANY, the SOA alone:
//     RFC 8482); a name server's name has its addresses; a distribution's
//     name (its label, d + 13 lowercase alphanumerics, under the zone) has
//     A and, when the distribution enables IPv6, AAAA records; anything
//     else is NXDOMAIN, and a name without the type asked is NODATA, both
//     with the SOA.
//  5. For a distribution: the viewer is the ECS address when the query
//     carries one, else the resolver's source address. The geo database
//     places it: by its coordinates (a city database), else by its
//     country's representative point (countries.txt, or the spherical mean
//     of the country's catalog locations), else at the configured default
//     region's point.
//  6. Among the PoPs that accept viewers and have an address of the type
//     asked, the nearest (great-circle) healthy one inside the
//     distribution's price class is chosen; if none is healthy in the
//     class, the nearest healthy one outside it; if none is healthy at all,
//     the nearest one (an answer that may work beats none).
//  7. The answer holds up to MaxAnswers of its addresses (TTL 60 s by
//     default). The ECS option is echoed with SCOPE set to the length of
//     the database network the address fell in, so resolvers cache the
//     answer for that network (0 for answers that do not depend on it).
//  8. Over UDP, an answer larger than the query's EDNS size (512 without
//     EDNS, at most 1232) goes out with TC=1 and no records; over TCP the
//     full answer.
//
// The router imports neither the control plane nor the PoP: its inputs
// are a [State] (PoPs with their catalog locations and addresses, and
// distributions with their labels and price classes) swapped in whole by
// [Server.SetState], and the PoPs' health, set by [Server.SetHealth].
// [Server.Explain] shows the steps 5 and 6 for one name and viewer.
package dns
