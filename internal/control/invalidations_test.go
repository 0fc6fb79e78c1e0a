package control

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/testutil"
)

func TestInvalidationCompletesWhenEveryPoPAcks(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)

	e.heartbeat("FRA1")
	e.heartbeat("IAD1")
	testutil.WaitFor(t, 2*time.Second, "two healthy PoPs", func() bool { return len(e.srv.healthyPoPs(e.clock.Now())) == 2 })

	req := map[string]any{"paths": []string{"/a.html", "/images/*"}, "tags": []string{"product-42"}, "callerReference": "deploy-1"}
	resp, data = e.do("POST", "/distributions/shop/invalidations", req)
	var inv wire.Invalidation
	e.want(resp, data, http.StatusCreated, &inv)
	if !regexp.MustCompile(`^I[A-Z0-9]{13}$`).MatchString(inv.ID) {
		t.Errorf("id %q", inv.ID)
	}
	if resp.Header.Get("Location") != "/distributions/shop/invalidations/"+inv.ID {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	if inv.Status != wire.StatusInProgress || !slices.Equal(inv.Expected, []string{"FRA1", "IAD1"}) ||
		inv.DistributionID != "shop" || !slices.Equal(inv.Paths, []string{"/a.html", "/images/*"}) ||
		!inv.CreateTime.Equal(e.clock.Now()) || inv.CompleteTime != nil {
		t.Fatalf("created %s", data)
	}

	// The message is in the stream, with the id for deduplication.
	cons, err := e.js.OrderedConsumer(e.ctx, wire.StreamInvalidations, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wire.SubjectInvalidation + ".shop"},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var sent wire.Invalidation
	if err := json.Unmarshal(msg.Data(), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.ID != inv.ID || !slices.Equal(sent.Tags, []string{"product-42"}) || msg.Headers().Get(jetstream.MsgIDHeader) != inv.ID {
		t.Errorf("stream message %s, headers %v", msg.Data(), msg.Headers())
	}

	// The same callerReference returns the same invalidation.
	resp, data = e.do("POST", "/distributions/shop/invalidations", req)
	var again wire.Invalidation
	e.want(resp, data, http.StatusOK, &again)
	if again.ID != inv.ID {
		t.Errorf("repeated callerReference made %s, want %s", again.ID, inv.ID)
	}

	get := func() wire.Invalidation {
		resp, data := e.do("GET", "/distributions/shop/invalidations/"+inv.ID, nil)
		var got wire.Invalidation
		e.want(resp, data, http.StatusOK, &got)
		return got
	}
	ack := func(pop string) {
		e.publish(wire.SubjectAck+"."+pop, wire.Ack{InvalidationID: inv.ID, PoP: pop, Removed: 3, Time: e.clock.Now()})
	}
	// One expected PoP, and one that was not expected: still in progress.
	ack("FRA1")
	ack("SIN1")
	testutil.WaitFor(t, 2*time.Second, "two acks recorded", func() bool { return len(get().Acked) == 2 })
	if got := get(); got.Status != wire.StatusInProgress || got.CompleteTime != nil {
		t.Fatalf("after FRA1 and SIN1: %+v", got)
	}
	e.clock.Advance(time.Second)
	ack("IAD1")
	ack("IAD1") // a repeat changes nothing
	testutil.WaitFor(t, 2*time.Second, "completion", func() bool { return get().Status == wire.StatusCompleted })
	got := get()
	if got.CompleteTime == nil || !got.CompleteTime.Equal(e.clock.Now()) || len(got.Acked) != 3 {
		t.Errorf("completed: %+v", got)
	}

	// With no healthy PoP, an invalidation is complete at once.
	e.clock.Advance(wire.UnhealthyAfter)
	resp, data = e.do("POST", "/distributions/shop/invalidations", map[string]any{"tags": []string{"all"}})
	var now wire.Invalidation
	e.want(resp, data, http.StatusCreated, &now)
	if now.Status != wire.StatusCompleted || now.CompleteTime == nil || len(now.Expected) != 0 {
		t.Errorf("with no healthy PoP: %s", data)
	}

	// Newest first.
	var list List[wire.Invalidation]
	resp, data = e.do("GET", "/distributions/shop/invalidations", nil)
	e.want(resp, data, http.StatusOK, &list)
	if list.Quantity != 2 || list.Items[0].ID != now.ID || list.Items[1].ID != inv.ID {
		t.Errorf("list = %s", data)
	}
}

func TestInvalidationRequests(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	resp, data = e.do("POST", "/distributions", distribution("blog", "o1"))
	e.want(resp, data, http.StatusCreated, nil)

	tests := []struct {
		name   string
		body   any
		status int
		code   string
		path   string
	}{
		{"nothing to invalidate", map[string]any{"paths": []string{}}, 400, CodeInvalidArgument, "paths"},
		{"relative path", map[string]any{"paths": []string{"/ok", "a.html"}}, 400, CodeInvalidArgument, "paths[1]"},
		{"star inside", map[string]any{"paths": []string{"/a/*/b"}}, 400, CodeInvalidArgument, "paths[0]"},
		{"empty tag", map[string]any{"tags": []string{""}}, 400, CodeInvalidArgument, "tags[0]"},
		{"unknown field", map[string]any{"path": []string{"/a"}}, 400, CodeInvalidArgument, ""},
		{"not json", "paths=/a", 400, CodeInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", "/distributions/shop/invalidations", tc.body)
			ae := e.wantError(resp, data, tc.status, tc.code)
			if tc.path != "" && (len(ae.Errors) == 0 || ae.Errors[0].Path != tc.path) {
				t.Errorf("errors %+v, want path %s", ae.Errors, tc.path)
			}
		})
	}

	resp, data = e.do("POST", "/distributions/nope/invalidations", map[string]any{"paths": []string{"/"}})
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)

	// callerReference is per distribution; ids are per distribution too.
	ref := map[string]any{"paths": []string{"/"}, "callerReference": "r1"}
	var a, b wire.Invalidation
	resp, data = e.do("POST", "/distributions/shop/invalidations", ref)
	e.want(resp, data, http.StatusCreated, &a)
	resp, data = e.do("POST", "/distributions/blog/invalidations", ref)
	e.want(resp, data, http.StatusCreated, &b)
	if a.ID == b.ID {
		t.Error("the same callerReference on two distributions gave one invalidation")
	}
	resp, data = e.do("GET", "/distributions/blog/invalidations/"+a.ID, nil)
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)
	resp, data = e.do("GET", "/distributions/shop/invalidations/INOSUCH", nil)
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)

	// An ack of an unknown invalidation and garbage are ignored.
	e.publish(wire.SubjectAck, wire.Ack{InvalidationID: "INOSUCH", PoP: "FRA1"})
	if err := e.nc.Publish(wire.SubjectAck, []byte("{")); err != nil {
		t.Fatal(err)
	}
}

