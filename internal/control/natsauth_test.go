package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/devca"
	"github.com/strata-cdn/strata/internal/testutil"
)

// bucketDistributions is the distributions' KV bucket, as the wire contract names it.
const bucketDistributions = "strata_distributions"

// asyncErrors collects the errors the server reports on a connection
// (permission violations arrive that way).
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrors) handler() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err)
		a.mu.Unlock()
	})
}

func (a *asyncErrors) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.errs)
}

// violation reports whether the server refused an operation on subject.
func (a *asyncErrors) violation(subject string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, err := range a.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
			return true
		}
	}
	return false
}

func TestAnonymousAndForgedClientsAreRefused(t *testing.T) {
	e := newEnv(t, "", "")
	if nc, err := nats.Connect(e.ns.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous connect: %v, want an authorization violation", err)
	}
	// Credentials issued by other keys (another control plane's) are not
	// accepted either.
	other, err := NewNATSAuth()
	if err != nil {
		t.Fatal(err)
	}
	co, _ := other.ConnectOptions(RoleControl, "")
	if nc, err := nats.Connect(e.ns.ClientURL(), co...); err == nil {
		nc.Close()
		t.Fatal("a client with credentials from other keys connected")
	}
	// Credentials of this control plane are, for the longest PoP id too.
	for _, id := range []string{"FRA1", strings.Repeat("P", 128)} {
		if nc := e.connect(RolePoP, id); !nc.IsConnected() {
			t.Fatalf("PoP %s with its credentials is not connected", id)
		}
	}
}

