package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/topology"
)

// Options configure a [Server]. Zero values are documented defaults.
type Options struct {
	// Zone is the zone the server is authoritative for, e.g.
	// "cdn.example.net." (the final dot may be left out). Required.
	Zone string
	// TTL of the answers for distributions, and the negative-caching TTL
	// (the SOA minimum). 0 means 60 s, as CloudFront's answers.
	TTL time.Duration
	// DefaultRegion is the pricing region (na, eu, ...) whose point stands
	// for viewers the geo database cannot place. "" means na.
	DefaultRegion string
	// Geo locates viewers (a PoP's geo database: a country database or a
	// city database with coordinates). nil places every viewer in the
	// default region.
	Geo *geo.DB
	// NameServers are the zone's NS records, with addresses for those
	// inside the zone (glue and their A/AAAA answers). Empty means one,
	// ns1.<zone>, without addresses.
	NameServers []NameServer
	// MaxAnswers is the most addresses of a PoP in one answer (rotated
	// when it has more). 0 means 4, as CloudFront answers four.
	MaxAnswers int
	// RateLimit limits UDP responses per client prefix.
	RateLimit RateLimit
	// TCPIdleTimeout closes a TCP connection that sends no query for so
	// long. 0 means 10 s.
	TCPIdleTimeout time.Duration
	// Logger receives the few events worth logging. nil discards them.
	Logger *slog.Logger
	// Now is the clock of rate limiting and SOA serials. nil is time.Now.
	Now func() time.Time
}

// NameServer is one NS record of the zone.
type NameServer struct {
	Name  string // fully qualified; case does not matter
	Addrs []netip.Addr
}

// Server is the authoritative DNS server of the CDN's zone: it answers a
// distribution's name with the addresses of the PoP nearest the viewer
// (the EDNS Client Subnet, else the resolver) among the healthy PoPs that
// accept viewers inside the distribution's price class. It is safe for
// concurrent use; its state and health are swapped in atomically.
type Server struct {
	zone          string
	ttl           uint32
	geo           *geo.DB
	defaultRegion string
	defaultPoint  point
	nameServers   []NameServer
	hosts         map[string][]netip.Addr // in-zone name server names
	ents          map[string]bool         // empty non-terminals above them
	maxAnswers    int
	idle          time.Duration
	limit         *limiter
	log           *slog.Logger
	now           func() time.Time

	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // serializes SetState and SetHealth
	state    *snapshot  // the compiled state without health
	healthFn func(string) bool

	stats counters

	lnMu    sync.Mutex
	udp     net.PacketConn
	tcp     net.Listener
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	bufPool sync.Pool
}

// New checks opts and returns a server with an empty state: every name in
// the zone but the apex and its name servers is NXDOMAIN until
// [Server.SetState].
func New(opts Options) (*Server, error) {
	zone := strings.ToLower(opts.Zone)
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	if _, ok := mdns.IsDomainName(zone); !ok || zone == "." {
		return nil, fmt.Errorf("dns: zone %q is not a domain name", opts.Zone)
	}
	s := &Server{
		zone: zone, ttl: 60, geo: opts.Geo, maxAnswers: opts.MaxAnswers,
		defaultRegion: opts.DefaultRegion, idle: opts.TCPIdleTimeout,
		hosts: map[string][]netip.Addr{}, ents: map[string]bool{},
		log: opts.Logger, now: opts.Now, conns: map[net.Conn]struct{}{},
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("dns: negative TTL %s", opts.TTL)
	}
	if opts.TTL > 0 {
		s.ttl = uint32(max(opts.TTL/time.Second, 1))
	}
	if s.defaultRegion == "" {
		s.defaultRegion = topology.RegionNorthAmerica
	}
	pt, ok := thePlaces().region[s.defaultRegion]
	if !ok {
		return nil, fmt.Errorf("dns: default region %q is not a pricing region (na, eu, me, sa, jp, au, ap, in)", s.defaultRegion)
	}
	s.defaultPoint = pt
	if s.maxAnswers <= 0 {
		s.maxAnswers = 4
	}
	if s.idle <= 0 {
		s.idle = 10 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.limit = newLimiter(opts.RateLimit, s.now)
	nss := opts.NameServers
	if len(nss) == 0 {
		nss = []NameServer{{Name: "ns1." + zone}}
	}
	for i, ns := range nss {
		name := strings.ToLower(ns.Name)
		if !strings.HasSuffix(name, ".") {
			name += "."
		}
		if _, ok := mdns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("dns: name server %d: %q is not a domain name", i, ns.Name)
		}
		if name != zone && strings.HasSuffix(name, "."+zone) {
			rel := strings.TrimSuffix(name, "."+zone)
			s.hosts[name] = append(s.hosts[name], ns.Addrs...)
			labels := strings.Split(rel, ".")
			for i := 1; i < len(labels); i++ {
				s.ents[strings.Join(labels[i:], ".")+"."+zone] = true
			}
		} else if len(ns.Addrs) > 0 {
			return nil, fmt.Errorf("dns: name server %s is outside zone %s: it takes no addresses here", name, zone)
		}
		s.nameServers = append(s.nameServers, NameServer{Name: name, Addrs: ns.Addrs})
	}
	for name := range s.hosts {
		delete(s.ents, name)
	}
	if err := s.SetState(State{}); err != nil {
		return nil, err
	}
	s.bufPool.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s, nil
}

