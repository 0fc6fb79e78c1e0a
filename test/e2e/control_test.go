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
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/devca"
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
// and PoPs that join it over NATS, with TLS and each with its own
// credentials.
func TestControlAndPopsAsProcesses(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "object "+r.URL.Path)
	}))
	defer origin.Close()
	ctlDir := t.TempDir()
	natsAddr := freePort(t, "127.0.0.1")
	regional, edge := freePort(t, "127.0.1.20"), freePort(t, "127.0.2.20")
	cfg := filepath.Join(t.TempDir(), "net.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
topology:
  secret: e2e
  pops:
    - {id: FRA-R1, tier: regional, listen: "%s"}
    - {id: FRA1, listen: "%s"}
`, regional, edge)), 0o644)
	// The NATS server's certificate, as an operator brings one (on loopback
	// Strata would not make one).
	caDir := t.TempDir()
	ca, _, err := devca.Ensure(caDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, _, err := ca.EnsureLeaf(caDir, "nats", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctl := exec.CommandContext(ctx, bin, "control", "--data-dir", ctlDir, "--nats-listen", natsAddr, "--api-listen", "127.0.0.1:0",
		"--nats-tls-cert", cert, "--nats-tls-key", key, "--config", cfg)
	ctlOut := &lockedBuffer{}
	stdout, _ := ctl.StdoutPipe()
	ctlErr := &lockedBuffer{}
	ctl.Stderr = io.MultiWriter(os.Stderr, ctlErr)
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
	waitOutput(t, &started{out: ctlOut}, "strata nats-creds pop ID")

	// The control plane wrote a credentials file for each PoP of the
	// topology, readable by its owner only, and printed their paths only.
	regionalCreds := filepath.Join(ctlDir, "nats-creds", "pop-FRA-R1.creds")
	for _, id := range []string{"FRA-R1", "FRA1"} {
		path := filepath.Join(ctlDir, "nats-creds", "pop-"+id+".creds")
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("credentials of %s: %v %v", id, fi, err)
		}
		if !strings.Contains(ctlOut.String(), path) {
			t.Errorf("the control plane did not say where %s's credentials are:\n%s", id, ctlOut.String())
		}
		b, _ := os.ReadFile(path)
		seed := regexp.MustCompile(`SU[A-Z2-7]{50,}`).FindString(string(b))
		if seed == "" || strings.Contains(ctlOut.String()+ctlErr.String(), seed) {
			t.Fatalf("%s's seed is missing from its file or was printed", id)
		}
	}
	// strata nats-creds issues more, on the control plane's machine.
	edgeCreds := filepath.Join(t.TempDir(), "fra1.creds")
	if out, code := cli(t, ctlDir, "nats-creds", "pop", "FRA1", "--out", edgeCreds); code != 0 || !strings.Contains(out, edgeCreds) {
		t.Fatalf("nats-creds: %d\n%s", code, out)
	}

	natsURL := "tls://" + natsAddr
	// Another PoP's credentials are refused before anything starts.
	bad := exec.Command(bin, "pop", "--id", "FRA1", "--config", cfg, "--data-dir", t.TempDir(), "--nats", natsURL, "--nats-creds", regionalCreds, "--nats-ca", ca.CertFile)
	if out, _ := bad.CombinedOutput(); bad.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "holds the credentials of pop-FRA-R1, not of pop-FRA1") {
		t.Fatalf("a PoP with another PoP's credentials: exit %d\n%s", bad.ProcessState.ExitCode(), out)
	}
	startPop(t, "--id", "FRA-R1", "--config", cfg, "--data-dir", t.TempDir(), "--nats", natsURL, "--nats-creds", regionalCreds, "--nats-ca", ca.CertFile)
	startPop(t, "--id", "FRA1", "--config", cfg, "--data-dir", t.TempDir(), "--nats", natsURL, "--nats-creds", edgeCreds, "--nats-ca", ca.CertFile)

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
	// An invalidation reaches both PoPs and each acknowledges it.
	if out, code := cli(t, ctlDir, "invalidate", "site", "/p", "--wait"); code != 0 || !strings.Contains(out, "Completed") {
		t.Fatalf("invalidate: %d\n%s", code, out)
	}
	if _, h := get(); h.Get("X-Cache") == "Hit from strata" {
		t.Fatal("the edge served a hit after the invalidation completed")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, h := get(); h.Get("X-Cache") == "Hit from strata" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the edge never cached the object again after the invalidation")
		}
		time.Sleep(100 * time.Millisecond)
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

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.WriteString(string(p))
	return len(p), nil
}