func TestPoPIdentityCannotWriteConfigOrReadTokens(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/distributions", distribution("site", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	k, _ := KindByName("distributions")
	before, err := e.srv.Store().Get(e.ctx, k, "site")
	if err != nil {
		t.Fatal(err)
	}

	var errs asyncErrors
	nc := e.connect(RolePoP, "FRA1", errs.handler())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(e.ctx, 500*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}

	// It reads the configuration (what the agent does)...
	kv, err := js.KeyValue(e.ctx, bucketDistributions)
	if err != nil {
		t.Fatalf("a PoP cannot open the distributions bucket: %v", err)
	}
	w, err := kv.WatchAll(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case en := <-w.Updates():
		if en == nil || en.Key() != "site" {
			t.Fatalf("watch delivered %v, want site", en)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a PoP's watch of the distributions delivered nothing")
	}
	// Stopping the watcher deletes its consumer: allowed too. (The server
	// answers the flush after the refusal it would send first.)
	if err := w.Stop(); err != nil {
		t.Errorf("stopping a PoP's watcher: %v", err)
	}
	nc.Flush()
	if errs.count() != 0 {
		t.Fatalf("a PoP was refused what its watcher needs: %v", errs.errs)
	}

	// ...but cannot change it: not through the KV API, not by publishing
	// on the bucket's subject, not by purging the stream.
	evil := []byte(`{"id":"site","origins":[{"id":"o1","url":"http://attacker.example"}],"defaultCacheBehavior":{"targetOriginId":"o1"}}`)
	if _, err := kv.Put(short(), "site", evil); err == nil {
		t.Error("a PoP's KV put of a distribution succeeded")
	}
	nc.Publish("$KV."+bucketDistributions+".site", evil)
	nc.Request("$JS.API.STREAM.PURGE.KV_"+bucketDistributions, nil, 200*time.Millisecond)
	nc.Request("$JS.API.STREAM.DELETE.KV_"+bucketDistributions, nil, 200*time.Millisecond)
	nc.Flush()
	for _, subject := range []string{
		"$KV." + bucketDistributions + ".site",
		"$JS.API.STREAM.PURGE.KV_" + bucketDistributions,
		"$JS.API.STREAM.DELETE.KV_" + bucketDistributions,
	} {
		testutil.WaitFor(t, 2*time.Second, "a permission violation for "+subject, func() bool { return errs.violation(subject) })
	}
	after, err := e.srv.Store().Get(e.ctx, k, "site")
	if err != nil || after.Revision != before.Revision || string(after.Value) != string(before.Value) {
		t.Fatalf("the distribution changed: %s (rev %d, was %d), %v", after.Value, after.Revision, before.Revision, err)
	}

	// Nor read the API tokens, by any way in.
	if _, err := js.KeyValue(short(), wire.BucketTokens); err == nil {
		t.Error("a PoP opened the tokens bucket")
	}
	if _, err := nc.SubscribeSync("$KV." + wire.BucketTokens + ".>"); err == nil {
		nc.Flush()
	}
	nc.Request("$JS.API.DIRECT.GET.KV_"+wire.BucketTokens, []byte(`{"last_by_subj":"$KV.strata_tokens.x"}`), 200*time.Millisecond)
	nc.Request("$JS.API.CONSUMER.CREATE.KV_"+wire.BucketTokens, []byte(`{}`), 200*time.Millisecond)
	nc.Flush()
	for _, subject := range []string{
		"$JS.API.STREAM.INFO.KV_" + wire.BucketTokens,
		"$KV." + wire.BucketTokens + ".>",
		"$JS.API.DIRECT.GET.KV_" + wire.BucketTokens,
		"$JS.API.CONSUMER.CREATE.KV_" + wire.BucketTokens,
	} {
		testutil.WaitFor(t, 2*time.Second, "a permission violation for "+subject, func() bool { return errs.violation(subject) })
	}
	// Nor subscribe to everything, nor to another identity's replies.
	for _, subject := range []string{">", "_INBOX.>", InboxPrefix(RoleControl, "") + ".>", InboxPrefix(RolePoP, "IAD1") + ".>"} {
		nc.SubscribeSync(subject)
		nc.Flush()
		testutil.WaitFor(t, 2*time.Second, "a permission violation for "+subject, func() bool { return errs.violation(subject) })
	}
	// Nor publish an invalidation.
	nc.Publish(wire.SubjectInvalidation+".site", []byte(`{"id":"IEVIL","distributionId":"site","paths":["/*"]}`))
	nc.Flush()
	testutil.WaitFor(t, 2*time.Second, "a permission violation for an invalidation", func() bool { return errs.violation(wire.SubjectInvalidation + ".site") })
}

func TestPoPCannotSpeakForAnotherPoP(t *testing.T) {
	e := newEnv(t, "", "")
	var errs asyncErrors
	nc := e.connect(RolePoP, "FRA1", errs.handler())
	hb := func(pop string) []byte {
		return mustJSON(t, wire.Heartbeat{PoP: pop, Tier: "edge", URL: "http://" + pop + ".test", Time: e.clock.Now()})
	}
	// Another PoP's subject is refused by NATS...
	nc.Publish(wire.SubjectHeartbeat+".IAD1", hb("IAD1"))
	nc.Publish(wire.SubjectAck+".IAD1", mustJSON(t, wire.Ack{InvalidationID: "I1", PoP: "IAD1"}))
	nc.Publish(wire.SubjectAck, mustJSON(t, wire.Ack{InvalidationID: "I1", PoP: "IAD1"}))
	nc.Flush()
	for _, subject := range []string{wire.SubjectHeartbeat + ".IAD1", wire.SubjectAck + ".IAD1", wire.SubjectAck} {
		testutil.WaitFor(t, 2*time.Second, "a permission violation for "+subject, func() bool { return errs.violation(subject) })
	}
	// ...and its own subject with another PoP's name in the body is dropped
	// by the control plane, while its own heartbeat counts.
	nc.Publish(wire.SubjectHeartbeat+".FRA1", hb("IAD1"))
	nc.Publish(wire.SubjectHeartbeat+".FRA1", hb("FRA1"))
	nc.Flush()
	testutil.WaitFor(t, 2*time.Second, "FRA1 healthy", func() bool { return len(e.srv.healthyPoPs(e.clock.Now())) > 0 })
	if got := e.srv.healthyPoPs(e.clock.Now()); len(got) != 1 || got[0] != "FRA1" {
		t.Fatalf("healthy PoPs %v, want [FRA1]", got)
	}
	// A message that is not a heartbeat of that PoP (a configuration record
	// copied there) does not count either; LHR1's, sent after it on the same
	// subscription, tells when it was handled.
	e.publish(wire.SubjectHeartbeat+".IAD1", map[string]any{"id": "site", "origins": []any{}})
	e.heartbeat("LHR1")
	testutil.WaitFor(t, 2*time.Second, "LHR1 healthy", func() bool { return len(e.srv.healthyPoPs(e.clock.Now())) > 1 })
	if got := e.srv.healthyPoPs(e.clock.Now()); len(got) != 2 || got[1] != "LHR1" {
		t.Fatalf("healthy PoPs %v, want [FRA1 LHR1]", got)
	}
}

func TestPoPAckForAnotherPoPIsDropped(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	e.heartbeat("FRA1")
	e.heartbeat("IAD1")
	testutil.WaitFor(t, 2*time.Second, "two healthy PoPs", func() bool { return len(e.srv.healthyPoPs(e.clock.Now())) == 2 })
	resp, data = e.do("POST", "/distributions/shop/invalidations", map[string]any{"paths": []string{"/a"}})
	var inv wire.Invalidation
	e.want(resp, data, http.StatusCreated, &inv)

	nc := e.connect(RolePoP, "FRA1")
	js, _ := jetstream.New(nc)
	// FRA1 acks for IAD1 on its own subject, then for itself.
	for _, pop := range []string{"IAD1", "FRA1"} {
		if _, err := js.Publish(e.ctx, wire.SubjectAck+".FRA1", mustJSON(t, wire.Ack{InvalidationID: inv.ID, PoP: pop})); err != nil {
			t.Fatal(err)
		}
	}
	var got wire.Invalidation
	testutil.WaitFor(t, 5*time.Second, "FRA1's ack recorded", func() bool {
		resp, data := e.do("GET", "/distributions/shop/invalidations/"+inv.ID, nil)
		e.want(resp, data, http.StatusOK, &got)
		_, ok := got.Acked["FRA1"]
		return ok
	})
	if _, ok := got.Acked["IAD1"]; ok || got.Status != wire.StatusInProgress {
		t.Fatalf("an ack FRA1 sent for IAD1 counted: %+v", got)
	}
}

func TestDNSIdentityOnlyReads(t *testing.T) {
	e := newEnv(t, "", "")
	var errs asyncErrors
	nc := e.connect(RoleDNS, "ns1", errs.handler())
	js, _ := jetstream.New(nc)
	if _, err := js.KeyValue(e.ctx, bucketDistributions); err != nil {
		t.Fatalf("a DNS server cannot open the distributions bucket: %v", err)
	}
	for _, subject := range []string{wire.SubjectHeartbeat + ".ns1", wire.SubjectAck + ".ns1", "$KV." + bucketDistributions + ".x"} {
		nc.Publish(subject, []byte("{}"))
		nc.Flush()
		testutil.WaitFor(t, 2*time.Second, "a permission violation for "+subject, func() bool { return errs.violation(subject) })
	}
	// It hears the PoPs' heartbeats (their health), and nothing else.
	hbs, err := nc.SubscribeSync(wire.SubjectHeartbeat + ".*")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	pop := e.connect(RolePoP, "FRA1")
	testutil.WaitFor(t, 5*time.Second, "a DNS server hears FRA1's heartbeat", func() bool {
		pop.Publish(wire.SubjectHeartbeat+".FRA1", []byte(`{"pop":"FRA1"}`))
		pop.Flush()
		m, err := hbs.NextMsg(100 * time.Millisecond)
		return err == nil && m.Subject == wire.SubjectHeartbeat+".FRA1"
	})
	for _, subject := range []string{wire.SubjectAck + ".*", wire.SubjectInvalidation + ".*", "$KV." + bucketDistributions + ".>", "_INBOX.pop.FRA1.>"} {
		nc.SubscribeSync(subject)
		nc.Flush()
		testutil.WaitFor(t, 2*time.Second, "a subscribe violation for "+subject, func() bool { return errs.violation(subject) })
	}
	if _, _, err := e.auth.UserJWT(RolePoP, "bad.id"); err == nil {
		t.Error("a PoP id with a dot (a subject separator) was accepted")
	}
}

func TestNATSKeysAndCredsFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", NATSKeysFile)
	a, created, err := LoadOrCreateNATSAuth(path)
	if err != nil || !created {
		t.Fatalf("first load: created %v, %v", created, err)
	}
	b, created, err := LoadOrCreateNATSAuth(path)
	if err != nil || created || b.AccountPublicKey() != a.AccountPublicKey() {
		t.Fatalf("second load: created %v, same account %v, %v", created, b.AccountPublicKey() == a.AccountPublicKey(), err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	creds := filepath.Join(dir, "creds", "pop-FRA1.creds")
	if created, err := a.WriteCreds(creds, RolePoP, "FRA1"); err != nil || !created {
		t.Fatalf("WriteCreds: %v, %v", created, err)
	}
	first, _ := os.ReadFile(creds)
	if created, err := a.WriteCreds(creds, RolePoP, "FRA1"); err != nil || created {
		t.Fatalf("second WriteCreds: %v, %v", created, err)
	}
	if again, _ := os.ReadFile(creds); string(again) != string(first) {
		t.Error("an existing credentials file was rewritten")
	}
	if fi, _ := os.Stat(creds); fi.Mode().Perm() != 0o600 {
		t.Errorf("creds file mode %v, want 0600", fi.Mode().Perm())
	}
	if role, id, err := CredsIdentity(first); err != nil || role != RolePoP || id != "FRA1" {
		t.Errorf("CredsIdentity = %q %q %v", role, id, err)
	}
	os.WriteFile(path, []byte(`{"operator":"SUAx"}`), 0o600)
	if _, _, err := LoadOrCreateNATSAuth(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a broken key file: %v, want an error naming it", err)
	}

	// A PoP connects with the file, as `strata pop --nats-creds` does.
	storeDir := t.TempDir()
	ns, err := StartNATS(NATSOptions{StoreDir: storeDir, Listen: "127.0.0.1:-1", Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL(), nats.UserCredentials(creds), nats.CustomInboxPrefix(InboxPrefix(RolePoP, "FRA1")))
	if err != nil {
		t.Fatalf("connect with the creds file: %v", err)
	}
	nc.Close()
}

func TestNATSOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := devca.Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _, err := ca.EnsureLeaf(dir, "nats", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := NewNATSAuth()
	ns, err := StartNATS(NATSOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Auth: auth,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	co, _ := auth.ConnectOptions(RolePoP, "FRA1")
	// Without the CA, the server's certificate is not trusted.
	pool := x509.NewCertPool()
	if nc, err := nats.Connect(ns.ClientURL(), append(co, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))...); err == nil {
		nc.Close()
		t.Fatal("connected to a server whose certificate is not trusted")
	}
	nc, err := nats.Connect(ns.ClientURL(), append(co, nats.RootCAs(ca.CertFile))...)
	if err != nil {
		t.Fatalf("connect over TLS with the CA: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	nc.Close()
}

// A store made before NATS had authentication (under NATS's global account)
// is the Strata account's after the upgrade.
func TestStoreOfAnOpenServerIsKept(t *testing.T) {
	dir := t.TempDir()
	old, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go old.Start()
	if !old.ReadyForConnections(10 * time.Second) {
		t.Fatal("old server not ready")
	}
	nc, err := nats.Connect(old.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := OpenStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := KindByName("key-groups")
	if _, err := st.Create(ctx, k, "g", []byte(`{"id":"g"}`)); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()

	e := newEnv(t, dir, "")
	if r, err := e.srv.Store().Get(e.ctx, k, "g"); err != nil || string(r.Value) != `{"id":"g"}` {
		t.Fatalf("after the upgrade: %s, %v", r.Value, err)
	}
}

func TestRevokedCredentialsAreRefused(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, NATSKeysFile)
	auth, _, err := LoadOrCreateNATSAuth(keys)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := StartNATS(NATSOptions{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	old := filepath.Join(dir, "old.creds")
	other := filepath.Join(dir, "other.creds")
	auth.WriteCreds(old, RolePoP, "FRA1")
	auth.WriteCreds(other, RolePoP, "IAD1")
	connect := func(url, creds string) (*nats.Conn, error) {
		return nats.Connect(url, nats.UserCredentials(creds), nats.NoReconnect())
	}
	live, err := connect(ns.ClientURL(), old)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	bystander, err := connect(ns.ClientURL(), other)
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close()

	// The CLI's process revokes; the server's process reloads and applies.
	cli, _, err := LoadOrCreateNATSAuth(keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(RolePoP, "FRA1"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, NATSRevokedFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("revocations file: %v %v", fi, err)
	}
	if changed, err := auth.ReloadRevocations(); err != nil || !changed {
		t.Fatalf("reload: changed %v, %v", changed, err)
	}
	if changed, _ := auth.ReloadRevocations(); changed {
		t.Error("a second reload changed something")
	}
	if err := auth.ApplyRevocations(ns); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the revoked PoP's connection closed", live.IsClosed)
	if nc, err := connect(ns.ClientURL(), old); err == nil {
		nc.Close()
		t.Fatal("revoked credentials connected")
	}
	if !bystander.IsConnected() {
		t.Error("another PoP's connection was closed")
	}
	// New credentials for the same PoP work; JetStream still does.
	fresh := filepath.Join(dir, "fresh.creds")
	auth.WriteCreds(fresh, RolePoP, "FRA1")
	nc, err := connect(ns.ClientURL(), fresh)
	if err != nil {
		t.Fatalf("new credentials: %v", err)
	}
	nc.Close()
	co, _ := auth.ConnectOptions(RoleControl, "")
	cnc, err := nats.Connect(ns.ClientURL(), co...)
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	js, _ := jetstream.New(cnc)
	if _, err := js.CreateOrUpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "after_revocation"}); err != nil {
		t.Errorf("JetStream after the account update: %v", err)
	}

	// After a restart, from the files alone, the old credentials stay refused.
	ns.Shutdown()
	ns.WaitForShutdown()
	again, _, err := LoadOrCreateNATSAuth(keys)
	if err != nil {
		t.Fatal(err)
	}
	ns, err = StartNATS(NATSOptions{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", Auth: again})
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := connect(ns.ClientURL(), old); err == nil {
		nc.Close()
		t.Fatal("revoked credentials connected after a restart")
	}
	for _, c := range []string{fresh, other} {
		nc, err := connect(ns.ClientURL(), c)
		if err != nil {
			t.Fatalf("%s after a restart: %v", c, err)
		}
		nc.Close()
	}
}
