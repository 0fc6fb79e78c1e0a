package origin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Origin protection: a cap on the fetches a PoP has in flight to origins,
// in all and to each origin, so that a flood of misses (a cache-busting
// flood of random query strings) reaches an origin at a bounded
// concurrency however fast it comes. A fetch over the cap waits in a queue
// for at most the queue timeout, then fails with a *BusyError (the PoP
// answers 503 with Retry-After). A slot is held from the request until the
// response body is read to its end or closed.

// Limiter bounds concurrent origin fetches. A nil *Limiter bounds nothing.
type Limiter struct {
	total     chan struct{}
	perOrigin int
	wait      time.Duration

	mu      sync.Mutex
	origins map[string]*originSlots

	refused atomic.Int64
}

type originSlots struct {
	sem   chan struct{}
	users int // holders and waiters; the entry is dropped at zero
}

// NewLimiter bounds fetches to total at once, perOrigin to each origin, and
// queues a fetch over either for at most wait.
func NewLimiter(total, perOrigin int, wait time.Duration) *Limiter {
	if total < 1 {
		total = 1
	}
	if perOrigin < 1 || perOrigin > total {
		perOrigin = total
	}
	return &Limiter{total: make(chan struct{}, total), perOrigin: perOrigin, wait: wait,
		origins: map[string]*originSlots{}}
}

// BusyError is a fetch refused because the cap was reached and no slot freed
// within the queue timeout.
type BusyError struct {
	Origin    string        // the origin's limit key (its host name)
	PerOrigin bool          // the per-origin cap was full, else the PoP's
	Limit     int           // the cap that was full
	Waited    time.Duration // the queue timeout
}

func (e *BusyError) Error() string {
	scope := "the PoP's"
	if e.PerOrigin {
		scope = "origin " + e.Origin + "'s"
	}
	return fmt.Sprintf("origin: %s %d concurrent origin fetches are all in use after waiting %s", scope, e.Limit, e.Waited)
}

// RetryAfter is the delay, in whole seconds (at least 1), a viewer is told
// to wait before retrying.
func (e *BusyError) RetryAfter() int {
	s := int((e.Waited + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Refused is how many fetches were refused since the limiter was made.
func (l *Limiter) Refused() int64 {
	if l == nil {
		return 0
	}
	return l.refused.Load()
}

// InFlight is how many fetches hold a slot now.
func (l *Limiter) InFlight() int {
	if l == nil {
		return 0
	}
	return len(l.total)
}

// Acquire takes a slot for a fetch to the origin keyed key, waiting at most
// the queue timeout (or until ctx ends). release gives it back; it may be
// called more than once.
func (l *Limiter) Acquire(ctx context.Context, key string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	o := l.origins[key]
	if o == nil {
		o = &originSlots{sem: make(chan struct{}, l.perOrigin)}
		l.origins[key] = o
	}
	o.users++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if o.users--; o.users == 0 {
			delete(l.origins, key)
		}
		l.mu.Unlock()
	}

	// The fast path: both slots free, no timer.
	select {
	case o.sem <- struct{}{}:
		select {
		case l.total <- struct{}{}:
			return l.releaser(o, done), nil
		default:
		}
		<-o.sem
	default:
	}

	t := time.NewTimer(l.wait)
	defer t.Stop()
	busy := func(perOrigin bool) error {
		l.refused.Add(1)
		limit := cap(l.total)
		if perOrigin {
			limit = l.perOrigin
		}
		return &BusyError{Origin: key, PerOrigin: perOrigin, Limit: limit, Waited: l.wait}
	}
	select {
	case o.sem <- struct{}{}:
	case <-t.C:
		done()
		return nil, busy(true)
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	select {
	case l.total <- struct{}{}:
		return l.releaser(o, done), nil
	case <-t.C:
		<-o.sem
		done()
		return nil, busy(false)
	case <-ctx.Done():
		<-o.sem
		done()
		return nil, ctx.Err()
	}
}

func (l *Limiter) releaser(o *originSlots, done func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.total
			<-o.sem
			done()
		})
	}
}

// Do runs do, which sends one request to the origin keyed key, in a slot:
// the slot is held until the response body is read to its end, fails or is
// closed. A 101 response (a protocol switch, not a fetch) gives it back at
// once.
func (l *Limiter) Do(ctx context.Context, key string, do func() (*http.Response, error)) (*http.Response, error) {
	if l == nil {
		return do()
	}
	release, err := l.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	resp, err := do()
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols || resp.Body == nil {
		release()
		return resp, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// slotBody gives the fetch's slot back at the end of the body.
type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// LimitKey is the key the origin's fetches are counted under: the host name
// of its base URL, so that every distribution and origin entry naming the
// same server shares its cap.
func (o *Origin) LimitKey() string {
	if o.httpBase != nil {
		return strings.ToLower(o.httpBase.Hostname())
	}
	if o.httpsBase != nil {
		return strings.ToLower(o.httpsBase.Hostname())
	}
	return o.s.ID
}
