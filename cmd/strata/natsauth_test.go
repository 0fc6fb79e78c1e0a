package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net"
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
	if code := cmdNATSCreds([]string{"pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no NATS keys in "+dir) {
		t.Fatalf("without keys: exit %d, %s", code, errOut.String())
	}
	auth, _, err := control.LoadOrCreateNATSAuth(filepath.Join(dir, control.NATSKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"pop"}, {"admin", "x"}, {"pop", "a", "b"}} {
		if code := cmdNATSCreds(append(args, "--data-dir", dir), &out, &errOut); code != 2 {
			t.Errorf("nats-creds %v: exit %d, want 2", args, code)
		}
	}
	out.Reset()
	if code := cmdNATSCreds([]string{"pop", "bad.id", "--data-dir", dir}, &out, &errOut); code != 1 {
		t.Errorf("a PoP id with a dot: exit %d", code)
	}
	// Flags before or after the arguments.
	if code := cmdNATSCreds([]string{"--data-dir", dir, "pop", "FRA1"}, &out, &errOut); code != 0 {
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
	if code := cmdNATSCreds([]string{"dns", "ns1", "--data-dir", dir, "--out", dnsOut}, &out, &errOut); code != 0 {
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
	opts, err := natsClientFlags{creds: path}.options(ns.ClientURL(), control.RolePoP, "FRA1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect with the issued file: %v", err)
	}
	nc.Close()
}

func TestNATSClientFlags(t *testing.T) {
	dir := t.TempDir()
	auth, _ := control.NewNATSAuth()
	fra := filepath.Join(dir, "fra.creds")
	if _, err := auth.WriteCreds(fra, control.RolePoP, "FRA1"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := (natsClientFlags{creds: fra}).options("tls://h:4222", control.RolePoP, "IAD1", log); err == nil || !strings.Contains(err.Error(), "holds the credentials of pop-FRA1, not of pop-IAD1") {
		t.Errorf("another PoP's file: %v", err)
	}
	if _, err := (natsClientFlags{creds: filepath.Join(dir, "none")}).options("tls://h:4222", control.RolePoP, "FRA1", log); err == nil || !strings.Contains(err.Error(), "--nats-creds") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := (natsClientFlags{creds: fra, ca: filepath.Join(dir, "none.pem")}).options("tls://h:4222", control.RolePoP, "FRA1", log); err == nil || !strings.Contains(err.Error(), "--nats-ca") {
		t.Errorf("a missing CA: %v", err)
	}
	if _, err := (natsClientFlags{creds: fra}).options("tls://h:4222", control.RolePoP, "FRA1", log); err != nil || logs.Len() != 0 {
		t.Errorf("its own file: %v, logged %s", err, logs.String())
	}
	os.Chmod(fra, 0o644)
	if _, err := (natsClientFlags{creds: fra}).options("tls://h:4222", control.RolePoP, "FRA1", log); err != nil || !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("a file others can read: %v, logged %s", err, logs.String())
	}
	logs.Reset()
	if _, err := (natsClientFlags{}).options("tls://h:4222", control.RolePoP, "FRA1", log); err != nil || !strings.Contains(logs.String(), "without credentials") {
		t.Errorf("no credentials: %v, logged %s", err, logs.String())
	}
	logs.Reset()
	if _, err := (natsClientFlags{}).options("tls://u:p@h:4222", control.RoleControl, "", log); err != nil || logs.Len() != 0 {
		t.Errorf("credentials in the URL: %v, logged %s", err, logs.String())
	}
}

func TestNATSServerTLS(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if cfg, ca, err := natsServerTLS(dir, controlFlags{natsListen: "127.0.0.1:4222"}, log); cfg != nil || ca != "" || err != nil {
		t.Errorf("loopback: %v %q %v, want plain TCP", cfg, ca, err)
	}
	if _, _, err := natsServerTLS(dir, controlFlags{natsListen: "127.0.0.1:4222", natsTLSCert: "x.pem"}, log); err == nil {
		t.Error("a certificate without its key was accepted")
	}
	cfg, ca, err := natsServerTLS(dir, controlFlags{natsListen: "0.0.0.0:4222"}, log)
	if err != nil || cfg == nil || ca != filepath.Join(dir, "tls", "ca.pem") {
		t.Fatalf("beyond loopback: %v %q %v, want TLS from the development CA", cfg, ca, err)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if host != "" {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("the certificate does not name this machine: %v", err)
		}
	}
	// A given certificate is used as it is, even on loopback.
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "tls", "nats.pem"))
	if blk, _ := pem.Decode(pemBytes); blk == nil {
		t.Fatal("no PEM")
	}
	cfg2, ca2, err := natsServerTLS(dir, controlFlags{natsListen: "127.0.0.1:4222", natsTLSCert: filepath.Join(dir, "tls", "nats.pem"), natsTLSKey: filepath.Join(dir, "tls", "nats-key.pem")}, log)
	if err != nil || cfg2 == nil || ca2 != "" {
		t.Errorf("given certificate: %v %q %v", cfg2, ca2, err)
	}
	if got := advertisedNATSURL("10.0.0.5:4222", "tls://10.0.0.5:4222", true); got != "tls://10.0.0.5:4222" {
		t.Errorf("advertised %q", got)
	}
	if got := advertisedNATSURL("0.0.0.0:0", "tls://0.0.0.0:41234", true); host != "" && got != "tls://"+net.JoinHostPort(host, "41234") {
		t.Errorf("advertised %q", got)
	}
}

