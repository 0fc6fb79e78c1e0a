package control

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	tag, body := resp.Header.Get("ETag"), string(data)
	resp, data = e.do("POST", "/distributions/shop/invalidations", map[string]any{"paths": []string{"/"}, "callerReference": "x"})
	e.want(resp, data, http.StatusCreated, nil)
	token := e.token
	e.stop()

	e2 := newEnv(t, dir, token)
	if e2.token != token {
		t.Fatal("EnsureToken created a token although the store has one")
	}
	resp, data = e2.do("GET", "/distributions/shop", nil)
	e2.want(resp, data, http.StatusOK, nil)
	if resp.Header.Get("ETag") != tag || string(data) != body {
		t.Errorf("after restart: ETag %q body %s; before: ETag %q body %s", resp.Header.Get("ETag"), data, tag, body)
	}
	resp, data = e2.do("POST", "/distributions/shop/invalidations", map[string]any{"paths": []string{"/"}, "callerReference": "x"})
	e2.want(resp, data, http.StatusOK, nil)
}

func TestSeedAndConfig(t *testing.T) {
	e := newEnv(t, "", "")
	cfg, err := config.Parse([]byte(`
pop: {id: FRA1}
cachePolicies:
  - {id: short, defaultTTL: 60}
distributions:
  - id: demo
    origins: [{id: origin, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: origin, cachePolicyId: short}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	st := e.srv.Store()
	if err := st.Seed(e.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := st.Config(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Distributions) != 1 || got.Distributions[0].ID != "demo" || got.Distributions[0].DomainName != "demo.strata.localhost" ||
		len(got.CachePolicies) != 1 || got.CachePolicies[0].ID != "short" || got.PoP.ID != "" {
		t.Fatalf("config after seed: %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the stored configuration does not validate: %v", err)
	}
	resp, data := e.do("GET", "/distributions/demo", nil)
	e.want(resp, data, http.StatusOK, nil)

	// A store with content is not seeded again.
	other, err := config.Parse([]byte(`
distributions:
  - id: other
    origins: [{id: origin, url: "http://127.0.0.1:9001"}]
    defaultCacheBehavior: {targetOriginId: origin}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Seed(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Config(e.ctx); err != nil || len(got.Distributions) != 1 || got.Distributions[0].ID != "demo" {
		t.Errorf("second seed changed the store: %+v, %v", got, err)
	}
}

func TestStartNATSOptions(t *testing.T) {
	auth, err := NewNATSAuth()
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []NATSOptions{
		{Listen: "127.0.0.1:-1", Auth: auth},
		{StoreDir: t.TempDir(), Listen: "127.0.0.1", Auth: auth},
		{StoreDir: t.TempDir(), Listen: "127.0.0.1:http", Auth: auth},
		{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"}, // no keys: no anonymous server
	} {
		if srv, err := StartNATS(opts); err == nil {
			srv.Shutdown()
			t.Errorf("StartNATS(%+v) did not fail", opts)
		}
	}
	srv, err := StartNATS(NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	if !srv.JetStreamEnabled() || srv.Addr() == nil {
		t.Errorf("JetStream %v, address %v", srv.JetStreamEnabled(), srv.Addr())
	}
}

func TestStoreCompareAndSet(t *testing.T) {
	e := newEnv(t, "", "")
	st := e.srv.Store()
	k, _ := KindByName("key-groups")
	rev, err := st.Create(e.ctx, k, "g", []byte(`{"id":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(e.ctx, k, "g", []byte(`{"id":"g"}`)); !errors.Is(err, ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	rev2, err := st.Update(e.ctx, k, "g", []byte(`{"id":"g","name":"two"}`), rev)
	if err != nil || rev2 <= rev {
		t.Fatalf("Update = %d, %v", rev2, err)
	}
	if _, err := st.Update(e.ctx, k, "g", []byte(`{"id":"g","name":"stale"}`), rev); !errors.Is(err, ErrRevisionMismatch) {
		t.Errorf("stale Update: %v, want ErrRevisionMismatch", err)
	}
	if err := st.Delete(e.ctx, k, "g", rev); !errors.Is(err, ErrRevisionMismatch) {
		t.Errorf("stale Delete: %v, want ErrRevisionMismatch", err)
	}
	if r, err := st.Get(e.ctx, k, "g"); err != nil || r.Revision != rev2 || string(r.Value) != `{"id":"g","name":"two"}` {
		t.Errorf("Get = %+v, %v", r, err)
	}
	if err := st.Delete(e.ctx, k, "g", rev2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(e.ctx, k, "g"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if _, err := st.Get(e.ctx, k, "bad key!"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an invalid key: %v", err)
	}
}

func TestApplyReplacesAndKeeps(t *testing.T) {
	e := newEnv(t, "", "")
	st := e.srv.Store()
	parse := func(origin string) *config.Config {
		cfg, err := config.Parse([]byte(`
distributions:
  - id: file
    origins: [{id: o, url: "`+origin+`"}]
    defaultCacheBehavior: {targetOriginId: o}
`), "f.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if err := st.Apply(e.ctx, parse("http://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	resp, data := e.do("POST", "/distributions", distribution("api", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	dists, _ := KindByName("distributions")
	before, err := st.Get(e.ctx, dists, "file")
	if err != nil {
		t.Fatal(err)
	}
	// Applying the same file again changes nothing; a changed one replaces.
	if err := st.Apply(e.ctx, parse("http://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Get(e.ctx, dists, "file"); again.Revision != before.Revision {
		t.Fatal("an unchanged resource was rewritten")
	}
	if err := st.Apply(e.ctx, parse("http://127.0.0.1:2")); err != nil {
		t.Fatal(err)
	}
	cfg, err := st.Config(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Distributions) != 2 || cfg.Distributions[0].ID != "api" || aliasOf(cfg, "file") == "none.example" {
		t.Fatalf("distributions after apply: %+v", cfg.Distributions)
	}
	// A file that clashes with the store is refused and writes nothing.
	bad, err := config.Parse([]byte(`
distributions:
  - id: other
    aliases: [`+aliasOf(cfg, "api")+`]
    origins: [{id: o, url: "http://127.0.0.1:3"}]
    defaultCacheBehavior: {targetOriginId: o}
`), "bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(e.ctx, bad); err == nil || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("a clashing alias: %v", err)
	}
	if _, err := st.Get(e.ctx, dists, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a refused apply wrote something")
	}
}

func aliasOf(cfg *config.Config, id string) string {
	for _, d := range cfg.Distributions {
		if d.ID == id {
			return d.DomainName
		}
	}
	return "none.example"
}
