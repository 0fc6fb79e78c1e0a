// Command control measures how fast the control plane reaches every PoP:
// the time from the API accepting an invalidation to the last PoP's
// acknowledgement, and from the API accepting a configuration change to the
// last PoP applying it. Everything runs in this process on loopback: an
// embedded NATS server, the control plane's REST API over real HTTP, and a
// world of PoPs, each with its own NATS connection and agent.
//
//	go run ./bench/control [-pops 24] [-invalidations 100] [-changes 20]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/client"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/topology"
	"github.com/strata-cdn/strata/internal/world"
)

func main() {
	pops := flag.Int("pops", 24, "PoPs in the world")
	invals := flag.Int("invalidations", 100, "invalidations to time")
	changes := flag.Int("changes", 20, "configuration changes to time")
	flag.Parse()
	if err := run(*pops, *invals, *changes); err != nil {
		fmt.Fprintln(os.Stderr, "control bench:", err)
		os.Exit(1)
	}
}

func run(nPoPs, nInval, nChanges int) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "strata-control-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	auth, err := control.NewNATSAuth()
	if err != nil {
		return err
	}
	ns, err := control.StartNATS(control.NATSOptions{StoreDir: dir, Listen: "127.0.0.1:0", Logger: log, Auth: auth})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	copts, err := auth.ConnectOptions(control.RoleControl, "")
	if err != nil {
		return err
	}
	nc, err := nats.Connect(ns.ClientURL(), copts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	srv, err := control.New(sctx, control.Options{NC: nc, JS: js, Logger: log})
	if err != nil {
		cancel()
		return err
	}
	defer srv.Close()
	token, _, err := srv.EnsureToken(sctx)
	cancel()
	if err != nil {
		return err
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	api := &http.Server{Handler: srv.Handler()}
	go api.Serve(ln)
	defer api.Close()
	base := "http://" + ln.Addr().String()

	// The world, with one distribution in the store.
	specs, err := topology.DemoN(nPoPs, 0)
	if err != nil {
		return err
	}
	cfg := &config.Config{Distributions: []config.Distribution{{ID: "bench",
		Origins:              []config.Origin{{ID: "o", URL: "http://127.0.0.1:9"}},
		DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o"}}}}
	cfg.Topology.PoPs = world.Specs(specs)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := srv.Store().Apply(ctx, cfg); err != nil {
		return err
	}
	w, err := world.Start(world.Options{Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	defer w.Close()

	var mu sync.Mutex
	applied := map[string]uint64{} // PoP -> version applied
	appliedAt := map[string]time.Time{}
	var agents []*agent.Agent
	for _, n := range w.Nodes {
		popts, err := auth.ConnectOptions(control.RolePoP, n.ID)
		if err != nil {
			return err
		}
		pnc, err := nats.Connect(ns.ClientURL(), popts...)
		if err != nil {
			return err
		}
		defer pnc.Close()
		id := n.ID
		a, err := agent.Start(ctx, agent.Options{NC: pnc, PoP: n.PoP, Base: cfg, Logger: log,
			Info: wire.Heartbeat{PoP: n.ID, Tier: n.Tier, Region: n.Region, URL: n.URL},
			Applied: func(v uint64, err error) {
				if err == nil {
					mu.Lock()
					applied[id], appliedAt[id] = v, time.Now()
					mu.Unlock()
				}
			}})
		if err != nil {
			return err
		}
		defer a.Close()
		agents = append(agents, a)
	}
	for _, a := range agents {
		<-a.Ready()
	}
	// Wait until the control plane sees every PoP healthy.
	deadline := time.Now().Add(20 * time.Second)
	for len(healthy(srv)) < len(w.Nodes) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d PoPs healthy", len(healthy(srv)), len(w.Nodes))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Invalidations: API accept -> last acknowledgement.
	acks := map[string]map[string]time.Time{}
	done := map[string]chan struct{}{}
	nc.Subscribe(wire.SubjectAck+".*", func(m *nats.Msg) {
		var a wire.Ack
		if json.Unmarshal(m.Data, &a) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if acks[a.InvalidationID] == nil {
			acks[a.InvalidationID] = map[string]time.Time{}
		}
		acks[a.InvalidationID][a.PoP] = time.Now()
		if len(acks[a.InvalidationID]) == len(w.Nodes) {
			if c := done[a.InvalidationID]; c != nil {
				close(c)
				done[a.InvalidationID] = nil
			}
		}
	})
	nc.Flush()
	cl := client.New(base, token)
	var invLat []time.Duration
	for i := 0; i < nInval; i++ {
		req := client.InvalidationRequest{Paths: []string{fmt.Sprintf("/obj/%d", i)}, CallerReference: fmt.Sprint("bench-", i)}
		accepted := time.Now() // timed from the request: includes the API's own work
		inv, _, err := cl.Invalidate("bench", req)
		if err != nil {
			return fmt.Errorf("invalidation: %w", err)
		}
		mu.Lock()
		c := make(chan struct{})
		if len(acks[inv.ID]) == len(w.Nodes) {
			close(c)
		} else {
			done[inv.ID] = c
		}
		mu.Unlock()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("invalidation %s: %d of %d acks", inv.ID, len(acks[inv.ID]), len(w.Nodes))
		}
		mu.Lock()
		var last time.Time
		for _, t := range acks[inv.ID] {
			if t.After(last) {
				last = t
			}
		}
		mu.Unlock()
		invLat = append(invLat, last.Sub(accepted))
	}

	// Configuration changes: API accept -> last PoP applied.
	var cfgLat []time.Duration
	for i := 0; i < nChanges; i++ {
		var d map[string]any
		etag, err := cl.Get(client.Distributions, "bench", &d)
		if err != nil {
			return err
		}
		d["comment"] = fmt.Sprint("change ", i)
		body, _ := json.Marshal(d)
		mu.Lock()
		before := map[string]uint64{}
		for k, v := range applied {
			before[k] = v
		}
		mu.Unlock()
		accepted := time.Now()
		if _, err := cl.Update(client.Distributions, "bench", body, etag); err != nil {
			return fmt.Errorf("config change: %w", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n, last := 0, time.Time{}
			for id, v := range applied {
				if v > before[id] {
					n++
					if appliedAt[id].After(last) {
						last = appliedAt[id]
					}
				}
			}
			mu.Unlock()
			if n == len(w.Nodes) {
				cfgLat = append(cfgLat, last.Sub(accepted))
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("config change %d reached %d of %d PoPs", i, n, len(w.Nodes))
			}
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Printf("| measure | PoPs | runs | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"invalidation: API request → every PoP applied and acknowledged", invLat}, {"config change (PUT distribution): API request → every PoP applied", cfgLat}} {
		p50, p99, mx := pct(row.d, 50), pct(row.d, 99), pct(row.d, 100)
		fmt.Printf("| %s | %d | %d | %.1f | %.1f | %.1f |\n", row.name, len(w.Nodes), len(row.d), ms(p50), ms(p99), ms(mx))
	}
	return nil
}

func healthy(srv *control.Server) []string {
	var out []string
	for _, p := range srv.PoPs() {
		if p.Healthy {
			out = append(out, p.PoP)
		}
	}
	return out
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