// strata control: the PoPs of --config get their credentials files at the
// first start, and the PoPs of strata run connect with their own identity.
func TestControlPlaneWritesPoPCreds(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Topology.PoPs = []config.TopologyPoP{{ID: "FRA1"}, {ID: "IAD1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := controlFlags{natsListen: "127.0.0.1:0", apiListen: "127.0.0.1:0"}
	cp, err := startControlPlane(ctx, dir, f, cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
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
	opts, err := cp.agentOptions("FRA1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cp.localURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	// The agent's connection is the PoP's identity: it cannot write the
	// configuration.
	errs := make(chan error, 4)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	nc.Publish("$KV.strata_distributions.x", []byte("{}"))
	nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the in-process PoP connection may write a distribution")
	}
	nc.Close()
	cp.Close()
	// A second start keeps the files.
	before, _ := os.ReadFile(cp.NewCreds[0])
	cp, err = startControlPlane(ctx, dir, f, cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if len(cp.NewCreds) != 0 {
		t.Errorf("second start wrote %v", cp.NewCreds)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "nats-creds", "pop-FRA1.creds")); !bytes.Equal(before, after) {
		t.Error("the credentials changed at the second start")
	}
}

// strata nats-creds revoke, against a running control plane: the PoP's
// connection is closed, its file removed, and new credentials work.
func TestNATSCredsRevoke(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Topology.PoPs = []config.TopologyPoP{{ID: "FRA1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := startControlPlane(ctx, dir, controlFlags{natsListen: "127.0.0.1:0", apiListen: "127.0.0.1:0"}, cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	creds := filepath.Join(dir, "nats-creds", "pop-FRA1.creds")
	nc, err := nats.Connect(cp.localURL, nats.UserCredentials(creds), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var out, errOut bytes.Buffer
	if code := cmdNATSCreds([]string{"revoke", "pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 0 {
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
	if code := cmdNATSCreds([]string{"pop", "FRA1", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("reissue: exit %d: %s", code, errOut.String())
	}
	nc2, err := nats.Connect(cp.localURL, nats.UserCredentials(creds), nats.NoReconnect())
	if err != nil {
		t.Fatalf("new credentials: %v", err)
	}
	nc2.Close()
	if code := cmdNATSCreds([]string{"revoke", "pop", "FRA1", "--out", "x", "--data-dir", dir}, &out, &errOut); code != 2 {
		t.Errorf("revoke with --out: exit %d", code)
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

// --nats to a NATS the control plane does not run, with a credentials file.
func TestControlPlaneOnExternalNATSWithCreds(t *testing.T) {
	auth, _ := control.NewNATSAuth()
	ns, err := control.StartNATS(control.NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	creds := filepath.Join(t.TempDir(), "control.creds")
	if _, err := auth.WriteCreds(creds, control.RoleControl, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	f := controlFlags{nats: ns.ClientURL(), natsClient: natsClientFlags{creds: creds}, apiListen: "127.0.0.1:0"}
	cp, err := startControlPlane(ctx, dir, f, &config.Config{}, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("control plane on an external NATS with --nats-creds: %v", err)
	}
	defer cp.Close()
	if cp.auth != nil || cp.NATSURL != ns.ClientURL() {
		t.Errorf("external NATS: auth %v, URL %q", cp.auth, cp.NATSURL)
	}
	if _, err := os.Stat(filepath.Join(dir, control.NATSKeysFile)); err == nil {
		t.Error("keys were made for a NATS the control plane does not run")
	}
	opts, err := cp.agentOptions("FRA1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cp.localURL, opts...)
	if err != nil {
		t.Fatalf("an in-process PoP on the external NATS: %v", err)
	}
	nc.Close()
	// Without the file, the same cluster refuses it.
	f.natsClient.creds = ""
	if cp2, err := startControlPlane(ctx, t.TempDir(), f, nil, false, slog.New(slog.DiscardHandler)); err == nil {
		cp2.Close()
		t.Fatal("a control plane without credentials connected")
	}
}
