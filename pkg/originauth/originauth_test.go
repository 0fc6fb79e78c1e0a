package originauth_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/pkg/originauth"
	"github.com/strata-cdn/strata/pkg/sigv4"
)

var (
	oldKey = sigv4.Credentials{AccessKeyID: "strata-2025", SecretAccessKey: "old-secret-0123456789"}
	newKey = sigv4.Credentials{AccessKeyID: "strata-2026", SecretAccessKey: "new-secret-9876543210"}
	client = &http.Client{Timeout: 10 * time.Second}
)

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// origin is a real server behind originauth.Handler. Its application counts
// the requests that reach it and the bodies it accepted; it answers 200 and
// the body it read, or 400 and the reason if reading the body failed.
type origin struct {
	*httptest.Server
	reached  atomic.Int64
	accepted atomic.Int64

	mu      sync.Mutex
	refused []error // what OnRefuse saw
}

func startOrigin(t *testing.T, o originauth.Options) *origin {
	t.Helper()
	or := &origin{}
	o.OnRefuse = func(r *http.Request, err error) {
		or.mu.Lock()
		or.refused = append(or.refused, err)
		or.mu.Unlock()
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		or.reached.Add(1)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var e *sigv4.Error
			if errors.As(err, &e) {
				http.Error(w, e.Reason, http.StatusBadRequest)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		or.accepted.Add(1)
		io.WriteString(w, "ok "+r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
	or.Server = httptest.NewServer(originauth.Handler(app, o))
	t.Cleanup(or.Close)
	return or
}

func (or *origin) lastRefusal(t *testing.T) string {
	t.Helper()
	or.mu.Lock()
	defer or.mu.Unlock()
	if len(or.refused) == 0 {
		t.Fatal("OnRefuse was not called")
	}
	var e *sigv4.Error
	if !errors.As(or.refused[len(or.refused)-1], &e) {
		t.Fatalf("OnRefuse got %v, not a *sigv4.Error", or.refused[len(or.refused)-1])
	}
	return e.Reason
}

// request builds a request to or, signed with c at the given time (unless c
// is the zero value) for the body's hash.
func (or *origin) request(t *testing.T, method, pathQuery, body string, c sigv4.Credentials, at time.Time) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, or.URL+pathQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c != (sigv4.Credentials{}) {
		if err := sigv4.Sign(r, c, originauth.DefaultRegion, originauth.DefaultService, at, hashOf(body)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// wantRefused checks a 403 from the handler, with its reason.
func wantRefused(t *testing.T, resp *http.Response, body, reason string) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d %q, want 403 (%s)", resp.StatusCode, body, reason)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	if want := "strata origin auth: " + reason + "\n"; body != want {
		t.Fatalf("body %q, want %q", body, want)
	}
}

func TestAccepted(t *testing.T) {
	or := startOrigin(t, originauth.Options{Keys: map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/index.html", ""},
		{"GET", "/a%20b/%C3%BC.txt?x=1&x=2&y=%2F", ""},
		{"HEAD", "/index.html", ""},
		{"POST", "/form?go", "a=1&b=2"},
		{"PUT", "/upload", strings.Repeat("0123456789", 10000)},
	} {
		resp, body := do(t, or.request(t, tc.method, tc.path, tc.body, newKey, time.Now()))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %q", tc.method, tc.path, resp.StatusCode, body)
		}
		if want := "ok " + tc.method + " " + tc.path + " " + tc.body; tc.method != "HEAD" && body != want {
			t.Fatalf("%s %s: body %.80q, want %.80q", tc.method, tc.path, body, want)
		}
	}
	if n := or.accepted.Load(); n != 5 {
		t.Fatalf("the application accepted %d requests, want 5", n)
	}
}

func TestRefused(t *testing.T) {
	or := startOrigin(t, originauth.Options{Keys: map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}})
	wrongSecret := sigv4.Credentials{AccessKeyID: newKey.AccessKeyID, SecretAccessKey: "guessed"}
	unknown := sigv4.Credentials{AccessKeyID: "someone-else", SecretAccessKey: newKey.SecretAccessKey}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		reason string
	}{
		{"unsigned", or.request(t, "GET", "/x", "", sigv4.Credentials{}, time.Now()), sigv4.ReasonMissingAuthorization},
		{"unknown key", or.request(t, "GET", "/x", "", unknown, time.Now()), sigv4.ReasonUnknownKey},
		{"wrong secret", or.request(t, "GET", "/x", "", wrongSecret, time.Now()), sigv4.ReasonSignatureMismatch},
		{"old", or.request(t, "GET", "/x", "", newKey, time.Now().Add(-20*time.Minute)), sigv4.ReasonExpired},
		{"garbage", func() *http.Request {
			r := or.request(t, "GET", "/x", "", sigv4.Credentials{}, time.Now())
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host")
			return r
		}(), sigv4.ReasonMalformedAuthorization},
		{"empty body, hash of another", func() *http.Request {
			r := or.request(t, "GET", "/x", "", sigv4.Credentials{}, time.Now())
			if err := sigv4.Sign(r, newKey, "us-east-1", "strata", time.Now(), hashOf("something")); err != nil {
				t.Fatal(err)
			}
			return r
		}(), sigv4.ReasonPayloadMismatch},
		{"other region", func() *http.Request {
			r := or.request(t, "GET", "/x", "", sigv4.Credentials{}, time.Now())
			if err := sigv4.Sign(r, newKey, "eu-west-1", "strata", time.Now(), sigv4.EmptyPayloadHash); err != nil {
				t.Fatal(err)
			}
			return r
		}(), sigv4.ReasonWrongScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := or.reached.Load()
			resp, body := do(t, tc.r)
			wantRefused(t, resp, body, tc.reason)
			if got := or.lastRefusal(t); got != tc.reason {
				t.Errorf("OnRefuse saw %s, want %s", got, tc.reason)
			}
			if or.reached.Load() != before {
				t.Fatal("a refused request reached the application")
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	both := startOrigin(t, originauth.Options{Keys: map[string]string{
		oldKey.AccessKeyID: oldKey.SecretAccessKey,
		newKey.AccessKeyID: newKey.SecretAccessKey,
	}})
	for _, c := range []sigv4.Credentials{oldKey, newKey} {
		if resp, body := do(t, both.request(t, "GET", "/r", "", c, time.Now())); resp.StatusCode != http.StatusOK {
			t.Fatalf("while rotating, key %s refused: %d %q", c.AccessKeyID, resp.StatusCode, body)
		}
	}
	// The old key removed: the same origin, restarted with only the new key.
	after := startOrigin(t, originauth.Options{Keys: map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}})
	resp, body := do(t, after.request(t, "GET", "/r", "", oldKey, time.Now()))
	wantRefused(t, resp, body, sigv4.ReasonUnknownKey)
	if resp, body := do(t, after.request(t, "GET", "/r", "", newKey, time.Now())); resp.StatusCode != http.StatusOK {
		t.Fatalf("new key refused: %d %q", resp.StatusCode, body)
	}
	// Keys are copied: changing the map afterwards does not let a key in.
	keys := map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}
	v, err := originauth.New(originauth.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keys[oldKey.AccessKeyID] = oldKey.SecretAccessKey
	r, _ := http.NewRequest("GET", "http://origin.example/r", nil)
	if err := sigv4.Sign(r, oldKey, "us-east-1", "strata", time.Now(), sigv4.EmptyPayloadHash); err != nil {
		t.Fatal(err)
	}
	if err := v.Check(r); err == nil {
		t.Fatal("a key added to the map after New was accepted")
	}
}

func TestBodyTamper(t *testing.T) {
	or := startOrigin(t, originauth.Options{Keys: map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}})
	for _, size := range []int{5, 100 << 10} {
		signed := strings.Repeat("a", size)
		sent := strings.Repeat("a", size-1) + "b"
		r := or.request(t, "PUT", "/upload", signed, newKey, time.Now())
		r.Body = io.NopCloser(strings.NewReader(sent)) // same length, one byte changed
		resp, body := do(t, r)
		if resp.StatusCode != http.StatusBadRequest || body != sigv4.ReasonPayloadMismatch+"\n" {
			t.Fatalf("size %d: %d %q; want the application's read to fail with %s", size, resp.StatusCode, body, sigv4.ReasonPayloadMismatch)
		}
	}
	if n := or.accepted.Load(); n != 0 {
		t.Fatalf("the application accepted %d tampered bodies", n)
	}
	// UNSIGNED-PAYLOAD: the body is not covered, and passes.
	r, _ := http.NewRequest("PUT", or.URL+"/upload", strings.NewReader("anything"))
	if err := sigv4.Sign(r, newKey, "us-east-1", "strata", time.Now(), sigv4.UnsignedPayload); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, r); resp.StatusCode != http.StatusOK {
		t.Fatalf("unsigned payload: %d %q", resp.StatusCode, body)
	}
}

func TestSkew(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	or := startOrigin(t, originauth.Options{
		Keys:    map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey},
		MaxSkew: 5 * time.Minute,
		Now:     func() time.Time { return now },
	})
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{now, true},
		{now.Add(-4 * time.Minute), true},
		{now.Add(4 * time.Minute), true},
		{now.Add(-6 * time.Minute), false},
		{now.Add(6 * time.Minute), false},
		{now.Add(-24 * time.Hour), false},
	} {
		resp, body := do(t, or.request(t, "GET", "/t", "", newKey, tc.at))
		if tc.ok {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("signed at %s: %d %q", tc.at.Sub(now), resp.StatusCode, body)
			}
			continue
		}
		wantRefused(t, resp, body, sigv4.ReasonExpired)
	}
}

