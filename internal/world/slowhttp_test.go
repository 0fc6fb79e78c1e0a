package world

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// Slow-client attacks with Debian's slowhttptest against one PoP, 600
// connections each, from 127.0.0.1: slowloris (headers never finished),
// slow body (a form body a few bytes at a time) and slow read (a tiny
// receive window, read a few bytes a second). Meanwhile a legitimate probe
// from another loopback address (127.0.0.2) asks for a cached object on a
// new connection while the attack runs, up to 100 times (the tool is
// stopped then; it also ends by itself once the PoP has cut all its
// connections, and its 120 s length bounds a failure); at least 99 % of
// the probes must succeed. scripts/test.sh installs slowhttptest.
func TestSlowHTTPTest(t *testing.T) {
	tool, err := exec.LookPath("slowhttptest")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_TOOLS") == "1" {
			t.Fatal("slowhttptest not installed (apt-get install -y slowhttptest; scripts/test.sh does it)")
		}
		t.Skip("slowhttptest not installed")
	}
	if testing.Short() {
		t.Skip("takes about a minute")
	}
	big := strings.Repeat("b", 1<<20)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	cfg := &config.Config{
		PoP: config.PoP{ID: "SLOW1", Listen: "127.0.0.1:0",
			ReadHeaderTimeout: config.Duration(5 * time.Second), ViewerWriteTimeout: config.Duration(3 * time.Second),
			RequestBodyTimeout: config.Duration(5 * time.Second)},
		Distributions: []config.Distribution{{ID: "d", Origins: []config.Origin{{ID: "o", URL: origin.URL}},
			DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "o",
				AllowedMethods: []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}}}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := Start(Options{Config: cfg, DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	base := w.Node("SLOW1").URL
	probeClient := func() *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	for _, path := range []string{"/probe", "/big"} { // cached before the attacks
		resp, err := probeClient().Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const probes = 100
	for _, a := range []struct {
		name string
		args []string
	}{
		{"slowloris", []string{"-H", "-i", "1", "-u", base + "/probe"}},
		{"slow body", []string{"-B", "-i", "1", "-s", "100000", "-x", "10", "-u", base + "/form"}},
		{"slow read", []string{"-X", "-k", "1", "-n", "1", "-w", "1", "-y", "512", "-z", "5", "-u", base + "/big"}},
	} {
		t.Run(a.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			args := append([]string{"-c", "600", "-r", "200", "-l", "120", "-p", "3"}, a.args...)
			cmd := exec.CommandContext(ctx, tool, args...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The probe runs while the tool does.
			var mu sync.Mutex
			ok, total := 0, 0
			var lastErr string
			c := probeClient()
		probing:
			for total < probes {
				select {
				case err := <-done:
					// The PoP cut every attack connection (the tool ends
					// when none is left open), or the tool failed.
					done <- err
					break probing
				case <-time.After(50 * time.Millisecond):
				}
				resp, err := c.Get(base + "/probe")
				mu.Lock()
				total++
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 && string(b) == "ok" {
						ok++
					} else {
						lastErr = resp.Status
					}
				} else {
					lastErr = err.Error()
				}
				mu.Unlock()
			}
			cmd.Process.Kill()
			if err := <-done; err != nil && !strings.Contains(err.Error(), "killed") {
				t.Fatalf("slowhttptest: %v\n%s", err, out.String())
			}
			if total == 0 {
				t.Fatalf("slowhttptest ended before any probe:\n%s", out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			tail := lines[max(0, len(lines)-12):]
			t.Logf("%s: probe %d/%d ok; slowhttptest ends:\n%s", a.name, ok, total, strings.Join(tail, "\n"))
			if ok*100 < total*99 {
				t.Fatalf("%s: probe success %d/%d under 99%% (last failure: %s)", a.name, ok, total, lastErr)
			}
		})
	}
}
