package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/client"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// testControl is a real control plane (embedded NATS, store, REST API) and a
// data directory whose control.json points at it.
type testControl struct {
	t       *testing.T
	api     string
	token   string
	dataDir string
	nc      *nats.Conn
}

func startTestControl(t *testing.T) *testControl {
	t.Helper()
	t.Setenv("STRATA_TOKEN", "")
	dir := t.TempDir()
	auth, err := control.NewNATSAuth()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := control.StartNATS(control.NATSOptions{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	co, err := auth.ConnectOptions(control.RoleControl, "")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), co...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The context bounds the start (New and EnsureToken), not the server.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	srv, err := control.New(ctx, control.Options{JS: js, NC: nc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	secret, created, err := srv.EnsureToken(ctx)
	if err != nil || !created || secret == "" {
		t.Fatalf("EnsureToken: %q, %v, %v", secret, created, err)
	}
	tc := &testControl{t: t, api: hs.URL, token: secret, dataDir: filepath.Join(dir, "data"), nc: nc}
	tc.writeControlJSON(hs.URL, secret)
	return tc
}

func (tc *testControl) writeControlJSON(api, token string) {
	tc.t.Helper()
	if err := os.MkdirAll(tc.dataDir, 0o700); err != nil {
		tc.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"api": api, "token": token})
	if err := os.WriteFile(filepath.Join(tc.dataDir, "control.json"), b, 0o600); err != nil {
		tc.t.Fatal(err)
	}
}

type cmdFunc func(args []string, stdout, stderr io.Writer) int

// run runs a command with --data-dir pointing at the control plane's.
func (tc *testControl) run(cmd cmdFunc, args ...string) (code int, stdout, stderr string) {
	tc.t.Helper()
	var out, errOut bytes.Buffer
	code = cmd(append(args, "--data-dir", tc.dataDir), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs a command that must succeed.
func (tc *testControl) mustRun(cmd cmdFunc, args ...string) string {
	tc.t.Helper()
	code, out, errOut := tc.run(cmd, args...)
	if code != 0 {
		tc.t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

// apiDo calls the API directly, as a second client would.
func (tc *testControl) apiDo(method, path string, body any) (int, []byte) {
	tc.t.Helper()
	status, _, data, err := client.New(tc.api, tc.token).Do(method, path, body, "")
	var ae *client.Error
	if err != nil && !errors.As(err, &ae) {
		tc.t.Fatal(err)
	}
	return status, data
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const distYAML = `# a test distribution
id: ETEST1
comment: first version
aliases: [www.example.com]
origins:
  - id: origin1
    url: http://127.0.0.1:9000/static
defaultCacheBehavior:
  targetOriginId: origin1
`

// etagOf returns the ETag of a distribution, from "dist list --json".
func (tc *testControl) etagOf(id string) string {
	tc.t.Helper()
	out := tc.mustRun(cmdDist, "list", "--json")
	var list struct {
		Items []struct{ ID, ETag string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		tc.t.Fatalf("dist list --json: %v\n%s", err, out)
	}
	for _, it := range list.Items {
		if it.ID == id {
			return it.ETag
		}
	}
	tc.t.Fatalf("%s not in the list:\n%s", id, out)
	return ""
}

func TestCLIDistributions(t *testing.T) {
	tc := startTestControl(t)

	// Create from YAML; the table shows it.
	out := tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", distYAML))
	for _, want := range []string{"created distribution ETEST1", "etest1.strata.localhost", "www.example.com", "origin1", "127.0.0.1:9000/static", "first version"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	// The same id again: the API refuses.
	code, _, errOut := tc.run(cmdDist, "create", "--file", writeFile(t, "dist.yaml", distYAML))
	if code != 1 || !strings.Contains(errOut, "strata: AlreadyExists") {
		t.Errorf("create twice: exit %d, stderr %q", code, errOut)
	}

	out = tc.mustRun(cmdDist, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "ETEST1 ") ||
		!strings.Contains(lines[1], "first version") || lines[2] != "1 distribution(s)" {
		t.Errorf("list:\n%s", out)
	}

	out = tc.mustRun(cmdDist, "get", "ETEST1")
	if !regexp.MustCompile(`(?m)^ID:\s+ETEST1$`).MatchString(out) || !regexp.MustCompile(`(?m)^Comment:\s+first version$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^ETag:\s+"\d+"$`).MatchString(out) {
		t.Errorf("get:\n%s", out)
	}
	oldETag := tc.etagOf("ETEST1")

	// Update with a changed comment (and no id: the URL's is used), without
	// --if-match: the CLI reads the current ETag first.
	updated := strings.Replace(strings.Replace(distYAML, "first version", "second version", 1), "id: ETEST1\n", "", 1)
	out = tc.mustRun(cmdDist, "update", "ETEST1", "--file", writeFile(t, "dist2.yaml", updated))
	if !strings.Contains(out, "updated distribution ETEST1") || !strings.Contains(out, "second version") {
		t.Errorf("update:\n%s", out)
	}
	out = tc.mustRun(cmdDist, "get", "ETEST1")
	if !strings.Contains(out, "second version") {
		t.Errorf("get after update:\n%s", out)
	}
	newETag := tc.etagOf("ETEST1")
	if newETag == oldETag {
		t.Errorf("ETag unchanged by the update: %s", newETag)
	}

	// A stale --if-match: refused, nothing changes.
	stale := strings.Replace(distYAML, "first version", "third version", 1)
	code, _, errOut = tc.run(cmdDist, "update", "ETEST1", "--file", writeFile(t, "dist3.yaml", stale), "--if-match", oldETag)
	if code != 1 || !strings.Contains(errOut, "changed since you read it") {
		t.Errorf("stale update: exit %d, stderr %q", code, errOut)
	}
	if out := tc.mustRun(cmdDist, "get", "ETEST1"); !strings.Contains(out, "second version") {
		t.Errorf("stale update changed the distribution:\n%s", out)
	}
	// A bare revision works as --if-match too.
	tc.mustRun(cmdDist, "update", "ETEST1", "--file", writeFile(t, "dist3.yaml", stale), "--if-match", strings.Trim(newETag, `"`))

	// An id in the file that is not the URL's.
	code, _, errOut = tc.run(cmdDist, "update", "EOTHER", "--file", writeFile(t, "dist3.yaml", stale))
	if code != 1 || !strings.Contains(errOut, "id: \"ETEST1\" is not the id of the distribution being updated") {
		t.Errorf("update with another id: exit %d, stderr %q", code, errOut)
	}

	// --json prints what the API returned.
	out = tc.mustRun(cmdDist, "get", "ETEST1", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["id"] != "ETEST1" || got["comment"] != "third version" {
		t.Errorf("get --json: %v\n%s", err, out)
	}

	// Invalid locally: field paths (relative to the file) and lines.
	bad := "id: EBAD1\ncommnet: typo\norigins:\n  - id: origin1\n    url: http://127.0.0.1:9000\ndefaultCacheBehavior:\n  targetOriginId: nowhere\n"
	code, _, errOut = tc.run(cmdDist, "create", "--file", writeFile(t, "bad.yaml", bad))
	if code != 1 || !strings.Contains(errOut, `commnet (line 2): unknown field; did you mean "comment"?`) ||
		!strings.Contains(errOut, "defaultCacheBehavior.targetOriginId (line 7): \"nowhere\" is not an origin") {
		t.Errorf("invalid create: exit %d, stderr:\n%s", code, errOut)
	}
	// Invalid on the server only: a hostname another distribution has.
	clash := strings.Replace(distYAML, "id: ETEST1", "id: ETEST2", 1)
	code, _, errOut = tc.run(cmdDist, "create", "--file", writeFile(t, "clash.yaml", clash))
	if code != 1 || !strings.Contains(errOut, "strata: InvalidArgument") || !regexp.MustCompile(`(?m)^  distributions\[\d+\]\.aliases\[0\]: .*www\.example\.com`).MatchString(errOut) {
		t.Errorf("alias clash: exit %d, stderr:\n%s", code, errOut)
	}

	// Without an id the control plane makes one; JSON files work too.
	jsonDist := `{
  "comment": "made from JSON",
  "origins": [{"id": "o", "domainName": "origin.example.com"}],
  "defaultCacheBehavior": {"targetOriginId": "o", "cachePolicyId": "Managed-CachingDisabled"}
}`
	out = tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.json", jsonDist), "--json")
	var made struct{ ID, DomainName string }
	if err := json.Unmarshal([]byte(out), &made); err != nil || !regexp.MustCompile(`^E[A-Z0-9]{13}$`).MatchString(made.ID) ||
		made.DomainName != strings.ToLower(made.ID)+".strata.localhost" {
		t.Errorf("create without id: %v, %+v\n%s", err, made, out)
	}

	// A distribution that uses a cache policy of the control plane.
	if status, body := tc.apiDo(http.MethodPost, "/cache-policies", map[string]any{"id": "short", "minTTL": 1}); status != http.StatusCreated {
		t.Fatalf("create cache policy: %d %s", status, body)
	}
	withPolicy := strings.NewReplacer("id: ETEST1", "id: ETEST3", "[www.example.com]", "[]", "targetOriginId: origin1", "targetOriginId: origin1\n  cachePolicyId: short").Replace(distYAML)
	out = tc.mustRun(cmdDist, "create", "--file", writeFile(t, "policy.yaml", withPolicy))
	if !strings.Contains(out, "short") {
		t.Errorf("create with a custom cache policy:\n%s", out)
	}
	missing := strings.Replace(withPolicy, "id: ETEST3", "id: ETEST4", 1)
	missing = strings.Replace(missing, "cachePolicyId: short", "cachePolicyId: nosuch", 1)
	code, _, errOut = tc.run(cmdDist, "create", "--file", writeFile(t, "missing.yaml", missing))
	if code != 1 || !strings.Contains(errOut, `defaultCacheBehavior.cachePolicyId (line 10): "nosuch" is not a cache policy`) {
		t.Errorf("unknown cache policy: exit %d, stderr:\n%s", code, errOut)
	}
	// Still in use: the policy cannot go.
	// (Exercised through the API: the CLI has no policy commands.)

	// Delete with a stale ETag: refused; then without: gone.
	code, _, errOut = tc.run(cmdDist, "delete", "ETEST1", "--if-match", oldETag)
	if code != 1 || !strings.Contains(errOut, "changed since you read it") {
		t.Errorf("stale delete: exit %d, stderr %q", code, errOut)
	}
	out = tc.mustRun(cmdDist, "delete", "ETEST1")
	if !strings.Contains(out, "deleted distribution ETEST1") {
		t.Errorf("delete: %s", out)
	}
	code, _, errOut = tc.run(cmdDist, "get", "ETEST1")
	if code != 1 || !strings.Contains(errOut, "strata: NoSuchResource") {
		t.Errorf("get after delete: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = tc.run(cmdDist, "delete", "ETEST1")
	if code != 1 || !strings.Contains(errOut, "strata: NoSuchResource") {
		t.Errorf("delete twice: exit %d, stderr %q", code, errOut)
	}
}

func TestCLIInvalidate(t *testing.T) {
	tc := startTestControl(t)
	tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", distYAML))

	idRE := regexp.MustCompile(`\bI[A-Z0-9]{13}\b`)
	// No PoP is healthy: Completed at once.
	out := tc.mustRun(Invalidate, "ETEST1", "/index.html", "/images/*", "--tag", "product-42")
	if !idRE.MatchString(out) || !strings.Contains(out, "Completed") || !strings.Contains(out, "/images/*") || !strings.Contains(out, "product-42") {
		t.Errorf("invalidate:\n%s", out)
	}
	out = tc.mustRun(Invalidate, "--wait", "--timeout", "5s", "ETEST1", "--tag", "a", "--tag", "b", "--json")
	var inv wire.Invalidation
	if err := json.Unmarshal([]byte(out), &inv); err != nil || !idRE.MatchString(inv.ID) || inv.Status != wire.StatusCompleted ||
		inv.DistributionID != "ETEST1" || strings.Join(inv.Tags, ",") != "a,b" {
		t.Errorf("invalidate --json: %v %+v\n%s", err, inv, out)
	}
	// The same caller reference: the same invalidation.
	first := tc.mustRun(Invalidate, "ETEST1", "/x", "--caller-reference", "ref-1", "--json")
	again := tc.mustRun(Invalidate, "ETEST1", "/x", "--caller-reference", "ref-1", "--json")
	var a, b wire.Invalidation
	json.Unmarshal([]byte(first), &a)
	json.Unmarshal([]byte(again), &b)
	if a.ID == "" || a.ID != b.ID {
		t.Errorf("caller reference repeated: %q then %q", a.ID, b.ID)
	}

	// Usage errors, found before any request.
	for _, args := range [][]string{{}, {"ETEST1"}, {"ETEST1", "index.html"}, {"ETEST1", "/a*b"}, {"ETEST1", "/a", "--wait", "--timeout", "0s"}} {
		if code, _, errOut := tc.run(Invalidate, args...); code != 2 || errOut == "" {
			t.Errorf("invalidate %q: exit %d, stderr %q", args, code, errOut)
		}
	}
	// An unknown distribution.
	code, _, errOut := tc.run(Invalidate, "ENOSUCH", "/a")
	if code != 1 || !strings.HasPrefix(errOut, "strata: ") {
		t.Errorf("invalidate an unknown distribution: exit %d, stderr %q", code, errOut)
	}
}

func TestCLIStatusNoPoPs(t *testing.T) {
	tc := startTestControl(t)
	out := tc.mustRun(Status)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "POP") || !strings.Contains(lines[0], "LAST HEARTBEAT") || lines[1] != "0 PoP(s), 0 healthy" {
		t.Errorf("status:\n%s", out)
	}
	out = tc.mustRun(Status, "--json")
	var list struct {
		Items    []any `json:"items"`
		Quantity int   `json:"quantity"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 0 || list.Quantity != 0 {
		t.Errorf("status --json: %v\n%s", err, out)
	}
}

// TestCLIStatusAndWait has a PoP announce itself on NATS as a real one does:
// status lists it, an invalidation waits for its acknowledgement.
func TestCLIStatusAndWait(t *testing.T) {
	tc := startTestControl(t)
	tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", distYAML))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beat := func() {
		hb := wire.Heartbeat{PoP: "FRA1", Tier: "edge", Location: "FRA", Region: "eu", URL: "http://127.0.0.1:1", ConfigVersion: 7, Time: time.Now()}
		b, _ := json.Marshal(hb)
		tc.nc.Publish(wire.SubjectHeartbeat+".FRA1", b)
		tc.nc.Flush()
	}
	beat()
	go func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				beat()
			}
		}
	}()
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = tc.mustRun(Status)
		if strings.Contains(out, "1 healthy") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	row := regexp.MustCompile(`(?m)^FRA1\s+edge\s+FRA\s+eu\s+7\s+\d+\.\ds ago\s+yes\s+-$`)
	if !row.MatchString(out) || !strings.HasSuffix(out, "1 PoP(s), 1 healthy\n") {
		t.Fatalf("status with a PoP:\n%s", out)
	}

	// The PoP never acknowledges: --wait gives up.
	code, out, errOut := tc.run(Invalidate, "ETEST1", "/a", "--wait", "--timeout", "600ms")
	if code != 1 || !strings.Contains(out, "InProgress") || !strings.Contains(errOut, "still InProgress after 600ms; waiting for FRA1") {
		t.Errorf("invalidate --wait, no ack: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A PoP that acknowledges what it receives: --wait sees Completed.
	sub, err := tc.nc.Subscribe(wire.SubjectInvalidation+".>", func(m *nats.Msg) {
		var inv wire.Invalidation
		if json.Unmarshal(m.Data, &inv) == nil {
			b, _ := json.Marshal(wire.Ack{InvalidationID: inv.ID, PoP: "FRA1", Time: time.Now()})
			tc.nc.Publish(wire.SubjectAck+".FRA1", b)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	code, out, errOut = tc.run(Invalidate, "ETEST1", "/b", "--wait", "--timeout", "10s")
	if code != 0 || !strings.Contains(out, "Completed") || !strings.Contains(out, "1/1") {
		t.Errorf("invalidate --wait, acked: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestCLITokens(t *testing.T) {
	tc := startTestControl(t)

	code, _, errOut := tc.run(cmdDist, "list", "--token", "wrong")
	if code != 1 || !strings.Contains(errOut, "strata: InvalidToken") {
		t.Errorf("wrong token: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("STRATA_TOKEN", "wrong-too")
	code, _, errOut = tc.run(Status)
	if code != 1 || !strings.Contains(errOut, "strata: InvalidToken") {
		t.Errorf("wrong $STRATA_TOKEN: exit %d, stderr %q", code, errOut)
	}
	// --api and $STRATA_TOKEN need no control.json.
	t.Setenv("STRATA_TOKEN", tc.token)
	var out, errOut2 bytes.Buffer
	if code := Status([]string{"--api", tc.api, "--data-dir", t.TempDir()}, &out, &errOut2); code != 0 {
		t.Errorf("--api and $STRATA_TOKEN: exit %d, stderr %q", code, errOut2.String())
	}
	t.Setenv("STRATA_TOKEN", "")

	// The file's token is not sent to another API than the file's.
	code, _, errOut = tc.run(Status, "--api", strings.Replace(tc.api, "127.0.0.1", "localhost", 1))
	if code != 1 || !strings.Contains(errOut, "strata: MissingToken") || !strings.Contains(errOut, "--token") {
		t.Errorf("other API, no token: exit %d, stderr %q", code, errOut)
	}
	tc.mustRun(Status, "--api", tc.api+"/") // the file's API: its token goes

	tc.writeControlJSON(tc.api, "")
	code, _, errOut = tc.run(cmdDist, "list")
	if code != 1 || !strings.Contains(errOut, "strata: MissingToken") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
}

func TestCLINoControlPlane(t *testing.T) {
	t.Setenv("STRATA_TOKEN", "")
	dir := t.TempDir()
	for _, c := range []struct {
		cmd  cmdFunc
		args []string
	}{
		{Status, nil},
		{cmdDist, []string{"list"}},
		{cmdDist, []string{"get", "E1"}},
		{cmdDist, []string{"delete", "E1"}},
		{Invalidate, []string{"E1", "/a"}},
	} {
		var out, errOut bytes.Buffer
		code := c.cmd(append(c.args, "--data-dir", dir), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), filepath.Join(dir, "control.json")) ||
			!strings.Contains(errOut.String(), "strata run") || !strings.Contains(errOut.String(), "--api") {
			t.Errorf("%q without a control plane: exit %d, stderr %q", c.args, code, errOut.String())
		}
	}
	// An API nobody listens on.
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close()
	var out, errOut bytes.Buffer
	if code := Status([]string{"--api", url, "--data-dir", dir}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "cannot reach the control plane") {
		t.Errorf("unreachable API: exit %d, stderr %q", code, errOut.String())
	}
}

func TestCLIUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"nope"},
		{"create"},
		{"create", "a.yaml", "b.yaml"},
		{"get"},
		{"get", "A", "B"},
		{"update", "A"},
		{"delete"},
		{"list", "extra"},
		{"list", "--bogus"},
	} {
		var out, errOut bytes.Buffer
		if code := cmdDist(append(args, "--data-dir", dir, "--api", "http://127.0.0.1:1"), &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("dist %q: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := Status([]string{"extra", "--data-dir", dir}, &out, &errOut); code != 2 {
		t.Errorf("status extra: exit %d", code)
	}
	errOut.Reset()
	if code := cmdDist([]string{"create", "--file", filepath.Join(dir, "missing.yaml"), "--data-dir", dir}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "missing.yaml") {
		t.Errorf("create from a missing file: exit %d, stderr %q", code, errOut.String())
	}
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("json", false, "")
	var tags stringsFlag
	fs.Var(&tags, "tag", "")
	return fs
}

// fakeAPI serves canned answers, for what the real control plane cannot be
// made to do on demand.
func fakeAPI(t *testing.T, h http.HandlerFunc) *apiClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return client.New(srv.URL, "tok")
}

func TestAPIClientErrors(t *testing.T) {
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("If-Match") != `"3"` {
				http.Error(w, "bad request headers", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":"InvalidArgument","message":"the configuration is not valid","errors":[{"path":"distributions[0].origins","message":"at least one origin is required"}]}`)
		case "/proxy":
			http.Error(w, "upstream down", http.StatusBadGateway)
		}
	})
	_, _, _, err := c.Do(http.MethodPut, "/json", map[string]string{"id": "x"}, `"3"`)
	var errOut bytes.Buffer
	if code := printError(&errOut, c, err); code != 1 || errOut.String() != "strata: InvalidArgument: the configuration is not valid\n  distributions[0].origins: at least one origin is required\n" {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	_, _, _, err = c.Do(http.MethodGet, "/proxy", nil, "")
	errOut.Reset()
	printError(&errOut, c, err)
	if errOut.String() != "strata: HTTP 502: upstream down\n" {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestCheckDistributionLocally(t *testing.T) {
	for _, c := range []struct {
		name, content, id  string
		wantID, wantDomain string
		wantErr            string
	}{
		{name: "yaml", content: distYAML, wantID: "ETEST1", wantDomain: "etest1.strata.localhost"},
		{name: "document markers", content: "---\n" + distYAML + "...\n", wantID: "ETEST1"},
		{name: "no id", content: strings.Replace(distYAML, "id: ETEST1\n", "", 1), wantID: "", wantDomain: ""},
		{name: "no id, update", content: strings.Replace(distYAML, "id: ETEST1\n", "", 1), id: "EUPD", wantID: "EUPD", wantDomain: "eupd.strata.localhost"},
		{name: "indented", content: "  id: EIND\n  origins: [{id: o, domainName: o.example.com}]\n  defaultCacheBehavior: {targetOriginId: o}\n", wantID: "EIND"},
		{name: "indented, no id", content: "  origins: [{id: o, domainName: o.example.com}]\n  defaultCacheBehavior: {targetOriginId: o}\n", id: "EX", wantID: "EX"},
		{name: "json no id", content: `{"origins":[{"id":"o","domainName":"o.example.com"}],"defaultCacheBehavior":{"targetOriginId":"o"}}`, wantID: ""},
		{name: "json no id, update", content: "\n{\n\"origins\":[{\"id\":\"o\",\"domainName\":\"o.example.com\"}],\n\"defaultCacheBehavior\":{\"targetOriginId\":\"o\"}}", id: "EJ", wantID: "EJ"},
		{name: "json id", content: `{"id":"EJSON","origins":[{"id":"o","url":"https://o.example.com:8443"}],"defaultCacheBehavior":{"targetOriginId":"o"}}`, wantID: "EJSON"},
		{name: "empty", content: "\n# nothing\n", wantErr: "the file is empty"},
		{name: "empty json", content: "{}", wantErr: "origins (line 1): at least one origin is required"},
		{name: "not a mapping", content: "- a\n- b\n", wantErr: "expected a mapping"},
		{name: "syntax", content: "id: E1\norigins: [\n", wantErr: "line"},
		{name: "bad type", content: strings.Replace(distYAML, "comment: first version", "comment: [1, 2]", 1), wantErr: "comment (line 3):"},
		{name: "wrong id", content: distYAML, id: "EOTHER", wantErr: `id: "ETEST1" is not the id`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, errs, err := checkDistribution(nil, []byte(c.content), c.id)
			if err != nil {
				t.Fatal(err)
			}
			if c.wantErr != "" {
				if d != nil || !strings.Contains(errs.Error(), c.wantErr) {
					t.Fatalf("got %v, errors %q; want an error with %q", d != nil, errs.Error(), c.wantErr)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if d.ID != c.wantID || (c.wantDomain != "" || c.wantID == "") && d.DomainName != c.wantDomain {
				t.Errorf("id %q domain %q, want %q %q", d.ID, d.DomainName, c.wantID, c.wantDomain)
			}
		})
	}
}

func TestParseArgsMixesFlags(t *testing.T) {
	fs := newTestFlagSet()
	pos, err := parseArgs(fs, []string{"E1", "--json", "/a", "--tag", "x", "--", "--not-a-flag"})
	if err != nil || strings.Join(pos, " ") != "E1 /a --not-a-flag" || fs.Lookup("json").Value.String() != "true" || fs.Lookup("tag").Value.String() != "x" {
		t.Errorf("got %q, %v", pos, err)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"12": `"12"`, `"12"`: `"12"`, `W/"1"`: `W/"1"`, "": ""} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q", in, got)
		}
	}
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{400 * time.Millisecond: "0.4s ago", 12 * time.Second: "12s ago", 192 * time.Second: "3m12s ago", 50 * time.Hour: "2d ago", -time.Second: "just now"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%s) = %q, want %q", d, got, want)
		}
	}
	if got := ago(now, time.Time{}); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}
