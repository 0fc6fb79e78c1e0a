// Package agent connects one PoP to the control plane over NATS JetStream
// (the contract is internal/control/wire): it watches the configuration
// buckets and applies each new whole snapshot to the PoP, consumes
// invalidations through the PoP's own durable consumer (so a PoP that was
// cut off replays what it missed), acknowledges each one it applied, and
// announces the PoP with heartbeats.
//
// WatchConfig and FollowHeartbeats are the same reading of the
// configuration buckets and of the PoPs' heartbeats for other processes on
// NATS: a DNS server on its own machine (strata dns --nats).
//
// The PoP keeps serving with the configuration it has while the control
// plane or NATS is away; nats.go reconnects, and the watches and the
// consumer resume.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/pop"
)

// Options configure an agent.
type Options struct {
	NC   *nats.Conn // the PoP's own connection
	PoP  *pop.PoP
	Base *config.Config // the local configuration: its pop and topology sections are kept
	Info wire.Heartbeat // PoP, Tier, Location, Region, URL, Egress
	// Applied, if set, is called after each configuration change the PoP
	// took (err == nil) or refused.
	Applied func(version uint64, err error)
	Logger  *slog.Logger
	Now     func() time.Time
}

// Agent is one PoP's link to the control plane.
type Agent struct {
	o       Options
	js      jetstream.JetStream
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	version atomic.Uint64
	cfgErr  atomic.Pointer[string]
	log     *slog.Logger
	ready   chan struct{}
	// warned are the inert-field warnings last logged: at first those of
	// Base, which the process reported when it loaded it. Only apply
	// touches it after Start.
	warned []config.Warning
}

// Start connects the PoP to the control plane. It returns at once; the
// first configuration is applied when the buckets have been read (Ready).
func Start(ctx context.Context, o Options) (*Agent, error) {
	if o.NC == nil || o.PoP == nil || o.Base == nil {
		return nil, errors.New("agent: NC, PoP and Base are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	js, err := jetstream.New(o.NC)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &Agent{o: o, js: js, cancel: cancel, log: o.Logger.With("stage", "agent", "pop", o.Info.PoP), ready: make(chan struct{}), warned: o.Base.Warnings()}
	a.wg.Add(3)
	go a.watchConfig(ctx)
	go a.consumeInvalidations(ctx)
	go a.heartbeat(ctx)
	return a, nil
}

// Ready is closed once the first configuration from the store was applied
// (or refused).
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Version is the configuration version the PoP serves.
func (a *Agent) Version() uint64 { return a.version.Load() }

// Close stops the agent (the PoP keeps serving).
func (a *Agent) Close() {
	a.cancel()
	a.wg.Wait()
}

// watchConfig applies a new snapshot after every batch of changes to the
// configuration buckets (WatchConfig).
func (a *Agent) watchConfig(ctx context.Context) {
	defer a.wg.Done()
	WatchConfig(ctx, a.js, func(snap wire.Snapshot, version uint64) {
		if version == a.version.Load() && a.cfgErr.Load() == nil && isClosed(a.ready) {
			return
		}
		err := a.apply(snap)
		if err != nil {
			msg := err.Error()
			a.cfgErr.Store(&msg)
			a.log.Warn("configuration refused, keeping the running one", "version", version, "err", msg)
		} else {
			a.cfgErr.Store(nil)
			a.version.Store(version)
		}
		if a.o.Applied != nil {
			a.o.Applied(version, err)
		}
		if !isClosed(a.ready) {
			close(a.ready)
		}
	})
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// apply builds a whole configuration from the buckets' snapshot and the
// local file's pop and topology sections as the control plane makes it
// (wire.Snapshot.Parse: the strict decoder, which refuses unknown fields,
// then validation), and swaps it into the PoP.
func (a *Agent) apply(snap wire.Snapshot) error {
	cfg, err := snap.Parse(a.o.Base, "control plane configuration")
	if err != nil {
		return err
	}
	if err := a.o.PoP.Apply(cfg); err != nil {
		return err
	}
	// Fields that are set but not acted on yet are logged when that set
	// changes, not with every snapshot.
	if ws := cfg.Warnings(); !slices.Equal(ws, a.warned) {
		for _, w := range ws {
			a.log.Warn("configuration field not yet acted on", "source", "control plane", "field", w.Path, "warning", w.Msg)
		}
		a.warned = ws
	}
	return nil
}

// consumeInvalidations applies each invalidation once, through the PoP's
// durable consumer, and acknowledges it to the control plane.
func (a *Agent) consumeInvalidations(ctx context.Context) {
	defer a.wg.Done()
	var cons jetstream.Consumer
	err := retry(ctx, func() error {
		s, err := a.js.Stream(ctx, wire.StreamInvalidations)
		if err != nil {
			return err
		}
		cons, err = s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       wire.PoPConsumer(a.o.Info.PoP),
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckWait:       10 * time.Second,
		})
		return err
	})
	if err != nil {
		return
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var inv wire.Invalidation
		if err := json.Unmarshal(m.Data(), &inv); err != nil {
			a.log.Warn("bad invalidation message dropped", "err", err.Error())
			m.Term()
			return
		}
		n := a.o.PoP.Invalidate(inv.DistributionID, inv.Paths, inv.Tags)
		ack, _ := json.Marshal(wire.Ack{InvalidationID: inv.ID, PoP: a.o.Info.PoP, Removed: n, Time: a.o.Now()})
		// Into the ack stream, so the control plane gets it even if it is
		// down right now; until that is stored, the invalidation is redelivered.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := a.js.Publish(pctx, wire.SubjectAck+"."+a.o.Info.PoP, ack)
		cancel()
		if err != nil {
			a.log.Warn("cannot store the acknowledgement, will retry", "invalidation", inv.ID, "err", err.Error())
			m.NakWithDelay(time.Second)
			return
		}
		m.Ack()
	})
	if err != nil {
		a.log.Warn("cannot consume invalidations", "err", err.Error())
		return
	}
	<-ctx.Done()
	cc.Stop()
}

// heartbeat announces the PoP every wire.HeartbeatInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	defer a.wg.Done()
	t := time.NewTicker(wire.HeartbeatInterval)
	defer t.Stop()
	subject := wire.SubjectHeartbeat + "." + a.o.Info.PoP
	for {
		hb := a.o.Info
		hb.ConfigVersion = a.version.Load()
		if e := a.cfgErr.Load(); e != nil {
			hb.ConfigError = *e
		}
		hb.Time = a.o.Now()
		if b, err := json.Marshal(hb); err == nil {
			a.o.NC.Publish(subject, b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
