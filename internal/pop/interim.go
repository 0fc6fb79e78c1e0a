package pop

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
)

// Interim responses. An origin may send 1xx responses before its final
// one: 103 Early Hints (RFC 8297) with Link fields a browser can preload
// while the origin still works, 100 Continue in answer to the viewer's
// Expect, or 102. A proxy forwards them (RFC 9110 15.2), and so does a
// PoP for a request it passes to the origin: each goes to the viewer at
// once, over HTTP/1.1 (internal/h1 writes it ahead of the final response)
// and HTTP/2 (a HEADERS frame), with the origin's fields minus hop-by-hop
// ones and nothing of Strata's; an HTTP/1.0 viewer gets none (RFC 9110
// 15.2). 101 is not interim here: it ends the exchange (websocket.go).
//
// A cached fetch (fetch.go) passes them on to the viewer whose request
// started it, while that viewer still waits for the final response: the
// fetch is shared, but an early hint is about that viewer's page load.
// Viewers who join the fetch, and every later hit, get the final response
// only: interim responses are never stored. Through the tiers the parent
// relays them to the child's fetch the same way, so an edge viewer who
// misses everywhere gets the origin's 103. 100 Continue needs no relay of
// its own: a viewer's Expect is answered by the listener when the request
// body is first read, which for a pass is when the origin has said 100 (or
// the one-second wait for it is over); a cached fetch sends no body.

// forwardInterim returns ctx with a client trace that writes each interim
// response the origin sends to ex's viewer, while no final response has
// been written.
func forwardInterim(ctx context.Context, ex *exchange) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if ex.w.wrote || code == http.StatusSwitchingProtocols {
				return nil
			}
			writeInterim(ex.w, code, http.Header(h))
			return nil
		},
	})
}

// writeInterim writes one interim response with the origin's fields. The
// viewer's header map is the one the final response will use: it is
// emptied for the interim fields and given back after.
func writeInterim(w http.ResponseWriter, code int, fields http.Header) {
	out := w.Header()
	saved := out.Clone()
	clear(out)
	for k, vv := range cleanResponseHeader(fields) {
		if k == "Content-Length" || strataOwned(k) {
			continue
		}
		out[k] = vv
	}
	w.WriteHeader(code)
	clear(out)
	for k, vv := range saved {
		out[k] = vv
	}
}

// interimSink passes the interim responses of a shared fetch to the viewer
// whose request started it, until that viewer stops waiting (close): the
// fetch outlives it, and must then write nothing to its connection.
type interimSink struct {
	mu     sync.Mutex
	w      *responseWriter
	closed bool
}

// trace returns ctx with a client trace writing to the sink.
func (s *interimSink) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed && !s.w.wrote && code != http.StatusSwitchingProtocols {
				writeInterim(s.w, code, http.Header(h))
			}
			return nil
		},
	})
}

func (s *interimSink) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
