package control

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/config"
)

func TestNATSClientOptions(t *testing.T) {
	dir := t.TempDir()
	auth, _ := NewNATSAuth()
	fra := filepath.Join(dir, "fra.creds")
	if _, err := auth.WriteCreds(fra, RolePoP, "FRA1"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := (NATSClient{Creds: fra}).Options("tls://h:4222", RolePoP, "IAD1", log); err == nil || !strings.Contains(err.Error(), "holds the credentials of pop-FRA1, not of pop-IAD1") {
		t.Errorf("another PoP's file: %v", err)
	}
	if _, err := (NATSClient{Creds: filepath.Join(dir, "none")}).Options("tls://h:4222", RolePoP, "FRA1", log); err == nil || !strings.Contains(err.Error(), "--nats-creds") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := (NATSClient{Creds: fra, CA: filepath.Join(dir, "none.pem")}).Options("tls://h:4222", RolePoP, "FRA1", log); err == nil || !strings.Contains(err.Error(), "--nats-ca") {
		t.Errorf("a missing CA: %v", err)
	}
	if _, err := (NATSClient{Creds: fra}).Options("tls://h:4222", RolePoP, "FRA1", log); err != nil || logs.Len() != 0 {
		t.Errorf("its own file: %v, logged %s", err, logs.String())
	}
	os.Chmod(fra, 0o644)
	if _, err := (NATSClient{Creds: fra}).Options("tls://h:4222", RolePoP, "FRA1", log); err != nil || !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("a file others can read: %v, logged %s", err, logs.String())
	}
	logs.Reset()
	if _, err := (NATSClient{}).Options("tls://h:4222", RolePoP, "FRA1", log); err != nil || !strings.Contains(logs.String(), "without credentials") {
		t.Errorf("no credentials: %v, logged %s", err, logs.String())
	}
	logs.Reset()
	if _, err := (NATSClient{}).Options("tls://u:p@h:4222", RoleControl, "", log); err != nil || logs.Len() != 0 {
		t.Errorf("credentials in the URL: %v, logged %s", err, logs.String())
	}
}

func TestNATSServerTLS(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if cfg, ca, err := NATSServerTLS(dir, "127.0.0.1:4222", "", "", log); cfg != nil || ca != "" || err != nil {
		t.Errorf("loopback: %v %q %v, want plain TCP", cfg, ca, err)
	}
	if _, _, err := NATSServerTLS(dir, "127.0.0.1:4222", "x.pem", "", log); err == nil {
		t.Error("a certificate without its key was accepted")
	}
	cfg, ca, err := NATSServerTLS(dir, "0.0.0.0:4222", "", "", log)
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
	cfg2, ca2, err := NATSServerTLS(dir, "127.0.0.1:4222", filepath.Join(dir, "tls", "nats.pem"), filepath.Join(dir, "tls", "nats-key.pem"), log)
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
func TestPlaneWritesPoPCreds(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Topology.PoPs = []config.TopologyPoP{{ID: "FRA1"}, {ID: "IAD1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := PlaneOptions{DataDir: dir, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	cp, err := StartPlane(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.NewCreds) != 2 {
		t.Errorf("new creds %v", cp.NewCreds)
	}
	opts, err := cp.AgentOptions("FRA1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cp.LocalURL, opts...)
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
	cp, err = StartPlane(ctx, f)
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

// --nats to a NATS the control plane does not run, with a credentials file.
func TestPlaneOnExternalNATSWithCreds(t *testing.T) {
	auth, _ := NewNATSAuth()
	ns, err := StartNATS(NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	creds := filepath.Join(t.TempDir(), "creds")
	if _, err := auth.WriteCreds(creds, RoleControl, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	f := PlaneOptions{DataDir: dir, NATS: ns.ClientURL(), NATSClient: NATSClient{Creds: creds}, APIListen: "127.0.0.1:0", Config: &config.Config{}, Apply: true, Logger: slog.New(slog.DiscardHandler)}
	cp, err := StartPlane(ctx, f)
	if err != nil {
		t.Fatalf("control plane on an external NATS with --nats-creds: %v", err)
	}
	defer cp.Close()
	if cp.auth != nil || cp.NATSURL != ns.ClientURL() {
		t.Errorf("external NATS: auth %v, URL %q", cp.auth, cp.NATSURL)
	}
	if _, err := os.Stat(filepath.Join(dir, NATSKeysFile)); err == nil {
		t.Error("keys were made for a NATS the control plane does not run")
	}
	opts, err := cp.AgentOptions("FRA1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cp.LocalURL, opts...)
	if err != nil {
		t.Fatalf("an in-process PoP on the external NATS: %v", err)
	}
	nc.Close()
	// Without the file, the same cluster refuses it.
	f.NATSClient.Creds, f.DataDir, f.Config, f.Apply = "", t.TempDir(), nil, false
	if cp2, err := StartPlane(ctx, f); err == nil {
		cp2.Close()
		t.Fatal("a control plane without credentials connected")
	}
}
