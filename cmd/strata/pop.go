package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/cli"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/world"
)

// cmdPop runs one PoP of a configuration's topology as its own process, for
// deployments over several machines.
func cmdPop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "the PoP of topology.pops to run (e.g. FRA1)")
	path := fs.String("config", "", "configuration file (YAML or JSON) with a topology")
	dataDir := fs.String("data-dir", cli.DefaultDataDir(), "folder for the PoP's disk cache")
	natsURL := fs.String("nats", "", "the control plane's NATS (tls://host:4222[,…]): configuration and invalidations come from there")
	var nf control.NATSClient
	addNATSClientFlags(fs, &nf, "this PoP (the control plane writes <its data dir>/nats-creds/pop-<ID>.creds; `strata nats-creds pop ID` makes one)")
	var logFormat, logLevel string
	addLogFlags(fs, &logFormat, &logLevel)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *id == "" || *path == "" {
		fmt.Fprintln(stderr, "strata pop: --id and --config are required")
		return 2
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "strata pop:", err)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "strata pop:", err)
		return 1
	}
	logWarnings(log, *path, cfg)
	if cfg.Topology.PoPByID(*id) == nil {
		fmt.Fprintf(stderr, "strata pop: no PoP %q under topology.pops of %s\n", *id, *path)
		return 1
	}
	if taken := checkListens(popListens(cfg, *id, *path)); taken != nil {
		fmt.Fprintln(stderr, "strata pop:", taken)
		return 1
	}
	var natsOpts []nats.Option
	if *natsURL != "" {
		if natsOpts, err = nf.Options(*natsURL, control.RolePoP, *id, log); err != nil {
			fmt.Fprintln(stderr, "strata pop:", err)
			return 1
		}
	} else if nf.Creds != "" || nf.CA != "" {
		fmt.Fprintln(stderr, "strata pop: --nats-creds and --nats-ca need --nats")
		return 2
	}
	dev, err := world.EnsureDevTLS(*dataDir, cfg, nil, log)
	if err != nil {
		fmt.Fprintln(stderr, "strata pop:", err)
		return 1
	}
	wo := world.Options{Config: cfg, Only: *id, DataDir: *dataDir, Logger: log, SetMemoryLimit: true}
	wo.UseDevTLS(dev)
	w, err := world.Start(wo)
	if err != nil {
		fmt.Fprintln(stderr, "strata pop:", err)
		return 1
	}
	n := w.Nodes[0]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *natsURL != "" {
		as, err := agent.StartAll(ctx, *natsURL, func(string) ([]nats.Option, error) { return natsOpts, nil }, w, cfg, log)
		if err != nil {
			w.Close()
			fmt.Fprintln(stderr, "strata pop:", err)
			return 1
		}
		defer as.Close()
	}
	parent := n.Parent
	if parent == "" {
		parent = "origin"
	}
	fmt.Fprintf(stdout, "Strata PoP %s (%s, %s) listening on %s; parent: %s\n", n.ID, n.Tier, n.Region, n.URL, parent)
	if n.HTTPSURL != "" {
		fmt.Fprintf(stdout, "HTTPS on %s\n", n.HTTPSURL)
		if dev != nil {
			fmt.Fprintf(stdout, "Development CA: %s\n", dev.CAFile)
			printDevAliases(stdout, dev)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-w.Err():
		w.Close()
		fmt.Fprintln(stderr, "strata pop:", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "strata pop:", err)
		return 1
	}
	return 0
}
