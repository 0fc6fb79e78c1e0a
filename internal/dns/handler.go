package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// Sizes and TTLs of the zone's own records.
const (
	minUDPSize   = 512  // without EDNS (RFC 1035)
	ednsUDPSize  = 1232 // what the router advertises and sends at most (DNS flag day 2020)
	infraTTL     = 3600 // NS, SOA and name server addresses
	soaRefresh   = 3600
	soaRetry     = 600
	soaExpire    = 604800
	headerLen    = 12
	flagResponse = 0x80 // QR, in the third byte of the header
)

// respond computes the response to the query in req, received from src
// over UDP (udp) or TCP, into buf (which it may outgrow). nil means no
// response: the packet is dropped (not a query, too short to answer, or
// rate-limited). It never panics on any input.
func (s *Server) respond(req []byte, src netip.Addr, udp bool, buf []byte) []byte {
	s.stats.queries.Add(1)
	if len(req) < headerLen || req[2]&flagResponse != 0 {
		// Too short to carry an id, or a response: answering either could
		// be used to loop two servers or reflect traffic.
		s.stats.dropped.Add(1)
		return nil
	}
	var q mdns.Msg
	if err := q.Unpack(req); err != nil {
		s.stats.formErr.Add(1)
		return headerOnly(req, mdns.RcodeFormatError, buf)
	}
	r := new(mdns.Msg)
	r.SetReply(&q)
	r.Compress = true

	opt, ecs, bad := checkEDNS(&q, req)
	if opt != nil {
		// Reply with EDNS to a query with EDNS (RFC 6891 §6.1.1).
		ropt := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		ropt.SetUDPSize(ednsUDPSize)
		r.Extra = append(r.Extra, ropt)
	}
	switch {
	case bad:
		// Two OPT records, an OPT outside the additional section, or a
		// malformed ECS option (RFC 6891 §6.1.1, RFC 7871 §7.1.1).
		s.stats.formErr.Add(1)
		r.Rcode = mdns.RcodeFormatError
		return s.pack(r, opt, nil, 0, udp, buf)
	case len(q.Question) != 1:
		s.stats.formErr.Add(1)
		r.Rcode = mdns.RcodeFormatError
		return s.pack(r, opt, nil, 0, udp, buf)
	case q.Opcode != mdns.OpcodeQuery:
		r.Rcode = mdns.RcodeNotImplemented
		return s.pack(r, opt, nil, 0, udp, buf)
	case opt != nil && opt.Version() != 0:
		r.Rcode = mdns.RcodeBadVers
		return s.pack(r, opt, nil, 0, udp, buf)
	}
	if udp && s.limit != nil {
		switch s.limit.check(src) {
		case verdictDrop:
			s.stats.rateLimited.Add(1)
			return nil
		case verdictSlip:
			// A small truncated reply: a real resolver behind the prefix
			// retries over TCP, which no spoofer can.
			s.stats.slipped.Add(1)
			r.Truncated = true
			return s.pack(r, opt, ecs, 0, udp, buf)
		}
	}

	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	inZone := name == s.zone || strings.HasSuffix(name, "."+s.zone)
	if qq.Qclass != mdns.ClassINET || !inZone || qq.Qtype == mdns.TypeAXFR || qq.Qtype == mdns.TypeIXFR {
		// Not ours (other zones, other classes) or zone transfers: refused,
		// never recursed.
		s.stats.refused.Add(1)
		r.Rcode = mdns.RcodeRefused
		return s.pack(r, opt, ecs, 0, udp, buf)
	}
	r.Authoritative = true
	sn := s.snap.Load()
	scope := s.answer(r, sn, name, qq.Qtype, src, ecs)
	return s.pack(r, opt, ecs, scope, udp, buf)
}