// TestReplay sends the bytes of a signed request again over a raw connection:
// unchanged it is accepted (SigV4 has no nonce; MaxSkew bounds the window),
// with the query changed it is refused.
func TestReplay(t *testing.T) {
	or := startOrigin(t, originauth.Options{Keys: map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey}})
	r := or.request(t, "GET", "/report?user=alice&limit=10", "", newKey, time.Now())
	wire, err := httputil.DumpRequestOut(r, false)
	if err != nil {
		t.Fatal(err)
	}
	send := func(raw []byte) (int, string) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", or.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send(wire); code != http.StatusOK {
		t.Fatalf("the request itself: %d %q", code, body)
	}
	if code, body := send(wire); code != http.StatusOK {
		t.Fatalf("an unchanged replay: %d %q", code, body)
	}
	for _, change := range [][2]string{
		{"user=alice", "user=mallory"},
		{"limit=10", "limit=99"},
		{"limit=10", "limit=10&admin=1"},
		{"GET /report", "GET /Report"},
	} {
		if !bytes.Contains(wire, []byte(change[0])) {
			t.Fatalf("%q not in the request", change[0])
		}
		code, body := send(bytes.Replace(wire, []byte(change[0]), []byte(change[1]), 1))
		if code != http.StatusForbidden || body != "strata origin auth: "+sigv4.ReasonSignatureMismatch+"\n" {
			t.Fatalf("replay with %s: %d %q", change[1], code, body)
		}
	}
}

