package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
)

func TestNATSCredsCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := NATSCreds([]string{"pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no NATS keys in "+dir) {
		t.Fatalf("without keys: exit %d, %s", code, errOut.String())
	}
	auth, _, err := control.LoadOrCreateNATSAuth(filepath.Join(dir, control.NATSKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"pop"}, {"admin", "x"}, {"pop", "a", "b"}} {
		if code := NATSCreds(append(args, "--data-dir", dir), &out, &errOut); code != 2 {
			t.Errorf("nats-creds %v: exit %d, want 2", args, code)
		}
	}
	out.Reset()
	if code := NATSCreds([]string{"pop", "bad.id", "--data-dir", dir}, &out, &errOut); code != 1 {
		t.Errorf("a PoP id with a dot: exit %d", code)
	}
	// Flags before or after the arguments.
	if code := NATSCreds([]string{"--data-dir", dir, "pop", "FRA1"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	path := filepath.Join(dir, "nats-creds", "pop-FRA1.creds")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	seed := regexp.MustCompile(`SU[A-Z2-7]{50,}`).FindString(string(b))
	if seed == "" {
		t.Fatalf("no user seed in the file:\n%s", b)
	}
	if !strings.Contains(out.String(), path) || strings.Contains(out.String(), seed) {
		t.Errorf("output %q: want the path, never the seed", out.String())
	}
	dnsOut := filepath.Join(t.TempDir(), "ns1.creds")
	out.Reset()
	if code := NATSCreds([]string{"dns", "ns1", "--data-dir", dir, "--out", dnsOut}, &out, &errOut); code != 0 {
		t.Fatalf("dns: exit %d: %s", code, errOut.String())
	}
	db, _ := os.ReadFile(dnsOut)
	if role, id, err := control.CredsIdentity(db); err != nil || role != control.RoleDNS || id != "ns1" {
		t.Errorf("dns creds are of %q %q (%v)", role, id, err)
	}
	// The files work against the server those keys run.
	ns, err := control.StartNATS(control.NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	opts, err := control.NATSClient{Creds: path}.Options(ns.ClientURL(), control.RolePoP, "FRA1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect with the issued file: %v", err)
	}
	nc.Close()
}

// strata nats-creds revoke, against a running control plane: the PoP's
// connection is closed, its file removed, and new credentials work.
func TestNATSCredsRevoke(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Topology.PoPs = []config.TopologyPoP{{ID: "FRA1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := control.StartPlane(ctx, control.PlaneOptions{DataDir: dir, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	creds := filepath.Join(dir, "nats-creds", "pop-FRA1.creds")
	nc, err := nats.Connect(cp.LocalURL, nats.UserCredentials(creds), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var out, errOut bytes.Buffer
	if code := NATSCreds([]string{"revoke", "pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "removed "+creds) {
		t.Errorf("output %q", out.String())
	}
	if _, err := os.Stat(creds); err == nil {
		t.Error("the revoked credentials file is still there")
	}
	deadline := time.Now().Add(15 * time.Second)
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			t.Fatal("the running control plane did not close the revoked PoP's connection")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := NATSCreds([]string{"pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("reissue: exit %d: %s", code, errOut.String())
	}
	nc2, err := nats.Connect(cp.LocalURL, nats.UserCredentials(creds), nats.NoReconnect())
	if err != nil {
		t.Fatalf("new credentials: %v", err)
	}
	nc2.Close()
	if code := NATSCreds([]string{"revoke", "pop", "FRA1", "--out", "x", "--data-dir", dir}, &out, &errOut); code != 2 {
		t.Errorf("revoke with --out: exit %d", code)
	}
}
