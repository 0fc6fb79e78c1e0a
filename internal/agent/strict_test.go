package agent

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/testutil"
)

// TestUnknownFieldRefused: the agent decodes snapshots with the strict
// decoder, as files are decoded. A resource with a field Strata does not
// know is refused: the PoP keeps serving the snapshot it has, and its
// heartbeat says which field of which resource.
func TestUnknownFieldRefused(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "old")
	}))
	defer origin.Close()
	ns, auth := startNATS(t)
	nc := connect(t, auth, ns.ClientURL(), control.RoleControl, "")
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kvs := setupStore(t, js)
	beats := make(chan wire.Heartbeat, 64)
	nc.Subscribe(wire.SubjectHeartbeat+".*", func(m *nats.Msg) {
		var h wire.Heartbeat
		json.Unmarshal(m.Data, &h)
		select {
		case beats <- h:
		default:
		}
	})
	n := startNode(t, auth, "AAA1", ns.ClientURL())

	good := `{"id":"site","origins":[{"id":"web","url":"` + origin.URL + `"}],"defaultCacheBehavior":{"targetOriginId":"web"}}`
	rev, err := kvs[bucketDistributions].Put(context.Background(), "site", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the first snapshot", func() bool { return n.agent.Version() == rev })

	// The same distribution, with a field the model does not have (a
	// typo, or a newer control plane): json.Unmarshal would drop it.
	bad := strings.Replace(good, `"targetOriginId":"web"`, `"targetOriginId":"web","targetOriginID":"other"`, 1)
	if _, err := kvs[bucketDistributions].Put(context.Background(), "site", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	var refused string
	testutil.WaitFor(t, 5*time.Second, "a heartbeat reporting the refused snapshot", func() bool {
		for {
			select {
			case h := <-beats:
				if h.PoP == "AAA1" && h.ConfigError != "" {
					refused = h.ConfigError
					return true
				}
			default:
				return false
			}
		}
	})
	for _, want := range []string{"distributions[0].defaultCacheBehavior.targetOriginID", `(distribution "site")`} {
		if !strings.Contains(refused, want) {
			t.Errorf("the heartbeat's error %q does not name %s", refused, want)
		}
	}
	if n.agent.Version() != rev {
		t.Errorf("version %d after the refused snapshot, want the old one (%d)", n.agent.Version(), rev)
	}
	if s, body, _ := n.get(t, "/x"); s != 200 || body != "old" {
		t.Errorf("after the refused snapshot: %d %q, want the old snapshot serving", s, body)
	}
}

// TestSameConfigAsControlPlane: for the same buckets, the agent builds the
// configuration the control plane's store reads.
func TestSameConfigAsControlPlane(t *testing.T) {
	ns, auth := startNATS(t)
	nc := connect(t, auth, ns.ClientURL(), control.RoleControl, "")
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := control.OpenStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	key := publicKeyPEM(t)
	file, err := config.Parse([]byte(`
cachePolicies:
  - {id: short, defaultTTL: 60, cacheKey: {queryStrings: {behavior: all}}}
  - {id: long, defaultTTL: 3600}
originRequestPolicies:
  - {id: fwd, headers: {behavior: whitelist, items: [X-Thing]}}
responseHeadersPolicies:
  - {id: cors, cors: {accessControlAllowOrigins: ["https://a.example"], accessControlAllowMethods: [GET], accessControlAllowHeaders: ["*"], originOverride: true}}
publicKeys:
  - {id: k1, encodedKey: `+fmt.Sprintf("%q", key)+`}
keyGroups:
  - {id: g1, items: [k1]}
distributions:
  - id: b
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: short, originRequestPolicyId: fwd, responseHeadersPolicyId: cors}
  - id: a
    origins: [{id: o, url: "https://origin.example"}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: long, trustedKeyGroups: [g1]}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, file); err != nil {
		t.Fatal(err)
	}
	want, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The buckets as the agent sees them (the same watch and bookkeeping).
	state := map[string]map[string]jetstream.KeyValueEntry{}
	revs, initial := map[string]uint64{}, map[string]bool{}
	for _, b := range wire.ConfigBuckets {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		w, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for !initial[b] {
			e := <-w.Updates()
			take(state, revs, initial, kvEvent{bucket: b, entry: e})
		}
		w.Stop()
	}
	got, err := build(state, &config.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got.PoP, got.Topology = config.PoP{}, config.Topology{}
	if len(got.Distributions) != 2 || len(got.KeyGroups) != 1 {
		t.Fatalf("the agent's configuration: %+v", got)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("the agent's configuration differs from the control plane's:\n agent:   %s\n control: %s", g, w)
	}
}

func publicKeyPEM(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
