package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/pop"
	"github.com/strata-cdn/strata/internal/testutil"
)

// bucketDistributions is the distributions' KV bucket, as the wire contract names it.
const bucketDistributions = "strata_distributions"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startNATS starts the control plane's embedded NATS server, with its
// authentication: every client below uses its own identity.
func startNATS(t *testing.T) (*server.Server, *control.NATSAuth) {
	t.Helper()
	auth, err := control.NewNATSAuth()
	if err != nil {
		t.Fatal(err)
	}
	s, err := control.StartNATS(control.NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, auth
}

// connect opens a connection with the credentials of an identity.
func connect(t *testing.T, auth *control.NATSAuth, url string, role control.Role, id string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	co, err := auth.ConnectOptions(role, id)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, append(co, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// setupStore creates what the control plane does: the buckets and the
// streams.
func setupStore(t *testing.T, js jetstream.JetStream) map[string]jetstream.KeyValue {
	t.Helper()
	ctx := context.Background()
	if _, err := control.OpenStore(ctx, js); err != nil {
		t.Fatal(err)
	}
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range wire.ConfigBuckets {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		kvs[b] = kv
	}
	return kvs
}

// proxy is a TCP relay that a test can cut and restore, to take one PoP off
// NATS without touching the others.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() { p.listen(p.addr) }

type node struct {
	pop   *pop.PoP
	url   string
	agent *Agent
	nc    *nats.Conn
}

// startNode starts a PoP whose agent connects to NATS with the PoP's own
// identity (so the PoP permissions are what the agent needs).
func startNode(t *testing.T, auth *control.NATSAuth, id, natsURL string) *node {
	t.Helper()
	return startNodeLog(t, auth, id, natsURL, &config.Config{}, quiet())
}

// startNodeLog starts a PoP with its agent, whose local configuration is
// base (validated here) and whose log goes to log.
func startNodeLog(t *testing.T, auth *control.NATSAuth, id, natsURL string, base *config.Config, log *slog.Logger) *node {
	t.Helper()
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := pop.New(base, pop.Options{ID: id, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &h1.Server{Handler: p}
	go srv.Serve(ln)
	var denied atomic.Value
	nc := connect(t, auth, natsURL, control.RolePoP, id, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				denied.Store(err.Error())
			}
		}))
	t.Cleanup(func() {
		if d := denied.Load(); d != nil {
			t.Errorf("PoP %s was refused something it needs: %s", id, d)
		}
	})
	a, err := Start(context.Background(), Options{NC: nc, PoP: p, Base: base, Logger: log,
		Info: wire.Heartbeat{PoP: id, Tier: "edge", URL: "http://" + ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); nc.Close(); srv.Close(); p.Close() })
	return &node{pop: p, url: "http://" + ln.Addr().String(), agent: a, nc: nc}
}

func (n *node) get(t *testing.T, path string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url+path, nil)
	req.Host = "site.strata.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), resp.Header.Get("X-Cache")
}

func TestConfigAndInvalidationsReachEveryPoP(t *testing.T) {
	var version atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "v%d", version.Load())
	}))
	defer origin.Close()
	ns, auth := startNATS(t)
	nc := connect(t, auth, ns.ClientURL(), control.RoleControl, "")
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kvs := setupStore(t, js)
	acks := make(chan wire.Ack, 16)
	nc.Subscribe(wire.SubjectAck+".*", func(m *nats.Msg) {
		var a wire.Ack
		json.Unmarshal(m.Data, &a)
		acks <- a
	})
	beats := make(chan wire.Heartbeat, 64)
	nc.Subscribe(wire.SubjectHeartbeat+".*", func(m *nats.Msg) {
		var h wire.Heartbeat
		json.Unmarshal(m.Data, &h)
		select {
		case beats <- h:
		default:
		}
	})

	px := newProxy(t, ns.Addr().String())
	a := startNode(t, auth, "AAA1", ns.ClientURL())
	b := startNode(t, auth, "BBB1", "nats://"+px.addr) // B reaches NATS through a cable we can cut

	// A distribution created in the store is served by every PoP.
	dist := config.Distribution{ID: "site", Origins: []config.Origin{{ID: "web", URL: origin.URL}},
		DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "web"}}
	body, _ := json.Marshal(dist)
	if _, err := kvs[bucketDistributions].Put(context.Background(), "site", body); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		testutil.WaitFor(t, 5*time.Second, "the distribution at "+n.url, func() bool { s, _, _ := n.get(t, "/x"); return s == 200 })
		n.get(t, "/x")
		if _, body, xc := n.get(t, "/x"); body != "v0" || xc != "Hit from strata" {
			t.Fatalf("%s: %q %q", n.url, body, xc)
		}
	}
	version.Store(1)

	// B is cut off; an invalidation reaches A only.
	px.cut()
	inv := wire.Invalidation{ID: "I1", DistributionID: "site", Paths: []string{"/x"}}
	msg, _ := json.Marshal(inv)
	if _, err := js.Publish(context.Background(), wire.SubjectInvalidation+".site", msg); err != nil {
		t.Fatal(err)
	}
	if got := <-acks; got.PoP != "AAA1" || got.InvalidationID != "I1" || got.Removed != 1 {
		t.Fatalf("ack %+v", got)
	}
	if _, body, _ := a.get(t, "/x"); body != "v1" {
		t.Fatalf("A still serves %q", body)
	}
	// B reconnects, replays what it missed and acknowledges it.
	px.restore()
	select {
	case got := <-acks:
		if got.PoP != "BBB1" || got.InvalidationID != "I1" {
			t.Fatalf("ack %+v", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("B did not replay the invalidation after reconnecting")
	}
	if _, body, _ := b.get(t, "/x"); body != "v1" {
		t.Fatalf("B served the invalidated object after reconnecting: %q", body)
	}

	// A refused configuration leaves the running one serving, and says so.
	bad := []byte(`{"id":"site","origins":[{"id":"web","url":"` + origin.URL + `"}],"defaultCacheBehavior":{"targetOriginId":"nowhere"}}`)
	kvs[bucketDistributions].Put(context.Background(), "site", bad)
	testutil.WaitFor(t, 5*time.Second, "a heartbeat reporting the refused config", func() bool {
		for {
			select {
			case h := <-beats:
				if h.PoP == "AAA1" && h.ConfigError != "" {
					return true
				}
			default:
				return false
			}
		}
	})
	if s, _, _ := a.get(t, "/x"); s != 200 {
		t.Fatalf("refused config broke serving: %d", s)
	}
}

// TestInertFieldsLogged: a snapshot that sets a field nothing acts on yet
// is logged with the field's path, once, not again with every snapshot
// that keeps it.
func TestInertFieldsLogged(t *testing.T) {
	ns, auth := startNATS(t)
	nc := connect(t, auth, ns.ClientURL(), control.RoleControl, "")
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kvs := setupStore(t, js)
	var logs testutil.SyncBuffer
	n := startNodeLog(t, auth, "AAA1", ns.ClientURL(), &config.Config{}, slog.New(slog.NewTextHandler(&logs, nil)))

	dist := func(comment, priceClass string) config.Distribution {
		return config.Distribution{ID: "site", Comment: comment, PriceClass: priceClass,
			Origins:              []config.Origin{{ID: "web", URL: "http://127.0.0.1:9"}},
			DefaultCacheBehavior: config.CacheBehavior{TargetOriginID: "web"}}
	}
	put := func(comment string) uint64 {
		body, _ := json.Marshal(dist(comment, config.PriceClass100))
		rev, err := kvs[bucketDistributions].Put(context.Background(), "site", body)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	const line = "field=distributions[0].priceClass"
	// The version of a snapshot is the sum of the buckets' revisions: here,
	// the revision of the one distribution.
	rev := put("one")
	testutil.WaitFor(t, 5*time.Second, "the first snapshot", func() bool { return n.agent.Version() == rev })
	if !strings.Contains(logs.String(), line) {
		t.Fatalf("no warning about priceClass in the log:\n%s", logs.String())
	}
	rev = put("two")
	testutil.WaitFor(t, 5*time.Second, "the second snapshot", func() bool { return n.agent.Version() == rev })
	if got := strings.Count(logs.String(), line); got != 1 {
		t.Errorf("the warning was logged %d times, want once:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "not yet acted on") {
		t.Errorf("the log does not say what is wrong:\n%s", logs.String())
	}

	// A PoP whose local configuration (reported when the process loaded
	// it) has the same warnings does not repeat them.
	var logs2 testutil.SyncBuffer
	n2 := startNodeLog(t, auth, "BBB1", ns.ClientURL(), &config.Config{Distributions: []config.Distribution{dist("local", config.PriceClass100)}},
		slog.New(slog.NewTextHandler(&logs2, nil)))
	testutil.WaitFor(t, 5*time.Second, "the snapshot at the second PoP", func() bool { return n2.agent.Version() == rev })
	if strings.Contains(logs2.String(), line) {
		t.Errorf("the warnings of the local configuration were logged again:\n%s", logs2.String())
	}
}
