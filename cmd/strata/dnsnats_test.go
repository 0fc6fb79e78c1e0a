package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/testutil"
	"github.com/strata-cdn/strata/internal/world"
)

// TestDNSOverNATS: strata dns --nats on its own, with the credentials of
// strata nats-creds dns: a control plane with embedded NATS, a world of
// PoPs whose agents send heartbeats, and the router answering a real DNS
// query with the nearest PoP; a PoP that stops heartbeating leaves the
// answers, and a distribution created in the store is answered.
func TestDNSOverNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	geoDB := filepath.Join(dir, "geo.mmdb")
	if err := geo.WriteTestDB(geoDB, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "site.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
pop: {geoDatabase: %q}
dns: {zone: cdn.example.test}
topology:
  pops:
    - {id: IAD1, listen: "127.0.2.1:0"}
    - {id: FRA1, listen: "127.0.2.2:0"}
    - {id: NRT1, listen: "127.0.2.3:0"}
distributions:
  - id: site
    origins: [{id: web, url: "http://127.0.0.1:1"}]
    defaultCacheBehavior: {targetOriginId: web}
`, geoDB)), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cpDir := filepath.Join(dir, "control")
	cp, err := control.StartPlane(ctx, control.PlaneOptions{DataDir: cpDir, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
		Config: cfg, Apply: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	w, err := world.Start(world.Options{Config: cfg, DataDir: filepath.Join(dir, "pops"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	type linked struct {
		a  *agent.Agent
		nc *nats.Conn
	}
	agents := map[string]linked{}
	addrOf := map[string]string{} // PoP id → its address
	for _, n := range w.Nodes {
		opts, err := cp.AgentOptions(n.ID)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(cp.LocalURL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		a, err := agent.Start(ctx, agent.Options{NC: nc, PoP: n.PoP, Base: cfg, Logger: log,
			Info: wire.Heartbeat{PoP: n.ID, Tier: n.Tier, Location: n.Location, Region: n.Region, URL: n.URL}})
		if err != nil {
			t.Fatal(err)
		}
		agents[n.ID] = linked{a, nc}
		u, _ := url.Parse(n.URL)
		addrOf[n.ID] = u.Hostname()
	}
	defer func() {
		for _, l := range agents {
			l.a.Close()
			l.nc.Close()
		}
	}()

	// The DNS server's own identity, as an operator makes it.
	creds := filepath.Join(dir, "dns-ns1.creds")
	var stdout, stderr strings.Builder
	if code := run([]string{"nats-creds", "dns", "ns1", "--data-dir", cpDir, "--out", creds}, &stdout, &stderr); code != 0 {
		t.Fatalf("strata nats-creds dns ns1: exit %d %s", code, stderr.String())
	}
	out := &testutil.SyncBuffer{}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runDNS(dctx, dnsFlags{nats: cp.NATSURL, client: control.NATSClient{Creds: creds}, config: cfgFile, listen: "127.0.0.1:0"}, log, out)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("strata dns: %v", err)
		}
	}()
	re := regexp.MustCompile(`DNS router for zone cdn\.example\.test\. on (127\.0\.0\.1:\d+), UDP and TCP: distributions and PoP health from NATS \S+ as dns-ns1\n`)
	testutil.WaitFor(t, 30*time.Second, "the router's banner", func() bool { return re.MatchString(out.String()) })
	server := re.FindStringSubmatch(out.String())[1]

	// answer asks for name with the subnet of a viewer; "" is no answer.
	// Polls go over TCP: UDP is rate-limited per client.
	answer := func(network, name, subnet string) string {
		q := new(mdns.Msg)
		q.SetQuestion(name, mdns.TypeA)
		q.SetEdns0(1232, false)
		p := netip.MustParsePrefix(subnet)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1,
			SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())})
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, _, err := (&mdns.Client{Net: network}).ExchangeContext(qctx, q, server)
		if err != nil {
			t.Logf("%s query: %v", network, err)
			return ""
		}
		if len(r.Answer) != 1 {
			return ""
		}
		return r.Answer[0].(*mdns.A).A.String()
	}
	const berlin, tokyo = "127.2.0.0/16", "127.3.0.0/16"
	testutil.WaitFor(t, 10*time.Second, "site answered with FRA1 for Berlin", func() bool {
		return answer("tcp", "site.cdn.example.test.", berlin) == addrOf["FRA1"]
	})
	for _, network := range []string{"udp", "tcp"} {
		if got := answer(network, "site.cdn.example.test.", tokyo); got != addrOf["NRT1"] {
			t.Errorf("Tokyo over %s: %q, want NRT1 (%s)", network, got, addrOf["NRT1"])
		}
	}

	// FRA1 stops heartbeating: it leaves the answers.
	agents["FRA1"].a.Close()
	agents["FRA1"].nc.Close()
	stopped := time.Now()
	testutil.WaitFor(t, 15*time.Second, "Berlin answered without FRA1", func() bool {
		got := answer("tcp", "site.cdn.example.test.", berlin)
		return got != "" && got != addrOf["FRA1"]
	})
	t.Logf("FRA1 left the answers %v after its last heartbeat could be sent", time.Since(stopped).Round(10*time.Millisecond))
	for _, network := range []string{"udp", "tcp"} {
		got := answer(network, "site.cdn.example.test.", berlin)
		if got != addrOf["IAD1"] && got != addrOf["NRT1"] {
			t.Errorf("Berlin over %s after FRA1 stopped: %q, want another PoP", network, got)
		}
	}

	// A distribution created in the store reaches the router over NATS.
	more := cfg.Distributions[0]
	more.ID, more.DomainName = "more", "more.cdn.example.test"
	if err := cp.Server().Store().Apply(ctx, &config.Config{Distributions: []config.Distribution{more}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "more answered", func() bool {
		return answer("tcp", "more.cdn.example.test.", tokyo) == addrOf["NRT1"]
	})
}

// strata dns refuses what it cannot run with, before it connects: no
// --nats, no zone, no identity, another identity's credentials.
func TestDNSCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	auth, err := control.NewNATSAuth()
	if err != nil {
		t.Fatal(err)
	}
	popCreds := filepath.Join(dir, "pop-FRA1.creds")
	if _, err := auth.WriteCreds(popCreds, control.RolePoP, "FRA1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dns"}, 2, "usage: strata dns --nats URL"},
		{[]string{"dns", "--zone", "cdn.example.test"}, 2, "usage: strata dns --nats URL"},
		{[]string{"dns", "--nats", "nats://127.0.0.1:1", "--id", "ns1"}, 1, "no zone: --zone, or dns.zone in --config"},
		{[]string{"dns", "--nats", "nats://127.0.0.1:1", "--zone", "cdn.example.test"}, 1, "--id or --nats-creds is required"},
		{[]string{"dns", "--nats", "nats://127.0.0.1:1", "--zone", "cdn.example.test", "--nats-creds", popCreds}, 1, "not the credentials of a DNS server"},
		{[]string{"dns", "--nats", "nats://127.0.0.1:1", "--zone", "cdn.example.test", "--id", "ns2", "--nats-creds", popCreds}, 1, "holds the credentials of pop-FRA1, not of dns-ns2"},
	} {
		var stdout, stderr strings.Builder
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("strata %s: exit %d %q, want %d and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.want)
		}
	}
}
