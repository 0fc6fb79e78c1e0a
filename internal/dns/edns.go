package dns

import (
	"encoding/binary"

	mdns "github.com/miekg/dns"
)

// checkEDNS returns the query's OPT record and ECS option (nil when
// absent), and whether the query is malformed: its sections do not hold
// the records its header counts, or bytes follow them (miekg/dns lets
// both pass); more than one OPT record or one outside the additional
// section (RFC 6891 §6.1.1); or an ECS option that
// RFC 7871 makes the server reject with FORMERR (§7.1.1): more than one,
// an unknown FAMILY, a SOURCE PREFIX-LENGTH longer than the family's
// addresses, a non-zero SCOPE, too few or too many ADDRESS octets for the
// source length, or address bits set beyond it. miekg/dns decodes leniently
// (it pads and cuts addresses), so the option's bytes are checked in raw.
func checkEDNS(q *mdns.Msg, raw []byte) (opt *mdns.OPT, ecs *mdns.EDNS0_SUBNET, bad bool) {
	bad = !rawWellFormed(raw)
	for _, rr := range q.Answer {
		bad = bad || rr.Header().Rrtype == mdns.TypeOPT
	}
	for _, rr := range q.Ns {
		bad = bad || rr.Header().Rrtype == mdns.TypeOPT
	}
	n := 0
	for _, rr := range q.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			n++
			if opt == nil {
				opt = o
			}
		}
	}
	if n == 0 {
		return nil, nil, bad
	}
	nECS := 0
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			nECS++
			ecs = e
		}
	}
	if n > 1 || nECS > 1 {
		return opt, nil, true
	}
	if bad {
		return opt, nil, true
	}
	return opt, ecs, false
}

// rawWellFormed walks the wire form of a message that miekg/dns has
// already parsed: every record the header counts must be there and nothing
// after them, and every ECS option of an OPT record in the additional
// section must be valid. It is bounds-checked on its own, so any input is
// safe, and allocates nothing.
func rawWellFormed(msg []byte) bool {
	if len(msg) < headerLen {
		return false
	}
	u16 := func(off int) int { return int(binary.BigEndian.Uint16(msg[off:])) }
	qd, an, ns, ar := u16(4), u16(6), u16(8), u16(10)
	off := headerLen
	for range qd {
		if off = skipName(msg, off); off < 0 || off+4 > len(msg) {
			return false
		}
		off += 4
	}
	for i := range an + ns + ar {
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return false
		}
		typ, rdlen := u16(off), u16(off+8)
		off += 10
		if off+rdlen > len(msg) {
			return false
		}
		if typ == int(mdns.TypeOPT) && i >= an+ns && !ecsOptionsValid(msg[off:off+rdlen]) {
			return false
		}
		off += rdlen
	}
	return off == len(msg)
}

// skipName returns the offset after the domain name at off, or -1.
func skipName(msg []byte, off int) int {
	for {
		if off >= len(msg) {
			return -1
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1
			}
			off += 1 + c
		case 0xC0: // a compression pointer ends the name
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		default: // extended label types (RFC 6891 §5) are not in use
			return -1
		}
	}
}

// ecsOptionsValid checks the ECS options (code 8) among the options of an
// OPT record's data.
func ecsOptionsValid(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return false
		}
		code, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if 4+l > len(b) {
			return false
		}
		if code == mdns.EDNS0SUBNET && !ecsValid(b[4:4+l]) {
			return false
		}
		b = b[4+l:]
	}
	return true
}

// ecsValid checks one ECS option's data (RFC 7871 §6).
func ecsValid(d []byte) bool {
	if len(d) < 4 {
		return false
	}
	family, source, scope := binary.BigEndian.Uint16(d), int(d[2]), d[3]
	var bits int
	switch family {
	case 1:
		bits = 32
	case 2:
		bits = 128
	case 0:
		// dig sends FAMILY 0 with +subnet=0: "no client information".
		return source == 0 && scope == 0 && len(d) == 4
	default:
		return false
	}
	addr := d[4:]
	if source > bits || scope != 0 || len(addr) != (source+7)/8 {
		return false
	}
	if rem := source % 8; rem != 0 && addr[len(addr)-1]&(0xFF>>rem) != 0 {
		return false
	}
	return true
}
