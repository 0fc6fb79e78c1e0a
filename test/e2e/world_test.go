package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type nodeInfo struct {
	ID, Tier, Location, Region, Parent, URL string
}

func getHeader(t *testing.T, url string) (http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header, string(b)
}

func TestDemoWorld(t *testing.T) {
	dir := t.TempDir()
	s := start(t, "--data-dir", dir, "--pops", "9")
	var nodes []nodeInfo
	b, err := os.ReadFile(filepath.Join(dir, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 9 {
		t.Fatalf("network.json lists %d PoPs", len(nodes))
	}
	byParent := map[string][]nodeInfo{}
	regional := 0
	for _, n := range nodes {
		if n.Tier == "regional" {
			regional++
		} else {
			byParent[n.Parent] = append(byParent[n.Parent], n)
		}
		waitOutput(t, s, n.URL)
	}
	if regional != 3 || len(byParent) != 3 {
		t.Fatalf("want 3 regional caches with edges under each: %+v", nodes)
	}
	// Two edges under one regional cache: the second is served by the regional tier.
	var pair []nodeInfo
	for _, es := range byParent {
		if len(es) >= 2 {
			pair = es
			break
		}
	}
	h1, _ := getHeader(t, pair[0].URL+"/hello.txt")
	h2, body := getHeader(t, pair[1].URL+"/hello.txt")
	if h1.Get("X-Strata-Served-By") != "origin" || h2.Get("X-Strata-Served-By") != pair[1].Parent || h2.Get("X-Cache") != "Miss from strata" {
		t.Fatalf("first %v / second %v", h1, h2)
	}
	if body != "Hello from the Strata demo origin.\n" {
		t.Fatalf("body %q", body)
	}
	h3, _ := getHeader(t, pair[1].URL+"/hello.txt")
	if h3.Get("X-Cache") != "Hit from strata" || h3.Get("X-Strata-Served-By") != pair[1].ID {
		t.Fatalf("third: %v", h3)
	}
	// The front door is an edge too.
	if h := head(t, s.base+"/hello.txt"); h.Get("X-Strata-Pop") == "" {
		t.Fatalf("front door: %v", h)
	}
}

// waitOutput waits until the process has printed sub.
func waitOutput(t *testing.T, s *started, sub string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.out.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q:\n%s", sub, s.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPop runs `strata pop` and waits until it listens.
func startPop(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"pop"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if regexp.MustCompile(`listening on`).MatchString(sc.Text()) {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("strata pop exited")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("strata pop did not start")
	}
	return cmd
}

func TestPopProcesses(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "object "+r.URL.Path)
	}))
	defer origin.Close()
	regional, edge1, edge2 := freePort(t, "127.0.1.10"), freePort(t, "127.0.2.10"), freePort(t, "127.0.2.11")
	cfg := filepath.Join(t.TempDir(), "net.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
topology:
  secret: e2e-secret
  pops:
    - {id: FRA-R1, tier: regional, listen: "%s"}
    - {id: FRA1, listen: "%s", egress: 127.0.2.10}
    - {id: MUC1, listen: "%s", egress: 127.0.2.11}
distributions:
  - id: site
    origins: [{id: web, url: "%s"}]
    defaultCacheBehavior: {targetOriginId: web}
`, regional, edge1, edge2, origin.URL)), 0o644)
	reg := startPop(t, "--id", "FRA-R1", "--config", cfg, "--data-dir", t.TempDir())
	startPop(t, "--id", "FRA1", "--config", cfg, "--data-dir", t.TempDir())
	startPop(t, "--id", "MUC1", "--config", cfg, "--data-dir", t.TempDir())
	get := func(addr, path string) (http.Header, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = "site.strata.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s%s: %d %s", addr, path, resp.StatusCode, b)
		}
		return resp.Header, string(b)
	}
	get(edge1, "/a")
	h, _ := get(edge2, "/a")
	if hits.Load() != 1 || h.Get("X-Strata-Served-By") != "FRA-R1" {
		t.Fatalf("origin hits %d, served by %q", hits.Load(), h.Get("X-Strata-Served-By"))
	}
	// The regional PoP process dies: edges keep serving, from the origin.
	reg.Process.Kill()
	reg.Wait()
	for i := 0; i < 3; i++ {
		h, body := get(edge2, fmt.Sprintf("/b%d", i))
		if body != fmt.Sprintf("object /b%d", i) || h.Get("X-Strata-Served-By") != "origin" {
			t.Fatalf("after the regional died: %q %v", body, h)
		}
	}
	// Unknown PoP ids are refused.
	out, err := exec.Command(bin, "pop", "--id", "NOPE1", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "NOPE1") {
		t.Fatalf("unknown id: %v %s", err, out)
	}
}

func TestRestartServesFromDisk(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, strings.Repeat("persisted ", 100000))
	}))
	defer origin.Close()
	dir := t.TempDir()
	first := start(t, "--origin", origin.URL, "--data-dir", dir)
	if h, body := getHeader(t, first.base+"/file"); len(body) != 1000000 || h.Get("X-Cache") != "Miss from strata" {
		t.Fatalf("first: %d bytes, %v", len(body), h)
	}
	first.cmd.Process.Signal(syscall.SIGTERM)
	first.cmd.Wait()
	second := start(t, "--origin", origin.URL, "--data-dir", dir)
	h, body := getHeader(t, second.base+"/file")
	if len(body) != 1000000 || h.Get("X-Cache") != "Hit from strata" || hits.Load() != 1 {
		t.Fatalf("after restart: %d bytes, %q, origin hits %d", len(body), h.Get("X-Cache"), hits.Load())
	}
}
