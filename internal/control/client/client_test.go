package client

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
)

// startPlane runs a real control plane (embedded NATS, the store, the API)
// on loopback and returns a client of it with its token.
func startPlane(t *testing.T) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cp, err := control.StartPlane(ctx, control.PlaneOptions{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
		Config: &config.Config{}, Apply: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	if cp.NewToken == "" {
		t.Fatal("no token")
	}
	return New(cp.APIURL+"/", cp.NewToken)
}

func wantCode(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code || e.Message == "" {
		t.Errorf("%s: %v, want %d %s with a message", what, err, status, code)
	}
}

// A resource's life through the client: create, get with its ETag, an
// update at a stale ETag refused with the API's code, update, delete.
func TestResourceLifecycle(t *testing.T) {
	c := startPlane(t)
	ttl := int64(60)
	p := config.CachePolicy{ID: "short", DefaultTTL: &ttl}
	res, err := c.Create(CachePolicies, p)
	if err != nil || res.ETag == "" || len(res.Body) == 0 {
		t.Fatalf("create: %+v %v", res, err)
	}
	_, err = c.Create(CachePolicies, p)
	wantCode(t, "create twice", err, http.StatusConflict, control.CodeAlreadyExists)
	var got config.CachePolicy
	etag, err := c.Get(CachePolicies, "short", &got)
	if err != nil || etag != res.ETag || got.ID != "short" || *got.DefaultTTL != 60 {
		t.Fatalf("get: %q %+v %v", etag, got, err)
	}
	ttl = 120
	up, err := c.Update(CachePolicies, "short", p, etag)
	if err != nil || up.ETag == etag {
		t.Fatalf("update: %+v %v", up, err)
	}
	_, err = c.Update(CachePolicies, "short", p, etag)
	wantCode(t, "update at a stale ETag", err, http.StatusPreconditionFailed, control.CodePreconditionFailed)
	var list struct {
		Items []config.CachePolicy `json:"items"`
	}
	if _, err := c.List(CachePolicies, &list); err != nil || len(list.Items) == 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := c.Delete(CachePolicies, "short", up.ETag); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(CachePolicies, "short", nil)
	wantCode(t, "get after delete", err, http.StatusNotFound, control.CodeNoSuchResource)
	if pops, _, err := c.PoPs(); err != nil || len(pops) != 0 {
		t.Errorf("PoPs: %v %v", pops, err)
	}
	_, _, err = c.Invalidate("nonesuch", InvalidationRequest{Paths: []string{"/*"}, CallerReference: "r1"})
	wantCode(t, "invalidation in no distribution", err, http.StatusNotFound, control.CodeNoSuchResource)
	_, err = New(c.Base, "").Get(CachePolicies, "short", nil)
	wantCode(t, "no token", err, http.StatusUnauthorized, control.CodeMissingToken)
}

// Responses that are not the API's JSON still make an *Error; no response
// is an *UnreachableError.
func TestErrorsOfOtherServers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/text":
			http.Error(w, "upstream down", http.StatusBadGateway)
		case "/html":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("<html>\n<h1>503</h1>"))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "t")
	for _, tc := range []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"plain text", "/text", http.StatusBadGateway, "HTTP 502", "upstream down"},
		{"an HTML page", "/html", http.StatusServiceUnavailable, "HTTP 503", "Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := c.Do(http.MethodGet, tc.path, nil, "")
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
				t.Errorf("%v, want %d %s: %s", err, tc.status, tc.code, tc.msg)
			}
		})
	}
	srv.Close()
	_, _, _, err := c.Do(http.MethodGet, "/", nil, "")
	var u *UnreachableError
	if !errors.As(err, &u) || u.Base != srv.URL {
		t.Errorf("a closed server: %v", err)
	}
}