// Acknowledgements sent while the control plane is down are recorded when it
// comes back: they wait in their stream.
func TestAcksWhileControlPlaneDown(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	e.heartbeat("FRA1")
	testutil.WaitFor(t, 2*time.Second, "FRA1 healthy", func() bool {
		for _, p := range e.srv.PoPs() {
			if p.PoP == "FRA1" && p.Healthy {
				return true
			}
		}
		return false
	})
	resp, data = e.do("POST", "/distributions/shop/invalidations", map[string]any{"paths": []string{"/x"}})
	var inv wire.Invalidation
	e.want(resp, data, http.StatusCreated, &inv)
	if inv.Status != wire.StatusInProgress {
		t.Fatalf("status %s", inv.Status)
	}
	// The control plane stops; NATS keeps running; the PoP acknowledges.
	e.srv.Close()
	if _, err := e.js.Publish(e.ctx, wire.SubjectAck, mustJSON(t, wire.Ack{InvalidationID: inv.ID, PoP: "FRA1", Time: time.Now()})); err != nil {
		t.Fatal(err)
	}
	srv2, err := New(e.ctx, Options{NC: e.nc, JS: e.js, Now: e.clock.Now, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	testutil.WaitFor(t, 5*time.Second, "the invalidation completed after the restart", func() bool {
		e, err := srv2.store.invalidations.Get(context.Background(), inv.ID)
		if err != nil {
			return false
		}
		var got wire.Invalidation
		json.Unmarshal(e.Value(), &got)
		return got.Status == wire.StatusCompleted
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
