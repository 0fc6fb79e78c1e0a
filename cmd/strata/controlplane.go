package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/world"
)

// controlFlags are the flags of the processes that run the control plane.
type controlFlags struct {
	nats        string // external NATS URL(s); "" = embedded
	natsClient  control.NATSClient
	natsListen  string // embedded NATS client address
	natsTLSCert string // embedded NATS server's certificate
	natsTLSKey  string
	apiListen   string // REST API address
}

func addControlFlags(fs *flag.FlagSet, f *controlFlags) {
	fs.StringVar(&f.nats, "nats", "", "external NATS cluster, nats://host:4222[,nats://…] (default: an embedded NATS server with JetStream in the data dir)")
	addNATSClientFlags(fs, &f.natsClient, "the control plane, for an external --nats")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server (0.0.0.0:4222 lets PoPs on other machines connect, over TLS)")
	fs.StringVar(&f.natsTLSCert, "nats-tls-cert", "", "certificate (PEM) of the embedded NATS server (default beyond loopback: one from the development CA in <data dir>/tls)")
	fs.StringVar(&f.natsTLSKey, "nats-tls-key", "", "private key (PEM) of --nats-tls-cert")
	fs.StringVar(&f.apiListen, "api-listen", "127.0.0.1:8081", "address of the control plane's REST API")
}

// planeOptions are the control plane's options from the flags.
func planeOptions(dataDir string, f controlFlags, cfg *config.Config, apply bool, log *slog.Logger) control.PlaneOptions {
	return control.PlaneOptions{DataDir: dataDir, NATS: f.nats, NATSClient: f.natsClient, NATSListen: f.natsListen,
		NATSTLSCert: f.natsTLSCert, NATSTLSKey: f.natsTLSKey, APIListen: f.apiListen, Config: cfg, Apply: apply, Logger: log}
}

// agents links every PoP of a world to the control plane, each over its
// own NATS connection.
type agents struct {
	list []*agent.Agent
	ncs  []*nats.Conn
}

// startAgents connects each PoP of w to NATS at natsURL with the options
// opts(PoP id) returns.
func startAgents(ctx context.Context, natsURL string, opts func(id string) ([]nats.Option, error), w *world.World, base *config.Config, log *slog.Logger) (*agents, error) {
	as := &agents{}
	for _, n := range w.Nodes {
		o, err := opts(n.ID)
		if err != nil {
			as.Close()
			return nil, fmt.Errorf("PoP %s: %w", n.ID, err)
		}
		nc, err := nats.Connect(natsURL, append(o, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
			nats.RetryOnFailedConnect(true))...)
		if err != nil {
			as.Close()
			return nil, fmt.Errorf("PoP %s: NATS %s: %w", n.ID, natsURL, err)
		}
		as.ncs = append(as.ncs, nc)
		a, err := agent.Start(ctx, agent.Options{NC: nc, PoP: n.PoP, Base: base, Logger: log,
			Info: wire.Heartbeat{PoP: n.ID, Tier: n.Tier, Location: n.Location, Region: n.Region, URL: n.URL, Egress: n.Egress}})
		if err != nil {
			as.Close()
			return nil, err
		}
		as.list = append(as.list, a)
	}
	return as, nil
}

// waitReady waits until every agent applied the store's configuration.
func (as *agents) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for _, a := range as.list {
		select {
		case <-a.Ready():
		case <-ctx.Done():
			return errors.New("PoPs did not receive the configuration from the control plane in time")
		}
	}
	return nil
}

func (as *agents) Close() {
	for _, a := range as.list {
		a.Close()
	}
	for _, nc := range as.ncs {
		nc.Close()
	}
}
