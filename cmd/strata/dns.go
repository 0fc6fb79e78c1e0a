package main

// The DNS router beside the PoPs of strata run (internal/dns): it answers
// the distributions' domain names in dns.zone with the nearest healthy PoP,
// reading the distributions from the control plane's store and the PoPs'
// health from their heartbeats.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/dns"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/topology"
	"github.com/strata-cdn/strata/internal/world"
)

// dnsRouter is a running DNS router and what stops it.
type dnsRouter struct {
	srv   *dns.Server
	geo   *geo.DB
	stop  func()
	Addr  netip.AddrPort
	Moved bool // the configured address was taken: a free port instead
}

func (r *dnsRouter) Close() {
	if r == nil {
		return
	}
	r.stop()
	r.srv.Close()
	r.geo.Close()
}

// startDNS starts the router of cfg.DNS (nil when it has no zone) for the
// PoPs of w. With a control plane the distributions come from its store
// and the health from its PoPs' heartbeats (read every second); without,
// from cfg, all healthy. freePort lets it take a free port when the
// configured one is taken (the demo).
func startDNS(ctx context.Context, cfg *config.Config, w *world.World, cp *control.Plane, dataDir string, freePort bool, log *slog.Logger) (*dnsRouter, error) {
	d := cfg.DNS
	if d.Zone == "" {
		return nil, nil
	}
	r, err := openDNS(cfg, dataDir, freePort, log)
	if err != nil {
		return nil, err
	}
	var nodes []dnsNode
	for _, n := range w.Nodes {
		nodes = append(nodes, dnsNode{ID: n.ID, Location: n.Location, Tier: n.Tier, URL: n.URL})
	}
	pops := dnsPoPs(cfg, nodes, log)
	src := dns.Sources{State: func(context.Context) (dns.State, error) {
		return dns.State{PoPs: pops, Distributions: dns.DistributionsInZone(d.Zone, cfg.Distributions)}, nil
	}}
	if cp != nil {
		store := cp.Server().Store()
		src.State = func(ctx context.Context) (dns.State, error) {
			stored, err := store.Config(ctx)
			if err != nil {
				return dns.State{}, err
			}
			return dns.State{PoPs: pops, Distributions: dns.DistributionsInZone(d.Zone, stored.Distributions)}, nil
		}
		src.Health = func(context.Context) (map[string]bool, error) {
			h := map[string]bool{}
			for _, p := range cp.Server().PoPs() {
				h[p.PoP] = p.Healthy
			}
			return h, nil
		}
	}
	if err := r.follow(ctx, src); err != nil {
		return nil, err
	}
	return r, nil
}

// openDNS opens the geo database of cfg.DNS (or of cfg.PoP, or
// <dataDir>/country.mmdb) and starts the router on dns.listen, answering
// nothing until it follows its sources.
func openDNS(cfg *config.Config, dataDir string, freePort bool, log *slog.Logger) (*dnsRouter, error) {
	d := cfg.DNS
	path := d.GeoDatabase
	if path == "" {
		path = cfg.PoP.GeoDatabase
	}
	if def := filepath.Join(dataDir, "country.mmdb"); path == "" && dataDir != "" {
		if _, err := os.Stat(def); err == nil {
			path = def
		}
	}
	r := &dnsRouter{stop: func() {}}
	if path != "" {
		db, err := geo.Open(path)
		if err != nil {
			return nil, fmt.Errorf("dns.geoDatabase: %w", err)
		}
		r.geo = db
	}
	srv, err := dns.New(dns.Options{Zone: d.Zone, TTL: time.Duration(d.TTL), DefaultRegion: d.DefaultRegion, Geo: r.geo,
		Logger: log.With("stage", "dns")})
	if err != nil {
		r.geo.Close()
		return nil, fmt.Errorf("dns: %w", err)
	}
	r.srv = srv
	if err := srv.Start(d.Listen); err != nil {
		if !freePort {
			r.geo.Close()
			return nil, fmt.Errorf("dns.listen: %w", err)
		}
		log.Info("the DNS router's default port is taken; it listens on a free one", "taken", d.Listen)
		if err := srv.Start("127.0.0.1:0"); err != nil {
			r.geo.Close()
			return nil, fmt.Errorf("dns: %w", err)
		}
		r.Moved = true
	}
	r.Addr = srv.Addr()
	return r, nil
}

// follow makes the router read src (Server.Follow); on an error of the
// first read the router is closed.
func (r *dnsRouter) follow(ctx context.Context, src dns.Sources) error {
	stop, err := r.srv.Follow(ctx, src)
	r.stop = stop
	if err != nil {
		r.Close()
		return fmt.Errorf("dns: %w", err)
	}
	return nil
}

// dnsNode is a PoP as the router learns of it: from the running world, or
// from its heartbeats.
type dnsNode struct{ ID, Location, Tier, URL string }

// dnsPoPs are the PoPs of the running world as the router sees them: where
// they listen, and whether they serve viewers. A PoP outside the catalog
// (the single PoP of a configuration without a topology) cannot be placed
// and is left out.
func dnsPoPs(cfg *config.Config, nodes []dnsNode, log *slog.Logger) []dns.PoP {
	var pops []dns.PoP
	for _, n := range nodes {
		_, edge := topology.LocationByID(n.Location)
		_, regional := topology.RegionalCacheByID(n.Location)
		if !edge && !regional {
			if log != nil {
				log.Info("the DNS router leaves out a PoP outside the catalog", "pop", n.ID, "location", n.Location)
			}
			continue
		}
		p := dns.PoP{ID: n.ID, Location: n.Location, AcceptsViewers: n.Tier != topology.TierRegional}
		tp := cfg.Topology.PoPByID(n.ID)
		if tp != nil && tp.AcceptViewers {
			p.AcceptsViewers = true
		}
		if tp != nil && len(tp.Addresses) > 0 {
			p.Addrs = dns.PoPsFromTopology(config.Topology{PoPs: []config.TopologyPoP{*tp}})[0].Addrs
		} else if u, err := url.Parse(n.URL); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil && !a.IsUnspecified() {
				p.Addrs = []netip.Addr{a.Unmap()}
			}
		}
		pops = append(pops, p)
	}
	return pops
}

// printDNS says where the router listens and gives a dig line per
// distribution it answers (the demo's with a client subnet in Germany, from
// the demo's geo database).
func (r *dnsRouter) print(out io.Writer, cfg *config.Config, demo bool) {
	if r == nil {
		return
	}
	moved := ""
	if r.Moved {
		moved = " (" + cfg.DNS.Listen + " was taken)"
	}
	fmt.Fprintf(out, "\nDNS router for zone %s on %s, UDP and TCP%s: each distribution's name answers with the nearest healthy PoP\n",
		r.srv.Zone(), r.Addr, moved)
	for _, d := range dns.DistributionsInZone(cfg.DNS.Zone, cfg.Distributions) {
		cmd := fmt.Sprintf("  dig @%s -p %d %s", r.Addr.Addr(), r.Addr.Port(), r.srv.Name(d.Label))
		if demo {
			fmt.Fprintf(out, "%s +subnet=127.2.0.0/16    # a viewer in Germany (the demo's geo database): a PoP in Europe\n", cmd)
			fmt.Fprintf(out, "%s +subnet=127.3.0.0/16    # in Japan\n", cmd)
		} else {
			fmt.Fprintln(out, cmd)
		}
	}
}
