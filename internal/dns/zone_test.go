package dns

import (
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestZoneRecords: the zone's own records and the negative answers, over
// UDP and TCP.
func TestZoneRecords(t *testing.T) {
	w := newWorld(t)
	st := w.state(testDists()...)
	st.PoPs = append(st.PoPs, PoP{ID: "LHR9", Location: "LHR", AcceptsViewers: true,
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.9.1"), netip.MustParseAddr("::1")}})
	s := start(t, Options{
		Geo: loopbackDB(t),
		NameServers: []NameServer{
			{Name: "ns1.dns." + testZone, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
			{Name: "ns.example.org."},
		},
	}, st)
	gb := netip.MustParsePrefix("127.7.0.0/16") // London: LHR9, the only PoP with IPv6
	type want struct {
		rcode   int
		answer  []uint16 // types of the answer records, in order
		soaAuth bool     // the SOA in the authority section
		extra   int      // records in the additional section besides OPT
		aa      bool
	}
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		class uint16
		want  want
	}{
		{"apex SOA", testZone, mdns.TypeSOA, 0, want{answer: []uint16{mdns.TypeSOA}, aa: true}},
		{"apex NS with glue", testZone, mdns.TypeNS, 0, want{answer: []uint16{mdns.TypeNS, mdns.TypeNS}, extra: 2, aa: true}},
		{"apex ANY is the SOA alone", testZone, mdns.TypeANY, 0, want{answer: []uint16{mdns.TypeSOA}, aa: true}},
		{"apex A: NODATA", testZone, mdns.TypeA, 0, want{soaAuth: true, aa: true}},
		{"name server A", "ns1.dns." + testZone, mdns.TypeA, 0, want{answer: []uint16{mdns.TypeA}, aa: true}},
		{"name server AAAA", "NS1.dns." + testZone, mdns.TypeAAAA, 0, want{answer: []uint16{mdns.TypeAAAA}, aa: true}},
		{"empty non-terminal: NODATA", "dns." + testZone, mdns.TypeA, 0, want{soaAuth: true, aa: true}},
		{"distribution A", labelAll + "." + testZone, mdns.TypeA, 0, want{answer: []uint16{mdns.TypeA}, aa: true}},
		{"distribution ANY is the A RRset", labelAll + "." + testZone, mdns.TypeANY, 0, want{answer: []uint16{mdns.TypeA}, aa: true}},
		{"distribution MX: NODATA", labelAll + "." + testZone, mdns.TypeMX, 0, want{soaAuth: true, aa: true}},
		{"AAAA without IPv6: NODATA", labelAll + "." + testZone, mdns.TypeAAAA, 0, want{soaAuth: true, aa: true}},
		{"AAAA with IPv6", label6 + "." + testZone, mdns.TypeAAAA, 0, want{answer: []uint16{mdns.TypeAAAA}, aa: true}},
		{"unknown label: NXDOMAIN", "d999999abcdef8." + testZone, mdns.TypeA, 0, want{rcode: mdns.RcodeNameError, soaAuth: true, aa: true}},
		{"below a distribution: NXDOMAIN", "www." + labelAll + "." + testZone, mdns.TypeA, 0, want{rcode: mdns.RcodeNameError, soaAuth: true, aa: true}},
		{"outside the zone: REFUSED", "www.example.com.", mdns.TypeA, 0, want{rcode: mdns.RcodeRefused}},
		{"the parent zone: REFUSED", "example.net.", mdns.TypeSOA, 0, want{rcode: mdns.RcodeRefused}},
		{"a suffix that is no parent: REFUSED", "xcdn.example.net.", mdns.TypeA, 0, want{rcode: mdns.RcodeRefused}},
		{"CHAOS: REFUSED", "version.bind.", mdns.TypeTXT, mdns.ClassCHAOS, want{rcode: mdns.RcodeRefused}},
		{"AXFR: REFUSED", testZone, mdns.TypeAXFR, 0, want{rcode: mdns.RcodeRefused}},
	} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				m := query(tc.qname, tc.qtype, gb)
				if tc.class != 0 {
					m.Question[0].Qclass = tc.class
				}
				r := exchange(t, s, m, network, nil)
				if r.Rcode != tc.want.rcode || r.Authoritative != tc.want.aa || r.RecursionAvailable {
					t.Errorf("rcode %s aa %v ra %v, want %s aa %v", mdns.RcodeToString[r.Rcode], r.Authoritative,
						r.RecursionAvailable, mdns.RcodeToString[tc.want.rcode], tc.want.aa)
				}
				var types []uint16
				for _, rr := range r.Answer {
					types = append(types, rr.Header().Rrtype)
					if rr.Header().Name != tc.qname {
						t.Errorf("owner %q, want the name as asked %q", rr.Header().Name, tc.qname)
					}
				}
				if len(types) != len(tc.want.answer) {
					t.Fatalf("answer %v, want types %v", r.Answer, tc.want.answer)
				}
				for i := range types {
					if types[i] != tc.want.answer[i] {
						t.Errorf("answer %v, want types %v", r.Answer, tc.want.answer)
					}
				}
				if got := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == mdns.TypeSOA; got != tc.want.soaAuth || (!got && len(r.Ns) > 0) {
					t.Errorf("authority %v, want SOA %v", r.Ns, tc.want.soaAuth)
				}
				if tc.want.soaAuth {
					soa := r.Ns[0].(*mdns.SOA)
					if soa.Hdr.Name != testZone || soa.Hdr.Ttl != 60 || soa.Minttl != 60 || soa.Ns != "ns1.dns."+testZone {
						t.Errorf("negative SOA %v", soa)
					}
				}
				extra := 0
				for _, rr := range r.Extra {
					if rr.Header().Rrtype != mdns.TypeOPT {
						extra++
					}
				}
				if extra != tc.want.extra {
					t.Errorf("additional %v, want %d records", r.Extra, tc.want.extra)
				}
				// Every reply to a query with ECS echoes it (RFC 7871
				// §7.2.1), with scope 0 unless the answer was tailored.
				e := replyECS(r)
				if e == nil {
					t.Fatal("ECS not echoed")
				}
				tailored := len(r.Answer) > 0 && strings.HasPrefix(tc.qname, "d")
				if tailored != (e.SourceScope == 16) || (!tailored && e.SourceScope != 0) {
					t.Errorf("scope %d (tailored answer: %v)", e.SourceScope, tailored)
				}
			})
		}
	}
}

