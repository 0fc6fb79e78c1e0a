package origin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimiterCaps(t *testing.T) {
	l := NewLimiter(3, 2, 20*time.Millisecond)
	ctx := context.Background()
	take := func(key string) func() {
		t.Helper()
		rel, err := l.Acquire(ctx, key)
		if err != nil {
			t.Fatalf("acquire %s: %v", key, err)
		}
		return rel
	}
	a1, _ := take("a"), take("a")
	var busy *BusyError
	if _, err := l.Acquire(ctx, "a"); !errors.As(err, &busy) || !busy.PerOrigin || busy.Limit != 2 {
		t.Fatalf("third fetch to a: %v, want the per-origin cap of 2", err)
	}
	b1 := take("b")
	if _, err := l.Acquire(ctx, "c"); !errors.As(err, &busy) || busy.PerOrigin || busy.Limit != 3 {
		t.Fatalf("fourth fetch: %v, want the PoP's cap of 3", err)
	}
	if busy.RetryAfter() != 1 {
		t.Fatalf("RetryAfter = %d, want 1", busy.RetryAfter())
	}
	if got := l.Refused(); got != 2 {
		t.Fatalf("Refused = %d, want 2", got)
	}
	a1()
	a1() // a second release is a no-op
	c := take("c")
	if l.InFlight() != 3 {
		t.Fatalf("InFlight = %d, want 3", l.InFlight())
	}
	b1()
	c()
	if l.InFlight() != 1 {
		t.Fatalf("InFlight = %d, want 1", l.InFlight())
	}
	l.mu.Lock()
	n := len(l.origins)
	l.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d origin entries kept, want 1 (only a holds a slot)", n)
	}
}

// A queued fetch gets the slot freed while it waits.
func TestLimiterQueue(t *testing.T) {
	l := NewLimiter(1, 1, time.Hour)
	rel, err := l.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := l.Acquire(context.Background(), "a")
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second fetch did not wait: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	rel()
	if err := <-got; err != nil {
		t.Fatalf("queued fetch: %v", err)
	}
	// A waiter whose viewer leaves stops waiting with its context's error.
	rel, _ = l.Acquire(context.Background(), "a")
	defer rel()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := l.Acquire(ctx, "a"); got <- err }()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
}

// Do holds the slot until the response body is read to its end or closed.
func TestLimiterDoHoldsSlotForBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	l := NewLimiter(1, 1, 10*time.Millisecond)
	get := func() (*http.Response, error) {
		return l.Do(context.Background(), "s", func() (*http.Response, error) { return http.Get(srv.URL) })
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil {
		t.Fatal("a second fetch got a slot while the first body is unread")
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Fatalf("body %q", b)
	}
	if l.InFlight() != 0 {
		t.Fatalf("slot held after EOF")
	}
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l.InFlight() != 0 {
		t.Fatalf("slot held after Close")
	}
	// An error from the origin gives the slot back too.
	if _, err := l.Do(context.Background(), "s", func() (*http.Response, error) { return nil, errors.New("refused") }); err == nil {
		t.Fatal("want the error")
	}
	if l.InFlight() != 0 {
		t.Fatalf("slot held after an error")
	}
	var nilL *Limiter
	if resp, err := nilL.Do(context.Background(), "s", func() (*http.Response, error) { return http.Get(srv.URL) }); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
}

func TestLimitKey(t *testing.T) {
	for _, c := range []struct{ http, https, want string }{
		{"http://127.0.0.1:8080/base", "", "127.0.0.1"},
		{"", "https://Example.com", "example.com"},
		{"http://[::1]:80", "https://[::1]:443", "::1"},
	} {
		o, err := New(Settings{ID: "o", HTTPBase: c.http, HTTPSBase: c.https})
		if err != nil {
			t.Fatal(err)
		}
		if got := o.LimitKey(); got != c.want {
			t.Errorf("LimitKey(%q, %q) = %q, want %q", c.http, c.https, got, c.want)
		}
	}
}