// answer fills r for a query of qtype for name, inside the zone, and
// returns the ECS scope prefix length of the answer (0 unless it was
// tailored to the viewer's subnet).
func (s *Server) answer(r *mdns.Msg, sn *snapshot, name string, qtype uint16, src netip.Addr, ecs *mdns.EDNS0_SUBNET) int {
	owner := r.Question[0].Name // the name as asked, case preserved (RFC 4343)
	rel := strings.TrimSuffix(strings.TrimSuffix(name, s.zone), ".")
	switch {
	case rel == "":
		switch qtype {
		case mdns.TypeSOA, mdns.TypeANY: // ANY: one RRset (RFC 8482)
			r.Answer = append(r.Answer, s.soa(owner, sn, infraTTL))
		case mdns.TypeNS:
			for _, ns := range s.nameServers {
				r.Answer = append(r.Answer, &mdns.NS{Hdr: hdr(owner, mdns.TypeNS, infraTTL), Ns: ns.Name})
			}
			for _, ns := range s.nameServers {
				r.Extra = append(r.Extra, addrRRs(ns.Name, ns.Addrs, mdns.TypeA, infraTTL)...)
				r.Extra = append(r.Extra, addrRRs(ns.Name, ns.Addrs, mdns.TypeAAAA, infraTTL)...)
			}
		}
	case sn.dists[rel] != nil:
		return s.answerDist(r, sn, sn.dists[rel], owner, qtype, src, ecs)
	case s.isHost(name):
		if t := qtype; t == mdns.TypeA || t == mdns.TypeAAAA || t == mdns.TypeANY {
			if t == mdns.TypeANY {
				t = mdns.TypeA
			}
			r.Answer = addrRRs(owner, s.hosts[name], t, infraTTL)
		}
	case s.ents[name]:
		// An empty non-terminal above a name server's name: NODATA.
	default:
		s.stats.nxdomain.Add(1)
		r.Rcode = mdns.RcodeNameError
	}
	if len(r.Answer) == 0 {
		// NXDOMAIN or NODATA: the SOA for negative caching (RFC 2308).
		r.Ns = append(r.Ns, s.soa(s.zone, sn, min(infraTTL, s.ttl)))
	}
	return 0
}

// answerDist answers a query for a distribution's name with the nearest
// PoP's addresses.
func (s *Server) answerDist(r *mdns.Msg, sn *snapshot, d *compiledDist, owner string, qtype uint16, src netip.Addr, ecs *mdns.EDNS0_SUBNET) int {
	v6 := false
	switch qtype {
	case mdns.TypeA, mdns.TypeANY: // ANY: the A RRset alone (RFC 8482)
		qtype = mdns.TypeA
	case mdns.TypeAAAA:
		v6 = true
	default:
		r.Ns = append(r.Ns, s.soa(s.zone, sn, min(infraTTL, s.ttl)))
		return 0
	}
	if v6 && !d.IPv6 {
		r.Ns = append(r.Ns, s.soa(s.zone, sn, min(infraTTL, s.ttl)))
		return 0
	}
	who, tailored := src, false
	if ecs != nil && ecs.SourceNetmask > 0 {
		who, tailored = ecsAddr(ecs), true
	}
	v := s.locate(who.Unmap())
	i, _ := sn.choose(v.at, d.class, v6)
	if i < 0 {
		r.Ns = append(r.Ns, s.soa(s.zone, sn, min(infraTTL, s.ttl)))
		return 0
	}
	r.Answer = addrRRs(owner, sn.answerAddrs(i, v6, s.maxAnswers, r.Id), qtype, s.ttl)
	if tailored && v.Network.IsValid() {
		return v.Network.Bits()
	}
	return 0
}

// soa is the zone's SOA record under owner with the given TTL.
func (s *Server) soa(owner string, sn *snapshot, ttl uint32) mdns.RR {
	return &mdns.SOA{
		Hdr: hdr(owner, mdns.TypeSOA, ttl),
		Ns:  s.nameServers[0].Name, Mbox: "hostmaster." + s.zone,
		Serial: sn.serial, Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire,
		Minttl: s.ttl,
	}
}

