package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// quietLog keeps the servers the tests start out of the test output.
var quietLog = slog.New(slog.DiscardHandler)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a control plane on a real embedded NATS server, served over HTTP.
type env struct {
	t     testing.TB
	dir   string
	ctx   context.Context
	clock *fakeClock
	auth  *NATSAuth
	ns    *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	srv   *Server
	api   *httptest.Server
	token string

	stopOnce sync.Once
}

// newEnv starts NATS on the store in dir (a new temp dir if ""), a Server
// and its HTTP API, and makes sure there is a token (kept from token when
// the store already has one).
func newEnv(t testing.TB, dir, token string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, dir: dir, ctx: ctx, clock: newFakeClock(), token: token}
	var err error
	if e.auth, _, err = LoadOrCreateNATSAuth(filepath.Join(dir, NATSKeysFile)); err != nil {
		t.Fatal(err)
	}
	e.ns, err = StartNATS(NATSOptions{StoreDir: dir, Listen: "127.0.0.1:-1", Auth: e.auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stop)
	e.nc = e.connect(RoleControl, "")
	if e.js, err = jetstream.New(e.nc); err != nil {
		t.Fatal(err)
	}
	if e.srv, err = New(ctx, Options{NC: e.nc, JS: e.js, Now: e.clock.Now, Logger: quietLog}); err != nil {
		t.Fatal(err)
	}
	e.api = httptest.NewServer(e.srv.Handler())
	secret, created, err := e.srv.EnsureToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		e.token = secret
	}
	return e
}

// connect opens a NATS connection with the credentials of an identity,
// closed at the end of the test.
func (e *env) connect(role Role, id string, opts ...nats.Option) *nats.Conn {
	e.t.Helper()
	co, err := e.auth.ConnectOptions(role, id)
	if err != nil {
		e.t.Fatal(err)
	}
	nc, err := nats.Connect(e.ns.ClientURL(), append(co, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	return nc
}

// stop shuts everything down, NATS last.
func (e *env) stop() {
	e.stopOnce.Do(func() {
		if e.api != nil {
			e.api.Close()
		}
		if e.srv != nil {
			e.srv.Close()
		}
		if e.nc != nil {
			e.nc.Close()
		}
		e.ns.Shutdown()
		e.ns.WaitForShutdown()
	})
}

// do sends a request with the env's token; headers are name, value pairs
// (an empty value removes the header).
func (e *env) do(method, path string, body any, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.api.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, data
}

// want checks the status of a response and decodes its body into v (if
// not nil).
func (e *env) want(resp *http.Response, data []byte, status int, v any) {
	e.t.Helper()
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			e.t.Fatalf("%s %s: %v in %s", resp.Request.Method, resp.Request.URL.Path, err, data)
		}
	}
}

// wantError checks an error response's status and code, and returns it.
func (e *env) wantError(resp *http.Response, data []byte, status int, code string) APIError {
	e.t.Helper()
	var ae APIError
	e.want(resp, data, status, &ae)
	if ae.Code != code {
		e.t.Fatalf("%s %s: code %q, want %q; body %s", resp.Request.Method, resp.Request.URL.Path, ae.Code, code, data)
	}
	if ae.Message == "" {
		e.t.Errorf("%s %s: error without a message: %s", resp.Request.Method, resp.Request.URL.Path, data)
	}
	return ae
}

// heartbeat publishes a PoP's heartbeat.
func (e *env) heartbeat(pop string) {
	e.t.Helper()
	e.publish(wire.SubjectHeartbeat+"."+pop, wire.Heartbeat{
		PoP: pop, Tier: "edge", Location: pop[:3], Region: "eu", URL: "http://" + pop + ".test",
		ConfigVersion: 7, Time: e.clock.Now(),
	})
}

func (e *env) publish(subject string, v any) {
	e.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.nc.Publish(subject, data); err != nil {
		e.t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

// distribution returns a distribution body with one origin, o1.
func distribution(id, target string) map[string]any {
	return map[string]any{
		"id":                   id,
		"origins":              []any{map[string]any{"id": "o1", "url": "http://127.0.0.1:9000"}},
		"defaultCacheBehavior": map[string]any{"targetOriginId": target},
	}
}
