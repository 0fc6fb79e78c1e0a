package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cli runs a strata CLI command against the strata run that uses dataDir.
func cli(t *testing.T, dataDir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--data-dir", dataDir)...)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

func TestControlPlaneThroughTheCLI(t *testing.T) {
	var version atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s v%d", r.URL.Path, version.Load())
	}))
	defer origin.Close()
	dir := t.TempDir()
	s := start(t, "--data-dir", dir, "--pops", "6")
	waitOutput(t, s, "Control plane API on")
	var nodes []nodeInfo
	b, _ := os.ReadFile(filepath.Join(dir, "network.json"))
	json.Unmarshal(b, &nodes)

	// Every PoP reports in.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, code := cli(t, dir, "status")
		if code == 0 && strings.Count(out, " yes") >= len(nodes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed %d healthy PoPs:\n%s", len(nodes), out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A distribution created through the API is served by every PoP.
	file := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("id: site\naliases: [site.example]\norigins:\n  - id: web\n    url: %s\ndefaultCacheBehavior:\n  targetOriginId: web\n", origin.URL)), 0o644)
	if out, code := cli(t, dir, "dist", "create", "--file", file); code != 0 {
		t.Fatalf("dist create: %d\n%s", code, out)
	}
	get := func(url string) (string, string) {
		req, _ := http.NewRequest("GET", url+"/page", nil)
		req.Host = "site.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), resp.Header.Get("X-Cache")
	}
	// Viewers use edges: a regional PoP refuses them, and is seen through
	// its edges (an edge's miss is its parent's request).
	var edges []nodeInfo
	for _, n := range nodes {
		if n.Tier == "regional" {
			if body, _ := get(n.URL); !strings.Contains(body, "does not serve viewers") {
				t.Fatalf("regional %s answered a viewer: %q", n.ID, body)
			}
			continue
		}
		edges = append(edges, n)
	}
	nodes = edges
	for _, n := range nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if body, _ := get(n.URL); body == "/page v0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never served the new distribution", n.ID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	edge := nodes[len(nodes)-1]
	if _, xc := get(edge.URL); xc != "Hit from strata" {
		t.Fatalf("X-Cache %q", xc)
	}

	// A stale ETag is refused and changes nothing.
	os.WriteFile(file, []byte(fmt.Sprintf("id: site\ncomment: changed\naliases: [site.example]\norigins:\n  - id: web\n    url: %s\ndefaultCacheBehavior:\n  targetOriginId: web\n", origin.URL)), 0o644)
	if out, code := cli(t, dir, "dist", "update", "site", "--file", file, "--if-match", `"1"`); code != 1 || !strings.Contains(out, "changed") {
		t.Fatalf("stale update: %d\n%s", code, out)
	}
	if out, _ := cli(t, dir, "dist", "get", "site"); strings.Contains(out, "comment: changed") || strings.Contains(out, `"comment": "changed"`) {
		t.Fatalf("a refused update changed the distribution:\n%s", out)
	}

	// An invalidation reaches every PoP before --wait returns.
	version.Store(1)
	if out, code := cli(t, dir, "invalidate", "site", "/page", "--wait"); code != 0 || !strings.Contains(out, "Completed") {
		t.Fatalf("invalidate: %d\n%s", code, out)
	}
	for _, n := range nodes {
		if body, _ := get(n.URL); body != "/page v1" {
			t.Fatalf("%s served %q after the invalidation completed", n.ID, body)
		}
	}
}

func TestDemoTwiceOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // the demo origin has a new address each time
		s := start(t, "--data-dir", dir, "--pops", "2")
		if h, body := getHeader(t, s.base+"/hello.txt"); h.Get("X-Cache") == "" || body != "Hello from the Strata demo origin.\n" {
			t.Fatalf("run %d: %q %v", i, body, h)
		}
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
	}
}

// The deployment of several machines, as processes: the control plane alone,
// and PoPs that join it over NATS.
func TestControlAndPopsAsProcesses(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "object "+r.URL.Path)
	}))
	defer origin.Close()
	ctlDir := t.TempDir()
	natsAddr := freePort(t, "127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctl := exec.CommandContext(ctx, bin, "control", "--data-dir", ctlDir, "--nats-listen", natsAddr, "--api-listen", "127.0.0.1:0")
	ctlOut := &lockedBuffer{}
	stdout, _ := ctl.StdoutPipe()
	ctl.Stderr = os.Stderr
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ctl.Process.Kill(); ctl.Wait() }()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ctlOut.WriteString(sc.Text() + "\n")
		}
	}()
	waitOutput(t, &started{out: ctlOut}, "API token")

	regional, edge := freePort(t, "127.0.1.20"), freePort(t, "127.0.2.20")
	cfg := filepath.Join(t.TempDir(), "net.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
topology:
  secret: e2e
  pops:
    - {id: FRA-R1, tier: regional, listen: "%s"}
    - {id: FRA1, listen: "%s"}
`, regional, edge)), 0o644)
	startPop(t, "--id", "FRA-R1", "--config", cfg, "--data-dir", t.TempDir(), "--nats", "nats://"+natsAddr)
	startPop(t, "--id", "FRA1", "--config", cfg, "--data-dir", t.TempDir(), "--nats", "nats://"+natsAddr)

	// Both PoPs report in; a distribution created through the CLI reaches them.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := cli(t, ctlDir, "status")
		if strings.Count(out, " yes") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("id: site\naliases: [site.example]\norigins: [{id: web, url: %q}]\ndefaultCacheBehavior: {targetOriginId: web}\n", origin.URL)), 0o644)
	if out, code := cli(t, ctlDir, "dist", "create", "--file", file); code != 0 {
		t.Fatalf("dist create: %s", out)
	}
	get := func() (int, http.Header) {
		req, _ := http.NewRequest("GET", "http://"+edge+"/p", nil)
		req.Host = "site.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge never served the distribution created through the control plane")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The control plane (and its NATS) goes away: the PoPs keep serving.
	ctl.Process.Kill()
	ctl.Wait()
	for i := 0; i < 3; i++ {
		if code, h := get(); code != 200 || h.Get("X-Cache") != "Hit from strata" {
			t.Fatalf("without the control plane: %d %v", code, h)
		}
	}
}
