package origin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingServer answers with h and counts the requests it got, by path.
type countingServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func mustOrigin(t *testing.T, id, base string, readTimeout time.Duration) *Origin {
	t.Helper()
	o, err := New(Settings{ID: id, HTTPBase: base, ConnectionAttempts: 1, ConnectionTimeout: 10 * time.Second, ReadTimeout: readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// refusedURL is a loopback address nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestGroupDo(t *testing.T) {
	primary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "503"):
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "primary down")
		case strings.Contains(r.URL.Path, "404"):
			w.WriteHeader(http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/403"):
			w.WriteHeader(http.StatusForbidden) // not a failover code
			io.WriteString(w, "primary forbidden")
		case strings.HasPrefix(r.URL.Path, "/stall"):
			<-r.Context().Done() // past the read timeout (1s): the client goes
		default:
			io.WriteString(w, "primary "+r.Method)
		}
	})
	secondary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/both") {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "secondary down too")
			return
		}
		io.WriteString(w, "secondary "+r.Method)
	})
	prim := mustOrigin(t, "p", primary.URL, 30*time.Second)
	stalling := mustOrigin(t, "p", primary.URL, time.Second)
	sec := mustOrigin(t, "s", secondary.URL, 30*time.Second)
	dead := mustOrigin(t, "dead", refusedURL(t), 30*time.Second)
	codes := map[int]bool{404: true, 500: true, 502: true, 503: true}

	for _, tc := range []struct {
		name       string
		primary    *Origin
		secondary  *Origin
		method     string
		path       string
		wantStatus int
		wantBody   string
		wantFail   string // failover id
		wantReason string // "" when OnFailover must not be called
		wantErr    string // the origin id in a *Error
		secHits    int
	}{
		{name: "healthy primary", primary: prim, secondary: sec, method: "GET", path: "/ok",
			wantStatus: 200, wantBody: "primary GET"},
		{name: "listed 503", primary: prim, secondary: sec, method: "GET", path: "/503",
			wantStatus: 200, wantBody: "secondary GET", wantFail: "s", wantReason: "status 503", secHits: 1},
		{name: "listed 404, HEAD", primary: prim, secondary: sec, method: "HEAD", path: "/404",
			wantStatus: 200, wantFail: "s", wantReason: "status 404", secHits: 1},
		{name: "listed 503, OPTIONS", primary: prim, secondary: sec, method: "OPTIONS", path: "/503-options",
			wantStatus: 200, wantBody: "secondary OPTIONS", wantFail: "s", wantReason: "status 503", secHits: 1},
		{name: "unlisted 403", primary: prim, secondary: sec, method: "GET", path: "/403",
			wantStatus: 403, wantBody: "primary forbidden"},
		{name: "POST is not failed over", primary: prim, secondary: sec, method: "POST", path: "/503-post",
			wantStatus: 503, wantBody: "primary down"},
		{name: "PUT is not failed over", primary: prim, secondary: sec, method: "PUT", path: "/503-put",
			wantStatus: 503, wantBody: "primary down"},
		{name: "DELETE on a dead primary is not failed over", primary: dead, secondary: sec, method: "DELETE", path: "/x-delete",
			wantErr: "dead"},
		{name: "connection refused", primary: dead, secondary: sec, method: "GET", path: "/refused",
			wantStatus: 200, wantBody: "secondary GET", wantFail: "s", wantReason: "origin dead: connection failed", secHits: 1},
		{name: "read timeout", primary: stalling, secondary: sec, method: "GET", path: "/stall",
			wantStatus: 200, wantBody: "secondary GET", wantFail: "s", wantReason: "origin p: timed out", secHits: 1},
		{name: "secondary answers an error too", primary: prim, secondary: sec, method: "GET", path: "/both-503",
			wantStatus: 502, wantBody: "secondary down too", wantFail: "s", wantReason: "status 503", secHits: 1},
		{name: "secondary cannot be reached either", primary: prim, secondary: dead, method: "GET", path: "/503-dead",
			wantFail: "dead", wantReason: "status 503", wantErr: "dead"},
		{name: "no secondary", primary: prim, method: "GET", path: "/503-single",
			wantStatus: 503, wantBody: "primary down"},
		{name: "no secondary, dead primary", primary: dead, method: "GET", path: "/dead-single",
			wantErr: "dead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reasons []string
			g := Group{Primary: tc.primary, Secondary: tc.secondary, Codes: codes,
				OnFailover: func(why string) { reasons = append(reasons, why) }}
			built := 0
			resp, failover, err := g.Do(func() *http.Request {
				built++
				req, _ := http.NewRequest(tc.method, "http://placeholder"+tc.path, nil)
				req.URL = &url.URL{Path: tc.path}
				return req
			}, "http", false)
			if failover != tc.wantFail {
				t.Errorf("failover %q, want %q", failover, tc.wantFail)
			}
			switch {
			case tc.wantReason == "" && len(reasons) != 0:
				t.Errorf("OnFailover called: %q", reasons)
			case tc.wantReason != "" && (len(reasons) != 1 || !strings.HasPrefix(reasons[0], tc.wantReason)):
				t.Errorf("OnFailover reasons %q, want one starting %q", reasons, tc.wantReason)
			}
			if want := 1 + len(reasons); built != want {
				t.Errorf("mk called %d times, want %d", built, want)
			}
			if got := secondary.count(tc.path); got != tc.secHits {
				t.Errorf("secondary asked %d times, want %d", got, tc.secHits)
			}
			if tc.wantErr != "" {
				var oe *Error
				if !errors.As(err, &oe) || oe.Origin != tc.wantErr || resp != nil {
					t.Fatalf("err %v resp %v, want an error of origin %q", err, resp, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// Once the primary answered with a status that is not a failover code, its
// response is the caller's: a body that breaks off halfway is not retried
// at the secondary (bytes of it may already be with the viewer).
func TestGroupNoFailoverOnceTheBodyStarted(t *testing.T) {
	primary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // 93 bytes short
		}
	})
	secondary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secondary") })
	called := false
	g := Group{Primary: mustOrigin(t, "p", primary.URL, 30*time.Second), Secondary: mustOrigin(t, "s", secondary.URL, 30*time.Second),
		Codes: map[int]bool{500: true, 502: true, 503: true}, OnFailover: func(string) { called = true }}
	resp, failover, err := g.Do(func() *http.Request {
		req, _ := http.NewRequest("GET", "http://placeholder/cut", nil)
		req.URL = &url.URL{Path: "/cut"}
		return req
	}, "http", false)
	if err != nil || failover != "" || called {
		t.Fatalf("err %v failover %q called %v", err, failover, called)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || string(body) != "partial" {
		t.Fatalf("body %q err %v: want the primary's partial body and a read error", body, err)
	}
	if n := secondary.count("/cut"); n != 0 {
		t.Fatalf("secondary asked %d times", n)
	}
}

// A request the viewer gave up on is not sent again to the secondary.
func TestGroupNoFailoverWhenCancelled(t *testing.T) {
	arrived := make(chan struct{})
	primary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	secondary := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secondary") })
	p, err := New(Settings{ID: "p", HTTPBase: primary.URL, ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := Group{Primary: p, Secondary: mustOrigin(t, "s", secondary.URL, 30*time.Second), Codes: map[int]bool{503: true}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	resp, failover, err := g.Do(func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://placeholder/gone", nil)
		req.URL = &url.URL{Path: "/gone"}
		return req
	}, "http", false)
	if err == nil || resp != nil || failover != "" {
		t.Fatalf("resp %v failover %q err %v", resp, failover, err)
	}
	if n := secondary.count("/gone"); n != 0 {
		t.Fatalf("secondary asked %d times", n)
	}
}
