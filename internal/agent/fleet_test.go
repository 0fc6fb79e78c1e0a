package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/world"
)

// StartAll links every PoP of a world to a real control plane, each with
// its own identity, and they get the store's configuration; a PoP whose
// options cannot be made fails the start with its id.
func TestStartAll(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	cfg := &config.Config{
		Distributions: []config.Distribution{{ID: "d", Origins: []config.Origin{{ID: "o", URL: origin.URL}},
			DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o"}}},
		Topology: config.Topology{PoPs: []config.TopologyPoP{
			{ID: "FRA-R1", Tier: "regional", Listen: "127.0.0.1:0"},
			{ID: "FRA1", Parent: "FRA-R1", Listen: "127.0.0.1:0"},
		}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cp, err := control.StartPlane(ctx, control.PlaneOptions{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
		Config: cfg, Apply: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	w, err := world.Start(world.Options{Config: cfg, Logger: log, DefaultDistribution: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	refused := errors.New("no identity")
	_, err = StartAll(ctx, cp.LocalURL, func(id string) ([]nats.Option, error) {
		if id == "FRA1" {
			return nil, refused
		}
		return cp.AgentOptions(id)
	}, w, cfg, log)
	if !errors.Is(err, refused) || !strings.HasPrefix(err.Error(), "PoP FRA1: ") {
		t.Fatalf("options refused for FRA1: %v", err)
	}

	f, err := StartAll(ctx, cp.LocalURL, cp.AgentOptions, w, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(f.list) != 2 || len(f.ncs) != 2 {
		t.Fatalf("%d agents on %d connections, want 2 on 2", len(f.list), len(f.ncs))
	}
	for i, a := range f.list {
		if a.Version() == 0 || f.ncs[i].Opts.Name != "strata-"+control.UserName(control.RolePoP, w.Nodes[i].ID) {
			t.Errorf("PoP %s: version %d, connection %q", w.Nodes[i].ID, a.Version(), f.ncs[i].Opts.Name)
		}
	}
	f.Close()
	for _, nc := range f.ncs {
		if !nc.IsClosed() {
			t.Error("a connection stayed open after Close")
		}
	}
}
