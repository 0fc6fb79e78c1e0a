package dns

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// rawECS is a query for name with an OPT record carrying opts as raw
// options (miekg/dns would refuse to pack most malformed ones).
func rawQuery(t testing.TB, name string, opts ...mdns.EDNS0) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	m.Id = 4242
	if opts != nil {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = opts
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecsData(family uint16, source, scope byte, addr ...byte) *mdns.EDNS0_LOCAL {
	return &mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: append([]byte{byte(family >> 8), byte(family), source, scope}, addr...)}
}

// sendRaw writes pkt to the server over UDP and returns the reply.
func sendRaw(t *testing.T, s *Server, pkt []byte) *mdns.Msg {
	t.Helper()
	c, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	r := new(mdns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return r
}

// TestMalformed: over real UDP, malformed ECS options, two OPT records,
// an OPT outside the additional section, several questions and bytes that
// do not parse get FORMERR; a well-formed option is answered; an EDNS
// version other than 0 gets BADVERS.
func TestMalformed(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t)}, w.state(testDists()...))
	name := labelAll + "." + testZone
	twoOPT := func() []byte {
		m := query(name, mdns.TypeA, netip.Prefix{})
		m.SetEdns0(1232, false)
		m.Extra = append(m.Extra, &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT, Class: 512}})
		b, _ := m.Pack()
		return b
	}()
	optInAnswer := func() []byte {
		m := query(name, mdns.TypeA, netip.Prefix{})
		m.Answer = append(m.Answer, &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT, Class: 512}})
		b, _ := m.Pack()
		return b
	}()
	twoQuestions := func() []byte {
		m := query(name, mdns.TypeA, netip.Prefix{})
		m.Question = append(m.Question, m.Question[0])
		b, _ := m.Pack()
		return b
	}()
	twoECS := rawQuery(t, name, ecsData(1, 24, 0, 127, 2, 0), ecsData(1, 24, 0, 127, 2, 0))
	for _, tc := range []struct {
		name  string
		pkt   []byte
		rcode int
	}{
		{"good ECS", rawQuery(t, name, ecsData(1, 24, 0, 127, 2, 0)), mdns.RcodeSuccess},
		{"good ECS /20", rawQuery(t, name, ecsData(1, 20, 0, 127, 2, 0)), mdns.RcodeSuccess},
		{"dig +subnet=0", rawQuery(t, name, ecsData(0, 0, 0)), mdns.RcodeSuccess},
		{"unknown family", rawQuery(t, name, ecsData(3, 24, 0, 127, 2, 0)), mdns.RcodeFormatError},
		{"family 0 with a prefix", rawQuery(t, name, ecsData(0, 24, 0, 127, 2, 0)), mdns.RcodeFormatError},
		{"source longer than IPv4", rawQuery(t, name, ecsData(1, 33, 0, 127, 2, 0, 1, 1)), mdns.RcodeFormatError},
		{"non-zero scope in a query", rawQuery(t, name, ecsData(1, 24, 24, 127, 2, 0)), mdns.RcodeFormatError},
		{"too many address octets", rawQuery(t, name, ecsData(1, 24, 0, 127, 2, 0, 0)), mdns.RcodeFormatError},
		{"too few address octets", rawQuery(t, name, ecsData(1, 24, 0, 127, 2)), mdns.RcodeFormatError},
		{"bits beyond the source", rawQuery(t, name, ecsData(1, 20, 0, 127, 2, 1)), mdns.RcodeFormatError},
		{"truncated option", rawQuery(t, name, &mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: []byte{0, 1, 24}}), mdns.RcodeFormatError},
		{"two ECS options", twoECS, mdns.RcodeFormatError},
		{"two OPT records", twoOPT, mdns.RcodeFormatError},
		{"OPT in the answer section", optInAnswer, mdns.RcodeFormatError},
		{"two questions", twoQuestions, mdns.RcodeFormatError},
		{"garbage after a header", append(rawQuery(t, name)[:12:12], 0xff, 0xfe, 0x01), mdns.RcodeFormatError},
		{"header counts beyond the packet", func() []byte { b := rawQuery(t, name); b[7] = 5; return b }(), mdns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sendRaw(t, s, tc.pkt)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if r.Id != 4242 && r.Id != 0 && tc.rcode == mdns.RcodeFormatError {
				// miekg's SetQuestion ids are random; only rawQuery fixes 4242
				var q mdns.Msg
				if q.Unpack(tc.pkt) == nil && q.Id != r.Id {
					t.Errorf("id %d, want %d", r.Id, q.Id)
				}
			}
			if tc.rcode == mdns.RcodeSuccess && len(r.Answer) == 0 {
				t.Error("no answer to a good query")
			}
		})
	}
	// EDNS version 1: BADVERS, with an OPT record of version 0.
	m := query(name, mdns.TypeA, netip.Prefix{})
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r := exchange(t, s, m, "udp", nil)
	if r.Rcode != mdns.RcodeBadVers || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 {
		t.Errorf("EDNS version 1: %s %v", mdns.RcodeToString[r.Rcode], r.IsEdns0())
	}
	// Other opcodes: NOTIMP.
	m = query(name, mdns.TypeA, netip.Prefix{})
	m.Opcode = mdns.OpcodeNotify
	if r := exchange(t, s, m, "udp", nil); r.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s", mdns.RcodeToString[r.Rcode])
	}
}