func hdr(name string, t uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
}

// addrRRs returns A (t == TypeA) or AAAA records for the addresses of that
// family.
func addrRRs(owner string, addrs []netip.Addr, t uint16, ttl uint32) []mdns.RR {
	var rrs []mdns.RR
	for _, a := range addrs {
		switch {
		case t == mdns.TypeA && a.Is4():
			rrs = append(rrs, &mdns.A{Hdr: hdr(owner, t, ttl), A: net.IP(a.AsSlice())})
		case t == mdns.TypeAAAA && a.Is6() && !a.Is4In6():
			rrs = append(rrs, &mdns.AAAA{Hdr: hdr(owner, t, ttl), AAAA: net.IP(a.AsSlice())})
		}
	}
	return rrs
}

// ecsAddr returns the address of an ECS option as a netip.Addr of its
// family.
func ecsAddr(e *mdns.EDNS0_SUBNET) netip.Addr {
	if e.Family == 1 {
		if a, ok := netip.AddrFromSlice(e.Address.To4()); ok {
			return a
		}
	}
	a, _ := netip.AddrFromSlice(e.Address.To16())
	if e.Family != 2 {
		return a.Unmap()
	}
	return a
}

// pack finishes r: the ECS option echoed with scope (RFC 7871 §7.2.1: to
// every query that carried one, unchanged but for SCOPE), and for UDP the
// size limit of the query (512 without EDNS, its EDNS size up to 1232); a
// response over it is sent truncated (TC=1, no records but the OPT), so the
// resolver asks again over TCP.
func (s *Server) pack(r *mdns.Msg, opt *mdns.OPT, ecs *mdns.EDNS0_SUBNET, scope int, udp bool, buf []byte) []byte {
	if ropt := r.IsEdns0(); ropt != nil && ecs != nil {
		e := *ecs
		e.SourceScope = uint8(scope)
		ropt.Option = append(ropt.Option, &e)
	}
	out, err := r.PackBuffer(buf)
	if err != nil {
		s.stats.servFail.Add(1)
		return replyHeader(r, mdns.RcodeServerFailure, buf)
	}
	if !udp {
		return out
	}
	limit := minUDPSize
	if opt != nil {
		limit = min(max(int(opt.UDPSize()), minUDPSize), ednsUDPSize)
	}
	if len(out) <= limit {
		return out
	}
	s.stats.truncated.Add(1)
	r.Truncated = true
	r.Answer, r.Ns = nil, nil
	var keep []mdns.RR
	if ropt := r.IsEdns0(); ropt != nil {
		keep = []mdns.RR{ropt}
	}
	r.Extra = keep
	out, err = r.PackBuffer(buf)
	if err != nil || len(out) > limit {
		s.stats.servFail.Add(1)
		return replyHeader(r, mdns.RcodeServerFailure, buf)
	}
	return out
}

// headerOnly answers req with rcode and no sections, for a query that
// does not parse (FORMERR). It copies the id, the opcode and RD.
func headerOnly(req []byte, rcode int, buf []byte) []byte {
	id := binary.BigEndian.Uint16(req)
	flags := binary.BigEndian.Uint16(req[2:])
	const opcodeMask, rdBit = 0x7800, 0x0100
	return header(id, flags&(opcodeMask|rdBit), rcode, buf)
}

// replyHeader is r's header alone with rcode: for an answer that cannot be
// packed.
func replyHeader(r *mdns.Msg, rcode int, buf []byte) []byte {
	var flags uint16 = uint16(r.Opcode&0xF) << 11
	if r.RecursionDesired {
		flags |= 0x0100
	}
	return header(r.Id, flags, rcode, buf)
}

func header(id, flags uint16, rcode int, buf []byte) []byte {
	out := append(buf[:0], make([]byte, headerLen)...)
	binary.BigEndian.PutUint16(out, id)
	binary.BigEndian.PutUint16(out[2:], 0x8000|flags|uint16(rcode&0xF))
	return out
}
