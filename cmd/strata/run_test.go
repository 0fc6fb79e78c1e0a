package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/cli"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/testutil"
)

// startRun runs runWorld until the test ends, and waits until its banner
// holds until (or runWorld returns).
func startRun(t *testing.T, f runFlags, until string) (out *testutil.SyncBuffer, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &testutil.SyncBuffer{}
	done = make(chan error, 1)
	go func() { done <- runWorld(ctx, f, slog.New(slog.NewTextHandler(io.Discard, nil)), out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("strata run did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), until) {
		select {
		case err := <-done:
			done <- err
			return out, done
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the banner:\n%s", until, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out, done
}

// shellWords splits a command of the banner as a POSIX shell would (the
// banner quotes with '…' only).
func shellWords(cmd string) []string {
	var words []string
	for _, w := range strings.Fields(cmd) {
		words = append(words, strings.Trim(w, "'"))
	}
	return words
}

// The commands the banner suggests work for what is running: a
// configuration's own distribution (not "demo"), and the --data-dir that
// was given.
func TestBannerCommandsWork(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "site.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
pop: {listen: "127.0.0.1:0"}
distributions:
  - id: site
    origins: [{id: web, url: %q}]
    defaultCacheBehavior: {targetOriginId: web}
`, origin.URL)), 0o644)
	dataDir := filepath.Join(dir, "data")
	f := runFlags{config: cfgFile, httpsPort: -1, dataDir: dataDir,
		control: controlFlags{apiListen: "127.0.0.1:0", natsListen: "127.0.0.1:0"}}
	out, _ := startRun(t, f, "Try: ")
	var try string
	for _, l := range strings.Split(out.String(), "\n") {
		if c, ok := strings.CutPrefix(l, "Try: "); ok {
			try = c
		}
	}
	cmds := strings.Split(try, "; ")
	if len(cmds) != 3 || strings.Contains(try, "demo") || !strings.Contains(cmds[2], "invalidate site") {
		t.Fatalf("suggested: %q", try)
	}
	for _, c := range cmds {
		if !strings.HasSuffix(c, " --data-dir "+dataDir) {
			t.Errorf("%q does not name the data dir", c)
		}
		words := shellWords(c)
		if words[0] != "strata" {
			t.Fatalf("%q", c)
		}
		var stdout, stderr strings.Builder
		if code := run(words[1:], &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", c, code, stdout.String(), stderr.String())
		}
	}
}

// In quick mode, with no control plane, nothing suggests the demo.
func TestBannerQuickMode(t *testing.T) {
	f := runFlags{origin: "http://127.0.0.1:1", listen: "127.0.0.1:0", httpsPort: -1, dataDir: t.TempDir(), defaultTTL: time.Hour, noControl: true}
	out, _ := startRun(t, f, "Caching ")
	if s := out.String(); strings.Contains(s, "demo") || strings.Contains(s, "Try:") {
		t.Fatalf("quick-mode banner:\n%s", s)
	}
}

// A taken port fails start-up before anything is created, naming what to
// change; in the demo, taken default ports are replaced by free ones, and
// the banner says so.
func TestTakenPorts(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "site.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
pop: {listen: %q}
distributions:
  - id: site
    origins: [{id: web, url: "http://127.0.0.1:1"}]
    defaultCacheBehavior: {targetOriginId: web}
`, addr)), 0o644)
	for _, tc := range []struct {
		name string
		f    runFlags
		flag string
	}{
		{"configured pop.listen", runFlags{config: cfgFile, httpsPort: 0}, "pop.listen in " + cfgFile},
		{"--listen", runFlags{config: cfgFile, listen: addr, httpsPort: 0, portsSet: true}, "--listen"},
		{"demo --listen given", runFlags{listen: addr, pops: 1, httpsPort: 0, portsSet: true}, "--listen"},
		{"--api-listen", runFlags{origin: "http://127.0.0.1:1", listen: "127.0.0.1:0", httpsPort: 0,
			control: controlFlags{apiListen: addr, natsListen: "127.0.0.1:0"}}, "--api-listen"},
		{"--nats-listen", runFlags{origin: "http://127.0.0.1:1", listen: "127.0.0.1:0", httpsPort: 0,
			control: controlFlags{apiListen: "127.0.0.1:0", natsListen: addr}}, "--nats-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.dataDir = filepath.Join(t.TempDir(), "data")
			if tc.f.control.apiListen == "" {
				tc.f.noControl = true
			}
			err := runWorld(context.Background(), tc.f, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
			if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "choose another with "+tc.flag) ||
				strings.Contains(err.Error(), "for free ports") != (tc.f.portsSet && tc.f.config == "") {
				t.Fatalf("error %v, want it to name %s and %s", err, addr, tc.flag)
			}
			if _, err := os.Stat(tc.f.dataDir); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(tc.f.dataDir)
				t.Fatalf("the data dir was created before the check: %v", entries)
			}
		})
	}
	t.Run("demo on taken default ports", func(t *testing.T) {
		f := runFlags{listen: addr, pops: 1, popPort: 8080, httpsPort: 0, dataDir: t.TempDir(), noControl: true}
		out, done := startRun(t, f, "Stop with Ctrl-C.")
		select {
		case err := <-done:
			done <- err
			t.Fatalf("strata run: %v", err)
		default:
		}
		s := out.String()
		if !strings.Contains(s, "were taken: every PoP and the front door listen on free ports") || strings.Contains(s, "listening on http://"+addr) {
			t.Fatalf("banner:\n%s", s)
		}
	})
}

