package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Flight is one fetch shared by every request that missed on the same key
// while it was running. Its result is published once the response headers
// are known; the body keeps streaming into Body after that. T is what the
// caller's fetch reports besides the body (status, header, how the response
// was had): the cache does not look at it.
type Flight[T any] struct {
	ready   chan struct{}
	started time.Time
	// users counts the requests that joined and are not Done, plus one for
	// the fetch while it runs.
	users atomic.Int32

	// Set before ready is closed; read-only afterwards.
	Result[T]
}

// Result is what a fetch publishes.
type Result[T any] struct {
	Value T
	Body  *Body
	Err   error
	// Object is the object being stored, when the response is storable: a
	// flight without one leaves the key at once (those waiting share the
	// response, later requests fetch anew).
	Object *Object
}

// Started is when the fetch started.
func (f *Flight[T]) Started() time.Time { return f.started }

// Ready is closed when the response headers (or an error) are known.
func (f *Flight[T]) Ready() <-chan struct{} { return f.ready }

// Done tells the flight that a request that joined it (Group.Join, Start)
// no longer uses it or its Body. When every one is done and the fetch has
// ended, a body that spilled to a file closes the file at once
// rather than when it is garbage: nobody can join any more (the key was
// released when the fetch ended), and the store never keeps such a body.
func (f *Flight[T]) Done() {
	if f.users.Add(-1) == 0 && f.Body != nil {
		f.Body.closeSpill()
	}
}

// Wait blocks until the flight has a result or ctx ends.
func (f *Flight[T]) Wait(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Group collapses concurrent fetches of one key into one Flight.
type Group[T any] struct {
	mu sync.Mutex
	m  map[string]*Flight[T]
}

// Join returns the flight for key, starting one with start if there is none.
// start runs in its own goroutine, detached from any one viewer; it must call
// publish exactly once, when headers (or an error) are known, and may keep
// filling the body afterwards. The key is released when start returns, or
// earlier when start calls release: once the object is in the store, later
// requests should find it there rather than join a flight that is only
// finishing. leader reports whether this call started the flight. The
// caller calls Done on f when it no longer uses it.
func (g *Group[T]) Join(key string, start func(publish func(Result[T]), release func())) (f *Flight[T], leader bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*Flight[T])
	}
	if f, ok := g.m[key]; ok {
		f.users.Add(1) // under g.mu: the fetch can't end (and close a spill file) unseen
		g.mu.Unlock()
		return f, false
	}
	f = &Flight[T]{ready: make(chan struct{}), started: time.Now()}
	f.users.Store(2) // the leader and the fetch
	g.m[key] = f
	g.mu.Unlock()

	go func() {
		var once sync.Once
		publish := func(r Result[T]) {
			once.Do(func() {
				f.Result = r
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
				publish(Result[T]{Err: errPanic{p}})
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
		publish(Result[T]{Err: errNoResult})
	}()
	return f, true
}

// Users counts the requests using the flights that are still running, and
// one for each running fetch (introspection and tests).
func (g *Group[T]) Users() int {
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

// Start runs a fetch that is not shared with anyone (same contract as
// Group.Join, without a key to release).
func Start[T any](start func(publish func(Result[T]))) *Flight[T] {
	var g Group[T]
	f, _ := g.Join("", func(publish func(Result[T]), _ func()) { start(publish) })
	return f
}
