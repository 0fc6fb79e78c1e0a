package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/strata-cdn/strata/internal/topology"
)

// FuzzRespond feeds any bytes to the handler, as a UDP packet and as a TCP
// message, and checks what comes back: nothing (a response or a runt
// dropped) or a message that parses, is a response with the query's id,
// and over UDP fits the size the query allows; the server's own records
// only for names in its zone.
func FuzzRespond(f *testing.F) {
	name := labelAll + "." + testZone
	seeds := [][]byte{
		rawQuery(f, name),
		rawQuery(f, name, ecsData(1, 24, 0, 127, 2, 0)),
		rawQuery(f, name, ecsData(2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0)),
		rawQuery(f, name, ecsData(3, 24, 0, 127, 2, 0)),
		rawQuery(f, name, ecsData(1, 20, 0, 127, 2, 1)),
		rawQuery(f, "www.example.com.", ecsData(1, 24, 0, 127, 2, 0)),
		rawQuery(f, testZone),
		{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, // a pointer loop
		{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 8, 0, 0},
		make([]byte, 12),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	world, err := topology.Demo(3, 2, 8080)
	if err != nil {
		f.Fatal(err)
	}
	st := State{Distributions: testDists()}
	for _, p := range world {
		st.PoPs = append(st.PoPs, PoP{ID: p.ID, Location: p.Location, AcceptsViewers: p.Tier == topology.TierEdge,
			Addrs: []netip.Addr{netip.MustParseAddrPort(p.Listen).Addr(), netip.MustParseAddr("2001:db8::1")}})
	}
	s, err := New(Options{Zone: testZone, Geo: loopbackDB(f), RateLimit: RateLimit{Rate: -1}})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.SetState(st); err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddr("127.2.0.1")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, udp := range []bool{true, false} {
			out := s.respond(pkt, src, udp, nil)
			if out == nil {
				if len(pkt) >= headerLen && pkt[2]&flagResponse == 0 {
					t.Fatalf("a query (udp %v) got no answer", udp)
				}
				continue
			}
			var r mdns.Msg
			if err := r.Unpack(out); err != nil {
				t.Fatalf("reply does not parse: %v\n%x", err, out)
			}
			if !r.Response || r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
				t.Fatalf("reply is no response to the query: %v", &r)
			}
			var q mdns.Msg
			qok := q.Unpack(pkt) == nil
			if udp {
				limit := minUDPSize
				if qok && q.IsEdns0() != nil {
					limit = min(max(int(q.IsEdns0().UDPSize()), minUDPSize), ednsUDPSize)
				}
				if len(out) > limit {
					t.Fatalf("udp reply of %d bytes, limit %d", len(out), limit)
				}
			}
			if r.Authoritative && (len(r.Question) != 1 || !inZone(r.Question[0].Name)) {
				t.Fatalf("authoritative for %v", r.Question)
			}
			if !qok && r.Rcode != mdns.RcodeFormatError {
				t.Fatalf("unparsable query got %s", mdns.RcodeToString[r.Rcode])
			}
		}
	})
}

func inZone(name string) bool {
	return mdns.IsSubDomain(testZone, name)
}
