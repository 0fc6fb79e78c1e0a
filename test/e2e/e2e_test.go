// Package e2e drives the built strata binary as a user would: subprocesses,
// real sockets, exit codes and printed output.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-e2e")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/strata")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building strata:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// started is a running `strata run` and the base URL it printed.
type started struct {
	cmd  *exec.Cmd
	base string
	out  *lockedBuffer
}

// lockedBuffer collects a subprocess's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"run", "--listen", "127.0.0.1:0", "--pop-port", "0", "--nats-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &started{cmd: cmd, out: &lockedBuffer{}}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			s.out.WriteString(sc.Text() + "\n")
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case base, ok := <-found:
		if !ok {
			t.Fatalf("strata exited without printing its address")
		}
		s.base = base
	case <-time.After(30 * time.Second):
		t.Fatal("strata did not start")
	}
	return s
}

func head(t *testing.T, url string) http.Header {
	t.Helper()
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header
}

func TestDemoMissThenHit(t *testing.T) {
	s := start(t)
	first := head(t, s.base+"/hello.txt")
	second := head(t, s.base+"/hello.txt")
	if first.Get("X-Cache") != "Miss from strata" || second.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("X-Cache: %q then %q", first.Get("X-Cache"), second.Get("X-Cache"))
	}
	waitOutput(t, s, "curl -sI "+s.base+"/hello.txt")
	resp, err := http.Get(s.base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "/hello.txt 1\n") {
		t.Fatalf("demo origin stats: %q", b)
	}
}

func TestQuickMode(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "from my origin "+r.URL.Path)
	}))
	defer origin.Close()
	s := start(t, "--origin", origin.URL)
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", s.base+"/page", nil)
		req.Host = fmt.Sprintf("any-host-%d.example", i) // quick mode answers any Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "from my origin /page" {
			t.Fatalf("body %q", b)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("origin saw %d requests; the 24h default TTL should cache the page", hits.Load())
	}
	// --default-ttl 0: only what the origin marks fresh is cached.
	s0 := start(t, "--origin", origin.URL, "--default-ttl", "0")
	head(t, s0.base+"/other")
	if h := head(t, s0.base+"/other"); h.Get("X-Cache") != "Miss from strata" {
		t.Fatalf("with --default-ttl 0 an unmarked response was cached: %q", h.Get("X-Cache"))
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`
distributions:
  - id: site
    origins:
      - id: web
        url: http://127.0.0.1:9000
    defaultCacheBehavior:
      targetOriginId: web
`), 0o644)
	out, err := exec.Command(bin, "validate", "--config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("good config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`
distributions:
  - id: site
    origins:
      - id: web
        url: http://127.0.0.1:9000
    defaultCacheBehavior:
      targetOriginId: nowhere
      viewerProtocolPolicy: sometimes
    cacheBehaviors:
      - pathPattern: /img/*
        targetOriginId: web
        colour: blue
`), 0o644)
	cmd := exec.Command(bin, "validate", "--config", bad)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("bad config: exit %d, want 1\n%s", cmd.ProcessState.ExitCode(), out)
	}
	for _, want := range []string{
		"distributions[0].defaultCacheBehavior.targetOriginId",
		"distributions[0].defaultCacheBehavior.viewerProtocolPolicy",
		"distributions[0].cacheBehaviors[0].colour",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	// run refuses the same file and says why.
	run := exec.Command(bin, "run", "--config", bad, "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	out, _ = run.CombinedOutput()
	if run.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "targetOriginId") {
		t.Fatalf("run with a bad config: exit %d\n%s", run.ProcessState.ExitCode(), out)
	}
}

func TestConfigRun(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "configured")
	}))
	defer origin.Close()
	cfg := filepath.Join(t.TempDir(), "strata.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
pop:
  id: CFG1
distributions:
  - id: site
    aliases: [www.example.test]
    origins:
      - id: web
        url: %s
    defaultCacheBehavior:
      targetOriginId: web
`, origin.URL)), 0o644)
	s := start(t, "--config", cfg)
	get := func(host string) *http.Response {
		req, _ := http.NewRequest("GET", s.base+"/x", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	get("www.example.test")
	if r := get("www.example.test"); r.Header.Get("X-Cache") != "Hit from strata" || r.Header.Get("X-Strata-Pop") != "CFG1" {
		t.Fatalf("second request: %v", r.Header)
	}
	if r := get("site.strata.localhost"); r.StatusCode != 200 {
		t.Fatalf("default domain name: %d", r.StatusCode)
	}
	if r := get("other.example"); r.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("unknown host: %d", r.StatusCode)
	}
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	s := start(t)
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
}

func TestConfigListenIsUsed(t *testing.T) {
	addr := freePort(t, "127.0.0.1")
	cfg := filepath.Join(t.TempDir(), "one.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("pop:\n  listen: %q\ndistributions:\n  - id: site\n    aliases: [\"127.0.0.1\"]\n    origins: [{id: web, url: \"http://127.0.0.1:9\"}]\n    defaultCacheBehavior: {targetOriginId: web}\n", addr)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg, "--data-dir", t.TempDir(), "--nats-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "listening on") {
			if !strings.Contains(sc.Text(), addr) {
				t.Fatalf("pop.listen %s ignored: %s", addr, sc.Text())
			}
			return
		}
	}
	t.Fatal("no listening line")
}
