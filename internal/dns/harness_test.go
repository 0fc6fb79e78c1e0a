package dns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/topology"
)

const testZone = "cdn.example.net."

// world is a demo topology: seven regional caches (IAD-R, FRA-R, NRT-R,
// GRU-R, SIN-R, SYD-R, BOM-R) with three edges each, every PoP on its own
// loopback address.
type world struct {
	specs []topology.PoPSpec
	byIP  map[netip.Addr]topology.PoPSpec
}

func newWorld(t testing.TB) *world {
	t.Helper()
	specs, err := topology.Demo(7, 3, 8080)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{specs: specs, byIP: map[netip.Addr]topology.PoPSpec{}}
	for _, s := range specs {
		w.byIP[netip.MustParseAddrPort(s.Listen).Addr()] = s
	}
	return w
}

// state is the world's PoPs (edges accept viewers, regional caches not)
// with dists.
func (w *world) state(dists ...Distribution) State {
	st := State{Distributions: dists}
	for _, s := range w.specs {
		st.PoPs = append(st.PoPs, PoP{
			ID: s.ID, Location: s.Location, AcceptsViewers: s.Tier == topology.TierEdge,
			Addrs: []netip.Addr{netip.MustParseAddrPort(s.Listen).Addr()},
		})
	}
	return st
}

// popOf names the PoP an answer points to.
func (w *world) popOf(t testing.TB, r *mdns.Msg) topology.PoPSpec {
	t.Helper()
	if len(r.Answer) == 0 {
		t.Fatalf("no answer: %v", r)
	}
	var ip net.IP
	switch rr := r.Answer[0].(type) {
	case *mdns.A:
		ip = rr.A
	case *mdns.AAAA:
		ip = rr.AAAA
	default:
		t.Fatalf("answer is %T", rr)
	}
	a, _ := netip.AddrFromSlice(ip)
	s, ok := w.byIP[a.Unmap()]
	if !ok {
		t.Fatalf("answer %s is no PoP of the world", a)
	}
	return s
}

// start runs a server on a free loopback port with opts (Zone defaulting
// to testZone) and st.
func start(t testing.TB, opts Options, st State) *Server {
	t.Helper()
	if opts.Zone == "" {
		opts.Zone = testZone
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// exchange sends m over network ("udp" or "tcp") from local (nil: any
// address) and returns the reply.
func exchange(t testing.TB, s *Server, m *mdns.Msg, network string, local net.Addr) *mdns.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &mdns.Client{Net: network, Dialer: &net.Dialer{LocalAddr: local}}
	r, _, err := c.ExchangeContext(ctx, m, s.Addr().String())
	if err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	if r.Id != m.Id || !r.Response {
		t.Fatalf("reply id %d response %v to query %d", r.Id, r.Response, m.Id)
	}
	return r
}

// query is a question for name and qtype, with EDNS and the client subnet
// ecs when ecs is valid.
func query(name string, qtype uint16, ecs netip.Prefix) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if ecs.IsValid() {
		m.SetEdns0(1232, false)
		family := uint16(1)
		if ecs.Addr().Is6() {
			family = 2
		}
		o := m.IsEdns0()
		o.Option = append(o.Option, &mdns.EDNS0_SUBNET{
			Code: mdns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(ecs.Bits()),
			Address: net.IP(ecs.Masked().Addr().AsSlice()),
		})
	}
	return m
}

// replyECS returns the ECS option of a reply, or nil.
func replyECS(r *mdns.Msg) *mdns.EDNS0_SUBNET {
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*mdns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

// realDBPath is the CC0 country database the test set-up installs.
func realDBPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv("STRATA_GEO_DB")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("STRATA_GEO_DB is not set: run scripts/test.sh, which installs the database (scripts/geo-db.sh)")
		}
		t.Skip("STRATA_GEO_DB not set; scripts/geo-db.sh DIR installs the database")
	}
	return path
}

func realDB(t testing.TB) *geo.DB {
	t.Helper()
	db, err := geo.Open(realDBPath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

var (
	prefixesOnce sync.Once
	prefixes     map[string]netip.Prefix
	prefixesErr  error
)

// realNetworks returns, for each of countries, the widest IPv4 network
// the real database gives it (the first one of that width; "DE/6": the
// widest IPv6 network): real networks
// of those countries, taken from the data itself. Queries carry them only
// as data; nothing is sent to them.
func realNetworks(t testing.TB, countries ...string) map[string]netip.Prefix {
	t.Helper()
	path := realDBPath(t)
	prefixesOnce.Do(func() {
		r, err := maxminddb.Open(path)
		if err != nil {
			prefixesErr = err
			return
		}
		defer r.Close()
		prefixes = map[string]netip.Prefix{}
		for res := range r.Networks() {
			var rec struct {
				CC string `maxminddb:"country_code"`
			}
			if err := res.Decode(&rec); err != nil {
				prefixesErr = err
				return
			}
			p := res.Prefix()
			if rec.CC == "" {
				continue
			}
			key := rec.CC
			if p.Addr().Is6() {
				key += "/6"
			}
			if old, ok := prefixes[key]; !ok || p.Bits() < old.Bits() {
				prefixes[key] = p
			}
		}
	})
	if prefixesErr != nil {
		t.Fatal(prefixesErr)
	}
	out := map[string]netip.Prefix{}
	for _, cc := range countries {
		p, ok := prefixes[cc]
		if !ok {
			t.Fatalf("the database has no network of %s", cc)
		}
		out[cc] = p
	}
	return out
}

// loopbackDB writes the loopback test database (geo.LoopbackTestRanges:
// 127.1/16 US, 127.2/16 DE, ..., city coordinates) and opens it.
func loopbackDB(t testing.TB) *geo.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loopback.mmdb")
	if err := geo.WriteTestDB(path, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