// An API token created by a start that then fails is printed anyway: it
// is not shown again.
func TestTokenPrintedWhenStartFails(t *testing.T) {
	dataDir := t.TempDir()
	os.WriteFile(filepath.Join(dataDir, "tls"), []byte("not a folder"), 0o644) // the development CA cannot be made
	f := runFlags{origin: "http://127.0.0.1:1", listen: "127.0.0.1:0", httpsPort: 0, dataDir: dataDir,
		control: controlFlags{apiListen: "127.0.0.1:0", natsListen: "127.0.0.1:0"}}
	var out testutil.SyncBuffer
	err := runWorld(context.Background(), f, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
	if err == nil {
		t.Fatal("start-up did not fail")
	}
	var local struct{ Token string }
	b, _ := os.ReadFile(filepath.Join(dataDir, "control.json"))
	if json.Unmarshal(b, &local) != nil || local.Token == "" {
		t.Fatalf("no token saved: %s", b)
	}
	if !strings.Contains(out.String(), local.Token) {
		t.Fatalf("the token was not printed (error %v):\n%s", err, out.String())
	}
}

// The CLI line of the banner: an invalidation only where a distribution is
// known, --data-dir only when it is not the default, quoted for the shell.
func TestPrintControlHints(t *testing.T) {
	cp := &control.Plane{APIURL: "http://127.0.0.1:8081", NATSURL: "nats://127.0.0.1:4222"}
	for _, tc := range []struct {
		hint cliHint
		want string
	}{
		{cliHint{path: "/*"}, "Try: strata status; strata dist list\n"},
		{cliHint{dist: "demo", path: "/hello.txt"}, "Try: strata status; strata dist list; strata invalidate demo /hello.txt --wait\n"},
		{cliHint{dist: "site", path: "/*", dataDir: "/tmp/my data"},
			"Try: strata status --data-dir '/tmp/my data'; strata dist list --data-dir '/tmp/my data'; strata invalidate site '/*' --wait --data-dir '/tmp/my data'\n"},
	} {
		var b strings.Builder
		printControl(&b, cp, "/d", tc.hint)
		if !strings.HasSuffix(b.String(), tc.want) {
			t.Errorf("%+v:\n%s\nwant the line %q", tc.hint, b.String(), tc.want)
		}
	}
}

// strata pop and strata control check their addresses before creating
// anything too, naming what to change.
func TestTakenPortsPopAndControl(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "net.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
topology:
  pops:
    - {id: FRA1, location: FRA, listen: %q, httpsListen: "127.0.0.1:0"}
distributions:
  - id: site
    origins: [{id: web, url: "http://127.0.0.1:1"}]
    defaultCacheBehavior: {targetOriginId: web}
`, addr)), 0o644)
	for _, tc := range []struct {
		name string
		cmd  cli.Func
		args []string
		want string
	}{
		{"pop", cmdPop, []string{"--id", "FRA1", "--config", cfgFile}, "choose another with topology.pops[0].listen in " + cfgFile},
		{"control --api-listen", cmdControl, []string{"--api-listen", addr, "--nats-listen", "127.0.0.1:0"}, "choose another with --api-listen"},
		{"control --nats-listen", cmdControl, []string{"--api-listen", "127.0.0.1:0", "--nats-listen", addr}, "choose another with --nats-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			var stdout, stderr strings.Builder
			code := tc.cmd(append(tc.args, "--data-dir", dataDir), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), addr) || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 naming %s and %q", code, stderr.String(), addr, tc.want)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("the data dir was created before the check")
			}
		})
	}
}

// TestRunLogsFieldsNotActedOn: strata run --config logs each field of the
// file that nothing acts on yet, and serves the file anyway.
func TestRunLogsFieldsNotActedOn(t *testing.T) {
	cfg := writeFile(t, "inert.yaml", `pop: {listen: "127.0.0.1:0"}
distributions:
  - id: shop
    logging: {enabled: true}
    origins: [{id: web, url: "http://127.0.0.1:9"}]
    defaultCacheBehavior: {targetOriginId: web}
`)
	ctx, cancel := context.WithCancel(context.Background())
	log, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runWorld(ctx, runFlags{config: cfg, dataDir: t.TempDir(), httpsPort: -1, noControl: true}, slog.New(slog.NewTextHandler(log, nil)), out)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "shop.strata.localhost") {
		select {
		case err := <-done:
			t.Fatalf("strata run ended: %v\n%s\n%s", err, out.String(), log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata run did not start:\n%s\n%s", out.String(), log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("strata run: %v", err)
	}
	const want = `level=WARN msg="configuration field not yet acted on" source=` // then the file, the field and why
	if !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "field=distributions[0].logging") {
		t.Errorf("the log does not name the field:\n%s", log.String())
	}
}
