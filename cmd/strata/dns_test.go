package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/world"
)

// TestDNSEndToEnd: strata run with a dns section. A client resolves the
// distribution's name (its default domain name in the zone) through
// Strata's DNS with the subnet of a viewer in Germany, then in Japan,
// connects to the answered address and is served by that PoP
// (X-Strata-Pop), the nearest one in the viewer's region.
func TestDNSEndToEnd(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	dir := t.TempDir()
	geoDB := filepath.Join(dir, "geo.mmdb")
	if err := geo.WriteTestDB(geoDB, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "site.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
pop: {geoDatabase: %q}
dns: {zone: cdn.example.test, listen: "127.0.0.1:0"}
topology:
  pops:
    - {id: IAD1, listen: "127.0.2.1:0"}
    - {id: FRA1, listen: "127.0.2.2:0"}
    - {id: NRT1, listen: "127.0.2.3:0"}
    - {id: GRU1, listen: "127.0.2.4:0"}
distributions:
  - id: site
    origins: [{id: web, url: %q}]
    defaultCacheBehavior: {targetOriginId: web}
`, geoDB, origin.URL)), 0o644)
	dataDir := filepath.Join(dir, "data")
	f := runFlags{config: cfgFile, httpsPort: -1, dataDir: dataDir,
		control: controlFlags{apiListen: "127.0.0.1:0", natsListen: "127.0.0.1:0"}}
	out, _ := startRun(t, f, "Try: ")
	m := regexp.MustCompile(`DNS router for zone cdn\.example\.test\. on (127\.0\.0\.1:\d+), UDP and TCP`).FindStringSubmatch(out.String())
	if m == nil || !regexp.MustCompile(`dig @127\.0\.0\.1 -p \d+ site\.cdn\.example\.test\.\n`).MatchString(out.String()) {
		t.Fatalf("no DNS router or dig line in the banner:\n%s", out.String())
	}
	server := m[1]
	var nodes []world.NodeInfo
	b, err := os.ReadFile(filepath.Join(dataDir, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &nodes); err != nil {
		t.Fatal(err)
	}
	urlOf := map[string]string{} // answered address → the PoP's URL
	for _, n := range nodes {
		u, _ := url.Parse(n.URL)
		urlOf[u.Hostname()] = n.URL
	}
	for _, tc := range []struct{ subnet, pop string }{
		{"127.2.0.0/16", "FRA1"}, // Berlin
		{"127.3.0.0/16", "NRT1"}, // Tokyo
		{"127.4.0.0/16", "GRU1"}, // São Paulo
		{"127.1.0.0/16", "IAD1"}, // New York
	} {
		for _, network := range []string{"udp", "tcp"} {
			q := new(mdns.Msg)
			q.SetQuestion("site.cdn.example.test.", mdns.TypeA)
			q.SetEdns0(1232, false)
			p := netip.MustParsePrefix(tc.subnet)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1,
				SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r, _, err := (&mdns.Client{Net: network}).ExchangeContext(ctx, q, server)
			cancel()
			if err != nil || len(r.Answer) != 1 {
				t.Fatalf("%s %s: %v %v", network, tc.subnet, r, err)
			}
			addr := r.Answer[0].(*mdns.A).A.String()
			base, ok := urlOf[addr]
			if !ok {
				t.Fatalf("%s: answered %s, no PoP's address", tc.subnet, addr)
			}
			req, _ := http.NewRequest("GET", base+"/", nil)
			req.Host = "site.cdn.example.test"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("X-Strata-Pop"); resp.StatusCode != 200 || string(body) != "ok" || got != tc.pop {
				t.Errorf("%s via %s (%s): %d %q from %s, want %s", tc.subnet, network, addr, resp.StatusCode, body, got, tc.pop)
			}
		}
		// strata dns explain says the same, with the same geo database.
		client := netip.MustParsePrefix(tc.subnet).Addr().Next()
		var stdout, stderr strings.Builder
		code := run([]string{"dns", "explain", "--name", "site.cdn.example.test", "--client", client.String(),
			"--geo", geoDB, "--data-dir", dataDir}, &stdout, &stderr)
		if code != 0 || !strings.Contains(stdout.String(), "answer    "+tc.pop+": ") || !strings.Contains(stdout.String(), "\n* "+tc.pop+" ") {
			t.Errorf("dns explain for %s: exit %d\n%s%s", client, code, stdout.String(), stderr.String())
		}
	}
}