// isHost reports whether name is an in-zone name server's name.
func (s *Server) isHost(name string) bool {
	_, ok := s.hosts[name]
	return ok
}

// Zone returns the zone, lower case, fully qualified.
func (s *Server) Zone() string { return s.zone }

// Name returns a distribution label's fully qualified name in the zone.
func (s *Server) Name(label string) string { return strings.ToLower(label) + "." + s.zone }

// SetState checks st, compiles it and swaps it in; the PoPs' health stays
// as last set by [Server.SetHealth]. On error the old state keeps serving.
// The SOA serial increases with every state.
func (s *Server) SetState(st State) error {
	sn, err := compile(st)
	if err != nil {
		return err
	}
	var taken []error
	for label, d := range sn.dists {
		if name := label + "." + s.zone; s.isHost(name) || s.ents[name] {
			taken = append(taken, fmt.Errorf("%w: distribution %s: %s is a name server's name", ErrState, d.ID, name))
		}
	}
	if len(taken) > 0 {
		return errors.Join(taken...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	serial := uint32(s.now().Unix())
	if s.state != nil && serial <= s.state.serial {
		serial = s.state.serial + 1
	}
	sn.serial = serial
	s.state = sn
	s.snap.Store(sn.withHealth(s.healthFn))
	return nil
}

// SetHealth sets which PoPs are healthy: healthy is asked once for every
// PoP of the state now, and again for the PoPs of each later state. nil
// means all healthy (the default). The next query sees the change.
func (s *Server) SetHealth(healthy func(popID string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthFn = healthy
	s.snap.Store(s.state.withHealth(healthy))
}

// Start listens on addr ("127.0.0.1:5353"; port 0 picks one) over UDP and
// TCP, on the same port, and serves until Close.
func (s *Server) Start(addr string) error {
	var err error
	for range 10 { // a free TCP port may be taken over UDP: try another
		var ln net.Listener
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			s.Serve(pc, ln)
			return nil
		}
		_ = ln.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return fmt.Errorf("dns: listen udp %s: %w", addr, err)
}

// Serve serves queries on pc (UDP) and ln (TCP), either of which may be
// nil, until Close. It returns at once.
func (s *Server) Serve(pc net.PacketConn, ln net.Listener) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	s.udp, s.tcp = pc, ln
	if pc != nil {
		for range max(runtime.GOMAXPROCS(0), 2) {
			s.wg.Add(1)
			go s.serveUDP(pc)
		}
	}
	if ln != nil {
		s.wg.Add(1)
		go s.serveTCP(ln)
	}
}

// Addr returns the address the server listens on (its UDP and TCP port
// are the same), or an invalid one before Start.
func (s *Server) Addr() netip.AddrPort {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	var a net.Addr
	if s.udp != nil {
		a = s.udp.LocalAddr()
	} else if s.tcp != nil {
		a = s.tcp.Addr()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// Close stops serving and waits for the server's goroutines.
func (s *Server) Close() error {
	s.lnMu.Lock()
	if s.closed {
		s.lnMu.Unlock()
		return nil
	}
	s.closed = true
	var errs []error
	if s.udp != nil {
		errs = append(errs, s.udp.Close())
	}
	if s.tcp != nil {
		errs = append(errs, s.tcp.Close())
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.lnMu.Unlock()
	s.wg.Wait()
	return errors.Join(errs...)
}

// serveUDP is one of the UDP readers: each answers the packets it reads
// itself, with its own buffers.
func (s *Server) serveUDP(pc net.PacketConn) {
	defer s.wg.Done()
	defer s.recoverLoop("udp")
	in := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	udp, _ := pc.(*net.UDPConn)
	for {
		var n int
		var src netip.AddrPort
		var err error
		if udp != nil {
			n, src, err = udp.ReadFromUDPAddrPort(in)
		} else {
			var a net.Addr
			n, a, err = pc.ReadFrom(in)
			src, _ = netip.ParseAddrPort(a.String())
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp := s.respond(in[:n], src.Addr(), true, out)
		if resp == nil {
			continue
		}
		if udp != nil {
			_, _ = udp.WriteToUDPAddrPort(resp, src)
		} else {
			_, _ = pc.WriteTo(resp, net.UDPAddrFromAddrPort(src))
		}
		if cap(resp) <= 65535 {
			out = resp[:0]
		}
	}
}

// serveTCP accepts TCP connections: each carries length-prefixed queries
// (RFC 7766), answered in order, until it is idle for TCPIdleTimeout.
func (s *Server) serveTCP(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		s.lnMu.Lock()
		if s.closed {
			s.lnMu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.lnMu.Unlock()
		go s.serveConn(c)
	}
}

// maxTCPQueries is the most queries one TCP connection may send.
const maxTCPQueries = 1000

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		_ = c.Close()
		s.lnMu.Lock()
		delete(s.conns, c)
		s.lnMu.Unlock()
	}()
	defer s.recoverLoop("tcp")
	src, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	bp := s.bufPool.Get().(*[]byte)
	defer s.bufPool.Put(bp)
	var lenBuf [2]byte
	in := make([]byte, 0, 512)
	for range maxTCPQueries {
		_ = c.SetReadDeadline(time.Now().Add(s.idle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if cap(in) < n {
			in = make([]byte, n)
		}
		in = in[:n]
		if _, err := io.ReadFull(c, in); err != nil {
			return
		}
		resp := s.respond(in, src.Addr(), false, (*bp)[:0])
		if resp == nil {
			return
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		_ = c.SetWriteDeadline(time.Now().Add(s.idle))
		if _, err := c.Write(out); err != nil {
			return
		}
		if cap(resp) <= 65535 {
			*bp = resp[:0]
		}
	}
}

// recoverLoop keeps a panic in one reader from taking the process down;
// the fuzz target makes sure there is none to recover.
func (s *Server) recoverLoop(where string) {
	if p := recover(); p != nil {
		s.log.Error("dns: panic serving", "net", where, "panic", fmt.Sprint(p))
	}
}

// Stats are the server's counters since it started.
type Stats struct {
	Queries     uint64 // packets and TCP messages received
	Dropped     uint64 // not answered: responses, runts
	FormErr     uint64 // FORMERR sent
	Refused     uint64 // REFUSED sent: outside the zone, other classes, zone transfers
	NXDomain    uint64
	Truncated   uint64 // UDP answers sent with TC=1 because they did not fit
	RateLimited uint64 // UDP queries not answered by rate limiting
	Slipped     uint64 // UDP queries answered TC=1 by rate limiting
	ServFail    uint64
}

type counters struct {
	queries, dropped, formErr, refused, nxdomain, truncated, rateLimited, slipped, servFail atomic.Uint64
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Queries: c.queries.Load(), Dropped: c.dropped.Load(), FormErr: c.formErr.Load(),
		Refused: c.refused.Load(), NXDomain: c.nxdomain.Load(), Truncated: c.truncated.Load(),
		RateLimited: c.rateLimited.Load(), Slipped: c.slipped.Load(), ServFail: c.servFail.Load(),
	}
}
