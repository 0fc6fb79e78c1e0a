package listener

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
)

// Rapid reset (CVE-2023-44487) beyond x/net's own guard, which only
// closes a connection whose queue of streams waiting for a handler grows:
// a client that opens streams and resets them at once, with handlers that
// finish quickly, stays under it and makes every stream cost a request.
const (
	// rapidResetMin is the number of streams a connection may reset
	// before the ratio below is looked at.
	rapidResetMin = 100
	// rapidResetRatio: a connection whose reset streams outnumber its
	// completed ones more than this many times is closed.
	rapidResetRatio = 2

	// DefaultMaxRequestsPerConn is the request budget of an HTTP/2
	// connection (nginx's keepalive_requests default is 1,000).
	DefaultMaxRequestsPerConn = 10_000
)

// resetGuard wraps the handler of one HTTP/2 connection. A stream the
// client reset before its handler started costs nothing (the handler is
// not called: no cache lookup, no origin fetch), and a connection that
// resets streams far faster than it completes them is sent a GOAWAY
// (ENHANCE_YOUR_CALM) and closed.
type resetGuard struct {
	h         http.Handler
	conn      *batchConn
	log       *slog.Logger
	remote    string
	resets    atomic.Int64
	completed atomic.Int64
	budget    int64        // requests the connection may make (MaxRequestsPerConn)
	started   atomic.Int64 // requests whose handler ran
	once      sync.Once
}

func (g *resetGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() != nil { // reset before its handler ran
		g.reset()
		return
	}
	if g.started.Add(1) == g.budget {
		// The last request of the connection's budget: x/net/http2 takes
		// Connection: close on a response as a graceful close (GOAWAY;
		// the streams in flight finish), and drops the field.
		w.Header().Set("Connection", "close")
	}
	g.h.ServeHTTP(w, r)
	if r.Context().Err() != nil {
		g.reset()
	} else {
		g.completed.Add(1)
	}
}

func (g *resetGuard) reset() {
	n := g.resets.Add(1)
	if n < rapidResetMin || n <= rapidResetRatio*g.completed.Load() {
		return
	}
	g.once.Do(func() {
		g.log.Warn("HTTP/2 connection closed: it resets streams far faster than it completes them (rapid reset, CVE-2023-44487)",
			"stage", "listener", "client", g.remote, "resets", n, "completed", g.completed.Load())
		go func() {
			// GOAWAY ENHANCE_YOUR_CALM first (goaway.go), then the close.
			g.conn.GoAway("rapid reset")
			g.conn.Close()
		}()
	})
}