// TestNotAnswered: responses and runts get nothing back (answering could
// loop two servers or reflect traffic).
func TestNotAnswered(t *testing.T) {
	s, err := New(Options{Zone: testZone})
	if err != nil {
		t.Fatal(err)
	}
	resp := rawQuery(t, labelAll+"."+testZone)
	resp[2] |= flagResponse
	for name, pkt := range map[string][]byte{"response": resp, "empty": nil, "11 bytes": make([]byte, 11)} {
		if out := s.respond(pkt, netip.MustParseAddr("192.0.2.1"), true, nil); out != nil {
			t.Errorf("%s: answered %x", name, out)
		}
	}
	if st := s.Stats(); st.Dropped != 3 || st.Queries != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestRateLimit: over UDP a prefix gets Burst answers at once, then every
// Slip-th query a truncated reply and the others nothing; the bucket
// refills with time; other prefixes and TCP are not limited.
func TestRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, err := New(Options{Zone: testZone, Now: func() time.Time { return now },
		RateLimit: RateLimit{Rate: 5, Burst: 5, Slip: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(State{PoPs: []PoP{{ID: "IAD1", Location: "IAD", AcceptsViewers: true,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}, Distributions: testDists()}); err != nil {
		t.Fatal(err)
	}
	pkt := rawQuery(t, labelAll+"."+testZone)
	outcome := func(src string, udp bool) string {
		out := s.respond(pkt, netip.MustParseAddr(src), udp, nil)
		if out == nil {
			return "drop"
		}
		var r mdns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if r.Truncated && len(r.Answer) == 0 {
			return "slip"
		}
		if len(r.Answer) == 1 {
			return "answer"
		}
		t.Fatalf("unexpected reply %v", &r)
		return ""
	}
	var got []string
	for range 9 {
		got = append(got, outcome("198.51.100.7", true))
	}
	want := []string{"answer", "answer", "answer", "answer", "answer", "drop", "slip", "drop", "slip"}
	if !equal(got, want) {
		t.Errorf("flood: %v, want %v", got, want)
	}
	if o := outcome("198.51.100.200", true); o != "drop" {
		t.Errorf("same /24: %s, want drop", o)
	}
	if o := outcome("198.51.101.7", true); o != "answer" {
		t.Errorf("other /24: %s", o)
	}
	if o := outcome("198.51.100.7", false); o != "answer" {
		t.Errorf("tcp: %s", o)
	}
	now = now.Add(400 * time.Millisecond) // two tokens
	got = got[:0]
	for range 3 {
		got = append(got, outcome("198.51.100.7", true))
	}
	if want := []string{"answer", "answer", "slip"}; !equal(got, want) {
		t.Errorf("after 400 ms: %v, want %v", got, want)
	}
	if st := s.Stats(); st.RateLimited != 3 || st.Slipped != 3 {
		t.Errorf("stats %+v", st)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRateLimitUDP: through the real socket, a limited client gets the
// truncated reply (Slip 1), and the same query over TCP its answer.
func TestRateLimitUDP(t *testing.T) {
	w := newWorld(t)
	s := start(t, Options{RateLimit: RateLimit{Rate: 0.001, Burst: 1, Slip: 1}}, w.state(testDists()...))
	m := query(labelAll+"."+testZone, mdns.TypeA, netip.Prefix{})
	if r := exchange(t, s, m, "udp", nil); len(r.Answer) != 1 {
		t.Fatalf("first: %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _, err := (&mdns.Client{Net: "udp"}).ExchangeContext(ctx, m, s.Addr().String())
	if err != nil || !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("second: %v %v", r, err)
	}
	if r := exchange(t, s, m, "tcp", nil); len(r.Answer) != 1 {
		t.Fatalf("tcp: %v", r)
	}
}
