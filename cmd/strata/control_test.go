package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
)

// strata control prints the credentials files it wrote for the PoPs of
// --config (their paths).
func TestControlPrintsPoPCreds(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Topology.PoPs = []config.TopologyPoP{{ID: "FRA1"}, {ID: "IAD1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := controlFlags{natsListen: "127.0.0.1:0", apiListen: "127.0.0.1:0"}
	cp, err := control.StartPlane(ctx, planeOptions(dir, f, cfg, false, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if len(cp.NewCreds) != 2 {
		t.Errorf("new creds %v", cp.NewCreds)
	}
	var out bytes.Buffer
	printPoPAccess(&out, cp, f, dir)
	for _, c := range cp.NewCreds {
		if !strings.Contains(out.String(), c) {
			t.Errorf("%s not printed:\n%s", c, out.String())
		}
	}
}

func TestPoPNATSFlagsNeedNATS(t *testing.T) {
	cfg := writeFile(t, "net.yaml", "topology:\n  pops:\n    - {id: FRA1, listen: \"127.0.0.1:0\"}\n")
	var out, errOut bytes.Buffer
	if code := cmdPop([]string{"--id", "FRA1", "--config", cfg, "--nats-creds", "x.creds"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "need --nats") {
		t.Errorf("--nats-creds without --nats: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if code := cmdPop([]string{"--id", "FRA1", "--config", cfg, "--nats", "tls://127.0.0.1:1", "--nats-creds", filepath.Join(t.TempDir(), "none.creds")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--nats-creds") {
		t.Errorf("a missing credentials file: exit %d, %s", code, errOut.String())
	}
}
