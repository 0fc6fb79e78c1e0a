package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// publishedRanges reads ip-ranges.json from the control plane of the
// strata run that uses dataDir.
func publishedRanges(dataDir string) ([]*net.IPNet, error) {
	var local struct{ API string }
	b, err := os.ReadFile(filepath.Join(dataDir, "control.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &local); err != nil {
		return nil, err
	}
	resp, err := http.Get(local.API + "/ip-ranges.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		Prefixes []struct {
			IPPrefix string `json:"ip_prefix"`
		} `json:"prefixes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	var out []*net.IPNet
	for _, p := range doc.Prefixes {
		if _, n, err := net.ParseCIDR(p.IPPrefix); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// An origin that allows only the addresses of ip-ranges.json serves a
// world whose PoPs name no egress: their connections leave from the
// addresses published (their listen addresses), not from whatever address
// the system picks (127.0.0.1 on loopback).
func TestOriginAllowsPublishedRanges(t *testing.T) {
	dataDir := t.TempDir()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges, err := publishedRanges(dataDir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		for _, n := range ranges {
			if n.Contains(net.ParseIP(host)) {
				io.WriteString(w, "allowed "+host)
				return
			}
		}
		http.Error(w, fmt.Sprintf("%s is not in ip-ranges.json %v", host, ranges), http.StatusForbidden)
	}))
	defer origin.Close()
	cfg := filepath.Join(t.TempDir(), "strata.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
topology:
  pops:
    - {id: FRA-R1, location: FRA-R, tier: regional, listen: "127.0.3.1:0"}
    - {id: FRA1, location: FRA, parent: FRA-R1, listen: "127.0.3.2:0"}
distributions:
  - id: site
    origins: [{id: web, url: %q}]
    defaultCacheBehavior: {targetOriginId: web}
    cacheBehaviors:
      - {pathPattern: "/pass*", targetOriginId: web, cachePolicyId: Managed-CachingDisabled}
`, origin.URL)), 0o644)
	s := start(t, "--config", cfg, "--data-dir", dataDir)
	deadline := time.Now().Add(20 * time.Second)
	for { // both PoPs have reported to the control plane
		if r, err := publishedRanges(dataDir); err == nil && len(r) == 2 {
			break
		}
		if time.Now().After(deadline) {
			r, err := publishedRanges(dataDir)
			t.Fatalf("ip-ranges.json never listed both PoPs: %v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var nodes []nodeInfo
	b, _ := os.ReadFile(filepath.Join(dataDir, "network.json"))
	json.Unmarshal(b, &nodes)
	// Misses go through the regional PoP (FRA-R1 asks the origin); passes
	// go from the edge straight to the origin. Viewers reach edges only (a
	// regional PoP refuses them).
	seen := map[string]bool{}
	for i, base := range append([]string{s.base}, nodeURLs(nodes)...) {
		for _, path := range []string{fmt.Sprintf("/miss%d", i), fmt.Sprintf("/pass%d", i)} {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Host = "site.strata.localhost"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "allowed ") {
				t.Fatalf("%s via %s: %d %s", path, base, resp.StatusCode, body)
			}
			seen[strings.TrimPrefix(string(body), "allowed ")] = true
		}
	}
	if !seen["127.0.3.1"] || !seen["127.0.3.2"] {
		t.Fatalf("the origin saw %v, want the regional PoP's and the edge's listen addresses", seen)
	}
}

func nodeURLs(nodes []nodeInfo) []string {
	var out []string
	for _, n := range nodes {
		if n.Tier != "regional" {
			out = append(out, n.URL)
		}
	}
	return out
}
