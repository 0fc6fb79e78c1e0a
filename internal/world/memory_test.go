package world

import (
	"bytes"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

func TestMemoryBudget(t *testing.T) {
	const MiB = 1 << 20
	pops := func(n int) []config.TopologyPoP {
		var ps []config.TopologyPoP
		for i := range n {
			ps = append(ps, config.TopologyPoP{ID: "FRA" + string(rune('1'+i)), Listen: "127.0.0.1:0"})
		}
		return ps
	}
	for _, tc := range []struct {
		name                    string
		cfg                     config.Config
		only                    string
		caches, bodies, limitMi int64
	}{
		{"default", config.Config{}, "", 256 * MiB, 64 * MiB, 256 + 64 + 64},
		{"1GiB", config.Config{PoP: config.PoP{MemoryCacheSize: config.GiB}}, "", 1024 * MiB, 256 * MiB, 1024 + 256 + 64},
		{"small cache: bodies at least 32MiB", config.Config{PoP: config.PoP{MemoryCacheSize: 16 * config.MiB, MaxObjectSize: config.MiB}}, "", 16 * MiB, 32 * MiB, 16 + 32 + 64},
		{"three PoPs in one process", config.Config{Topology: config.Topology{PoPs: pops(3)}}, "", 768 * MiB, 192 * MiB, 768 + 192 + 64},
		{"one PoP of three (strata pop)", config.Config{Topology: config.Topology{PoPs: pops(3)}}, "FRA2", 256 * MiB, 64 * MiB, 256 + 64 + 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			m := MemoryBudget(&cfg, tc.only)
			if m.Caches != tc.caches || m.Bodies != tc.bodies || m.Limit() != tc.limitMi*MiB {
				t.Fatalf("got %+v (limit %d MiB), want caches %d MiB, bodies %d MiB, limit %d MiB",
					m, m.Limit()/MiB, tc.caches/MiB, tc.bodies/MiB, tc.limitMi)
			}
		})
	}
}

// Start with SetMemoryLimit makes the budget the runtime's memory limit
// and says so, unless GOMEMLIMIT is set: then the runtime's limit (which
// it read from the environment) stays.
func TestStartSetsMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	cfg := &config.Config{PoP: config.PoP{Listen: "127.0.0.1:0", MemoryCacheSize: 100 * config.MiB}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	start := func() string {
		t.Helper()
		var logs bytes.Buffer
		w, err := Start(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil)), SetMemoryLimit: true})
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		return logs.String()
	}

	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(1 << 40)
	logs := start()
	const want = (100 + 32 + 64) << 20
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Fatalf("memory limit %d, want %d (100MiB cache + 32MiB bodies + 64MiB)", got, want)
	}
	if !strings.Contains(logs, `msg="memory budget" limit=196MiB from=pop.memoryCacheSize caches=100MiB bodies=32MiB overhead=64MiB`) {
		t.Errorf("no budget in the log:\n%s", logs)
	}

	t.Setenv("GOMEMLIMIT", "3GiB") // as if the process had started with it
	debug.SetMemoryLimit(3 << 30)
	logs = start()
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Fatalf("memory limit %d, want GOMEMLIMIT's %d", got, 3<<30)
	}
	if !strings.Contains(logs, `msg="memory budget" limit=3GiB from=GOMEMLIMIT`) {
		t.Errorf("log does not name GOMEMLIMIT:\n%s", logs)
	}

	t.Setenv("GOMEMLIMIT", "off")
	debug.SetMemoryLimit(math.MaxInt64)
	logs = start()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d with GOMEMLIMIT=off, want none", got)
	}
	if !strings.Contains(logs, `msg="memory budget" limit=off from=GOMEMLIMIT`) {
		t.Errorf("log does not say off:\n%s", logs)
	}
}
