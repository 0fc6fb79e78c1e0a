package cache

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/internal/origin"
)

// Flight is one fetch shared by every request that missed on the same key
// while it was running. Its result is published once the response headers
// are known; the body keeps streaming into Body after that.
type Flight struct {
	ready   chan struct{}
	started time.Time
	// users counts the requests that joined and are not Done, plus one for
	// the fetch while it runs.
	users atomic.Int32

	// Set before ready is closed; read-only afterwards.
	Status int
	Header http.Header
	Body   *Body
	Err    error
	// Shareable reports whether requests other than the one that started the
	// fetch may use this response (it is storable: not private, no
	// Set-Cookie, no Vary *). Waiters that cannot use it fetch for themselves.
	Shareable bool
	// Object is the object being stored, when the response is storable.
	Object *Object
	// Request is the header of the request that started the fetch, for Vary
	// matching by waiters.
	Request http.Header
	// Info is free-form detail for Cache-Status and logs (e.g. "stored").
	Info string
	// Upstream is the id of the parent tier that answered, "" for the origin.
	Upstream string
	// Timing is how long the upstream request took, when it was measured
	// (for a Server-Timing header).
	Timing origin.Timing
}

// Started is when the fetch started.
func (f *Flight) Started() time.Time { return f.started }

// Ready is closed when the response headers (or an error) are known.
func (f *Flight) Ready() <-chan struct{} { return f.ready }

// Done tells the flight that a request that joined it (Join, JoinRelease,
// Start) no longer uses it or its Body. When every one is done and the
// fetch has ended, a body that spilled to a file closes the file at once
// rather than when it is garbage: nobody can join any more (the key was
// released when the fetch ended), and the store never keeps such a body.
func (f *Flight) Done() {
	if f.users.Add(-1) == 0 && f.Body != nil {
		f.Body.closeSpill()
	}
}

// Wait blocks until the flight has a result or ctx ends.
func (f *Flight) Wait(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Group collapses concurrent fetches of one key into one Flight.
type Group struct {
	mu sync.Mutex
	m  map[string]*Flight
}

// Join returns the flight for key, starting one with start if there is none.
// start runs in its own goroutine, detached from any one viewer; it must call
// publish exactly once, when headers (or an error) are known, and may keep
// filling the body afterwards. The key is released when start returns, so a
// request arriving after the fetch completed goes to the store instead.
// leader reports whether this call started the flight. The caller calls
// Done on f when it no longer uses it.
func (g *Group) Join(key string, start func(publish func(*Flight))) (f *Flight, leader bool) {
	return g.JoinRelease(key, func(publish func(*Flight), _ func()) { start(publish) })
}

// JoinRelease is Join for a start function that can also release the key
// early: once the object is in the store, later requests should find it
// there rather than join a flight that is only finishing.
func (g *Group) JoinRelease(key string, start func(publish func(*Flight), release func())) (f *Flight, leader bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*Flight)
	}
	if f, ok := g.m[key]; ok {
		f.users.Add(1) // under g.mu: the fetch can't end (and close a spill file) unseen
		g.mu.Unlock()
		return f, false
	}
	f = &Flight{ready: make(chan struct{}), started: time.Now()}
	f.users.Store(2) // the leader and the fetch
	g.m[key] = f
	g.mu.Unlock()

	go func() {
		var once sync.Once
		publish := func(r *Flight) {
			once.Do(func() {
				f.Status, f.Header, f.Body, f.Err = r.Status, r.Header, r.Body, r.Err
				f.Shareable, f.Object, f.Request, f.Info = r.Shareable, r.Object, r.Request, r.Info
				f.Upstream, f.Timing = r.Upstream, r.Timing
				close(f.ready)
				if r.Object == nil {
					// Not to be stored: those already waiting share it, a
					// request arriving from now on fetches anew.
					g.mu.Lock()
					if g.m[key] == f {
						delete(g.m, key)
					}
					g.mu.Unlock()
				}
			})
		}
		defer func() {
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			if p := recover(); p != nil {
				publish(&Flight{Err: errPanic{p}})
			}
			f.Done() // the fetch's own use, after the key is released
		}()
		release := func() {
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
		}
		start(publish, release)
		publish(&Flight{Err: errNoResult})
	}()
	return f, true
}

// Users counts the requests using the flights that are still running, and
// one for each running fetch (introspection and tests).
func (g *Group) Users() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, f := range g.m {
		n += int(f.users.Load())
	}
	return n
}

type errPanic struct{ v any }

func (e errPanic) Error() string { return "cache: fetch panicked" }

var errNoResult = errorString("cache: fetch ended without a result")

type errorString string

func (e errorString) Error() string { return string(e) }

// Start runs a fetch that is not shared with anyone (same contract as Join).
func Start(start func(publish func(*Flight))) *Flight {
	var g Group
	f, _ := g.Join("", start)
	return f
}
