package origin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestTraceUpstream: a traced request on a new connection measures its
// connect and first byte; one on a reused connection has no connect time;
// an untraced one measures nothing.
func TestTraceUpstream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fetch := func(enabled bool) Timing {
		t.Helper()
		tctx, trace := TraceUpstream(ctx, enabled)
		if (trace != nil) != enabled {
			t.Fatalf("enabled %v, trace %v", enabled, trace)
		}
		if !enabled && tctx != ctx {
			t.Fatal("a disabled trace changed the context")
		}
		req, _ := http.NewRequestWithContext(tctx, "GET", srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return trace.Result()
	}

	first := fetch(true)
	if !first.Measured || first.Connect <= 0 || first.FirstByte <= 0 {
		t.Fatalf("new connection: %+v", first)
	}
	if first.DNS != 0 {
		t.Fatalf("an IP address was resolved: %+v", first)
	}
	reused := fetch(true)
	if !reused.Measured || reused.DNS != 0 || reused.Connect != 0 || reused.FirstByte <= 0 {
		t.Fatalf("reused connection: %+v", reused)
	}
	if off := fetch(false); off != (Timing{}) {
		t.Fatalf("untraced: %+v", off)
	}
	var nilTrace *Trace
	if nilTrace.Result() != (Timing{}) {
		t.Fatal("a nil trace measured something")
	}
}