// TestSOASerial grows with every state.
func TestSOASerial(t *testing.T) {
	s := start(t, Options{}, State{})
	serial := func() uint32 {
		r := exchange(t, s, query(testZone, mdns.TypeSOA, netip.Prefix{}), "udp", nil)
		return r.Answer[0].(*mdns.SOA).Serial
	}
	a := serial()
	for range 3 {
		if err := s.SetState(State{}); err != nil {
			t.Fatal(err)
		}
	}
	if b := serial(); b != a+3 {
		t.Errorf("serial %d after three states, was %d", b, a)
	}
}

// TestTruncation: an answer too big for the query's UDP size goes out with
// TC=1 and no records; the same query over TCP gets it whole; with a large
// enough EDNS size it fits in UDP.
func TestTruncation(t *testing.T) {
	var addrs []netip.Addr
	for i := range 40 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	s := start(t, Options{MaxAnswers: 64}, State{
		PoPs:          []PoP{{ID: "IAD1", Location: "IAD", AcceptsViewers: true, Addrs: addrs}},
		Distributions: testDists(),
	})
	name := labelAll + "." + testZone
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA) // no EDNS: 512 bytes
	r := exchange(t, s, m, "udp", nil)
	if !r.Truncated || len(r.Answer) != 0 || r.Rcode != mdns.RcodeSuccess {
		t.Errorf("udp without EDNS: tc %v, %d answers, %s", r.Truncated, len(r.Answer), mdns.RcodeToString[r.Rcode])
	}
	r = exchange(t, s, m, "tcp", nil)
	if r.Truncated || len(r.Answer) != 40 {
		t.Errorf("tcp: tc %v, %d answers", r.Truncated, len(r.Answer))
	}
	m.SetEdns0(1232, false)
	r = exchange(t, s, m, "udp", nil)
	if r.Truncated || len(r.Answer) != 40 {
		t.Errorf("udp with EDNS 1232: tc %v, %d answers", r.Truncated, len(r.Answer))
	}
	if st := s.Stats(); st.Truncated != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// TestMaxAnswers: a PoP with more addresses than MaxAnswers answers that
// many, rotated from query to query.
func TestMaxAnswers(t *testing.T) {
	var addrs []netip.Addr
	for i := range 10 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	s := start(t, Options{}, State{
		PoPs:          []PoP{{ID: "IAD1", Location: "IAD", AcceptsViewers: true, Addrs: addrs}},
		Distributions: testDists(),
	})
	seen := map[string]bool{}
	for range 20 {
		r := exchange(t, s, query(labelAll+"."+testZone, mdns.TypeA, netip.Prefix{}), "udp", nil)
		if len(r.Answer) != 4 {
			t.Fatalf("%d answers, want 4", len(r.Answer))
		}
		for _, rr := range r.Answer {
			seen[rr.(*mdns.A).A.String()] = true
		}
	}
	if len(seen) < 8 {
		t.Errorf("20 answers used %d of 10 addresses", len(seen))
	}
}

// TestDefaultNameServer: without NameServers the zone has ns1.<zone>,
// which exists (NODATA, not NXDOMAIN) without addresses.
func TestDefaultNameServer(t *testing.T) {
	s := start(t, Options{}, State{})
	r := exchange(t, s, query(testZone, mdns.TypeNS, netip.Prefix{}), "udp", nil)
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.NS).Ns != "ns1."+testZone {
		t.Errorf("NS: %v", r.Answer)
	}
	r = exchange(t, s, query("ns1."+testZone, mdns.TypeA, netip.Prefix{}), "udp", nil)
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("ns1 A: %s %v %v", mdns.RcodeToString[r.Rcode], r.Answer, r.Ns)
	}
}
