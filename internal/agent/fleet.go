package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/world"
)

// Fleet links every PoP of a world to the control plane, each over its own
// NATS connection.
type Fleet struct {
	list []*Agent
	ncs  []*nats.Conn
}

// StartAll connects each PoP of w to NATS at natsURL with the options
// opts(PoP id) returns, and starts its agent with base as the local
// configuration. It returns at once; WaitReady waits for the first
// configuration.
func StartAll(ctx context.Context, natsURL string, opts func(id string) ([]nats.Option, error), w *world.World, base *config.Config, log *slog.Logger) (*Fleet, error) {
	f := &Fleet{}
	for _, n := range w.Nodes {
		o, err := opts(n.ID)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("PoP %s: %w", n.ID, err)
		}
		nc, err := nats.Connect(natsURL, append(o, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
			nats.RetryOnFailedConnect(true))...)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("PoP %s: NATS %s: %w", n.ID, natsURL, err)
		}
		f.ncs = append(f.ncs, nc)
		a, err := Start(ctx, Options{NC: nc, PoP: n.PoP, Base: base, Logger: log,
			Info: wire.Heartbeat{PoP: n.ID, Tier: n.Tier, Location: n.Location, Region: n.Region, URL: n.URL, Egress: n.Egress}})
		if err != nil {
			f.Close()
			return nil, err
		}
		f.list = append(f.list, a)
	}
	return f, nil
}

// WaitReady waits up to d until every agent applied the store's
// configuration.
func (f *Fleet) WaitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for _, a := range f.list {
		select {
		case <-a.Ready():
		case <-ctx.Done():
			return errors.New("PoPs did not receive the configuration from the control plane in time")
		}
	}
	return nil
}

// Close stops the agents and closes their connections.
func (f *Fleet) Close() {
	for _, a := range f.list {
		a.Close()
	}
	for _, nc := range f.ncs {
		nc.Close()
	}
}