func TestOptions(t *testing.T) {
	ok := map[string]string{"k": "s"}
	for _, tc := range []struct {
		name string
		o    originauth.Options
		want string // substring of the error; "" = valid
	}{
		{"minimal", originauth.Options{Keys: ok}, ""},
		{"no keys", originauth.Options{}, "Options.Keys"},
		{"empty map", originauth.Options{Keys: map[string]string{}}, "Options.Keys"},
		{"empty id", originauth.Options{Keys: map[string]string{"": "s"}}, `Options.Keys[""]`},
		{"id with slash", originauth.Options{Keys: map[string]string{"a/b": "s"}}, `Options.Keys["a/b"]`},
		{"empty secret", originauth.Options{Keys: map[string]string{"k": ""}}, `Options.Keys["k"]: the secret is empty`},
		{"region", originauth.Options{Keys: ok, Region: "eu west"}, "Options.Region"},
		{"service", originauth.Options{Keys: ok, Service: "a/b"}, "Options.Service"},
		{"skew", originauth.Options{Keys: ok, MaxSkew: -time.Second}, "Options.MaxSkew"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := originauth.New(tc.o)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Handler with no keys did not panic")
		}
	}()
	originauth.Handler(http.NotFoundHandler(), originauth.Options{})
}

func TestCustomScope(t *testing.T) {
	or := startOrigin(t, originauth.Options{
		Keys:    map[string]string{newKey.AccessKeyID: newKey.SecretAccessKey},
		Region:  "eu-central-1",
		Service: "origin",
	})
	sign := func(region, service string) *http.Request {
		r, _ := http.NewRequest("GET", or.URL+"/s", nil)
		if err := sigv4.Sign(r, newKey, region, service, time.Now(), sigv4.EmptyPayloadHash); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if resp, body := do(t, sign("eu-central-1", "origin")); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	resp, body := do(t, sign("us-east-1", "strata"))
	wantRefused(t, resp, body, sigv4.ReasonWrongScope)
}
