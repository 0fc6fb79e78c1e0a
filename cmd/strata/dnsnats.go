package main

// strata dns --nats: the DNS router alone, on its own machine. It reads the
// configuration buckets from the control plane's NATS as a PoP's agent does
// (the same wire.Snapshot document, the same strict parse) and hears the
// PoPs' heartbeats for their health, under its own dns-<ID> identity.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/cli"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/dns"
)

// dnsFlags are the flags of strata dns --nats.
type dnsFlags struct {
	nats    string
	client  control.NATSClient
	id      string // the dns-<ID> NATS identity; default: the one of --nats-creds
	config  string // pop, topology and dns sections
	zone    string // overrides dns.zone
	listen  string // overrides dns.listen
	dataDir string
}

// cmdDNS is "strata dns": the router alone with --nats, or the operator's
// "strata dns explain".
func cmdDNS(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "explain" {
		return cli.DNS(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f dnsFlags
	fs.StringVar(&f.nats, "nats", "", "the control plane's NATS (tls://host:4222[,…]): distributions and PoP health come from there (required)")
	addNATSClientFlags(fs, &f.client, "this DNS server (`strata nats-creds dns ID` on the control plane's machine makes one)")
	fs.StringVar(&f.id, "id", "", "the DNS server's NATS identity, dns-ID (default: the one of --nats-creds)")
	fs.StringVar(&f.config, "config", "", "configuration file: its dns section (zone, listen, ttl, defaultRegion, geoDatabase), and the pop and topology sections (PoP addresses)")
	fs.StringVar(&f.zone, "zone", "", "the DNS zone (default: dns.zone of --config)")
	fs.StringVar(&f.listen, "listen", "", "address, UDP and TCP (default: dns.listen of --config, else "+config.DefaultDNSListen+")")
	fs.StringVar(&f.dataDir, "data-dir", cli.DefaultDataDir(), "folder whose country.mmdb is the default geo database")
	var logFormat, logLevel string
	addLogFlags(fs, &logFormat, &logLevel)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if f.nats == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: strata dns --nats URL --nats-creds F [--nats-ca F] [--listen ADDR] [--config F] [--zone Z]\n       strata dns explain --name NAME --client IP")
		return 2
	}
	return serveUntilSignal("strata dns", stderr, logFormat, logLevel, func(ctx context.Context, log *slog.Logger) error {
		return runDNS(ctx, f, log, stdout)
	})
}

// runDNS runs the router until ctx ends.
func runDNS(ctx context.Context, f dnsFlags, log *slog.Logger, out io.Writer) error {
	base := &config.Config{}
	if f.config != "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			return err
		}
		logWarnings(log, f.config, cfg)
		base = cfg
	}
	if f.zone != "" {
		base.DNS.Zone = f.zone
	}
	if f.listen != "" {
		base.DNS.Listen = f.listen
	}
	if base.DNS.Listen == "" {
		base.DNS.Listen = config.DefaultDNSListen
	}
	if base.DNS.Zone == "" {
		return errors.New("no zone: --zone, or dns.zone in --config")
	}
	id := f.id
	if id == "" && f.client.Creds != "" {
		b, err := os.ReadFile(f.client.Creds)
		if err != nil {
			return fmt.Errorf("--nats-creds: %w", err)
		}
		role, i, err := control.CredsIdentity(b)
		if err != nil || role != control.RoleDNS {
			return fmt.Errorf("--nats-creds %s: not the credentials of a DNS server (strata nats-creds dns ID)", f.client.Creds)
		}
		id = i
	}
	if id == "" {
		return errors.New("--id or --nats-creds is required")
	}
	opts, err := f.client.Options(f.nats, control.RoleDNS, id, log)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(f.nats, append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return fmt.Errorf("NATS %s: %w", f.nats, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	hbs, err := agent.FollowHeartbeats(nc, nil)
	if err != nil {
		return fmt.Errorf("NATS %s: heartbeats: %w", f.nats, err)
	}
	defer hbs.Close()

	// The distributions of the latest configuration the strict parse took.
	var dists atomic.Pointer[[]dns.Distribution]
	first := make(chan struct{})
	var once sync.Once
	wctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		agent.WatchConfig(wctx, js, func(snap wire.Snapshot, version uint64) {
			cfg, err := snap.Parse(base, "control plane configuration")
			if err != nil {
				log.Warn("configuration refused, keeping the running one", "version", version, "err", err.Error())
				return
			}
			ds := dns.DistributionsInZone(base.DNS.Zone, cfg.Distributions)
			dists.Store(&ds)
			once.Do(func() { close(first) })
		})
	}()
	defer func() { cancel(); <-watched }()
	select {
	case <-first:
	case <-ctx.Done():
		return nil
	}

	r, err := openDNS(base, f.dataDir, false, log)
	if err != nil {
		return err
	}
	var warned sync.Map // PoPs outside the catalog, logged once
	src := dns.Sources{
		State: func(context.Context) (dns.State, error) {
			var nodes []dnsNode
			for _, p := range hbs.PoPs() {
				nodes = append(nodes, dnsNode{ID: p.PoP, Location: p.Location, Tier: p.Tier, URL: p.URL})
			}
			var pops []dns.PoP
			for _, n := range nodes {
				l := log
				if _, seen := warned.LoadOrStore(n.ID, true); seen {
					l = nil
				}
				pops = append(pops, dnsPoPs(base, []dnsNode{n}, l)...)
			}
			return dns.State{PoPs: pops, Distributions: *dists.Load()}, nil
		},
		Health: func(context.Context) (map[string]bool, error) {
			h := map[string]bool{}
			for _, p := range hbs.PoPs() {
				h[p.PoP] = p.Healthy
			}
			return h, nil
		},
	}
	if err := r.follow(ctx, src); err != nil {
		return err // follow closed r
	}
	defer r.Close()
	fmt.Fprintf(out, "DNS router for zone %s on %s, UDP and TCP: distributions and PoP health from NATS %s as %s\n",
		r.srv.Zone(), r.Addr, f.nats, control.UserName(control.RoleDNS, id))
	<-ctx.Done()
	return nil
}
