package pop

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WebSocket (RFC 6455) through the PoP.
//
// A handshake (GET, HTTP/1.1, Upgrade: websocket, Connection: upgrade) is
// never cached. It takes the pass path: straight to the origin, through the
// behavior's origin group like every request that is not cached, never
// through the parent tiers (CloudFront, too, connects WebSockets from the
// edge to the origin). forwardHeader restores Upgrade and Connection, which
// are otherwise hop-by-hop, and forwards the Sec-WebSocket-* fields with the
// other end-to-end fields.
//
//  1. The origin answers 101: the viewer gets a 101 with the origin's fields
//     (Sec-WebSocket-Accept, -Protocol, -Extensions, cookies), the listener
//     hands over the connection (Hijack, with the bytes it already read),
//     and bytes are copied both ways. Strata reads no frames: subprotocols
//     and extensions (permessage-deflate) are between viewer and origin.
//  2. Any other answer is an ordinary response (pass); an origin that
//     cannot be reached is a 502 like for any request.
//
// The tunnel ends when a side closes or fails, or when no byte moved either
// way for Options.WebSocketIdleTimeout. A side that closes cleanly (EOF) is
// half-closed towards the other, which then has wsCloseGrace to finish (the
// close handshake: a close frame one way, its echo the other way); an error
// closes both at once.

// wsCloseGrace is how long the other side may still send after one side
// closed cleanly.
const wsCloseGrace = 5 * time.Second

// websocket checks a WebSocket handshake and sends it on (stage 14).
func (p *PoP) websocket(ex *exchange) error {
	r := ex.r
	switch {
	case r.Method != http.MethodGet:
		return viewerError(http.StatusBadRequest, "a WebSocket handshake must be a GET")
	case r.ProtoMajor != 1 || r.ProtoMinor != 1:
		return viewerError(http.StatusBadRequest, "WebSocket needs HTTP/1.1")
	case !connectionListed(r.Header)["Upgrade"]:
		return viewerError(http.StatusBadRequest, "Upgrade is not listed in Connection")
	case hijacker(ex.w) == nil:
		return &Error{Status: http.StatusNotImplemented, Source: FromStrata, Reason: "WebSocket is not served on this listener"}
	}
	return p.pass(ex)
}

// hijacker finds the listener's http.Hijacker under w's wrappers.
func hijacker(w http.ResponseWriter) http.Hijacker {
	for {
		if h, ok := w.(http.Hijacker); ok {
			return h
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// tunnel answers the viewer's handshake with the origin's 101 and copies
// bytes both ways until the WebSocket ends. It returns when both
// connections are closed.
func (p *PoP) tunnel(ex *exchange, resp *http.Response, failover string) error {
	up, ok := resp.Body.(io.ReadWriteCloser)
	hj := hijacker(ex.w)
	if !ok || hj == nil || !isUpgrade(ex.r) || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		resp.Body.Close()
		return &Error{Status: http.StatusBadGateway, Source: FromOrigin, Reason: "origin switched to a protocol that was not asked for"}
	}
	h := ex.w.Header()
	for k, vv := range cleanResponseHeader(resp.Header) {
		h[k] = vv
	}
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{"websocket"}
	ex.decide(outcome{kind: decPass, status: http.StatusSwitchingProtocols, fwdStatus: http.StatusSwitchingProtocols,
		failover: failover, up: ex.out.up})
	p.stampHeaders(ex, h)
	ex.w.WriteHeader(http.StatusSwitchingProtocols)
	conn, brw, err := hj.Hijack() // writes the 101 and flushes it
	if err != nil {
		up.Close()
		return errViewerGone
	}
	ex.rw.wrote, ex.rw.status = true, http.StatusSwitchingProtocols
	conn.SetDeadline(time.Time{})
	// What the viewer sent right behind its handshake may already be in the
	// listener's buffer.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		early = append([]byte(nil), b...)
	}
	t := &tunnel{viewer: conn, origin: up}
	ex.ws = t
	p.runTunnel(t, early)
	ex.rw.bytes = t.out.Load()
	return nil
}

// tunnel is one open WebSocket: the viewer's connection and the origin's.
type tunnel struct {
	viewer  net.Conn
	origin  io.ReadWriteCloser
	last    atomic.Int64 // nanoseconds since wsEpoch when a byte last moved
	in, out atomic.Int64 // bytes viewer→origin, origin→viewer
	once    sync.Once
	mu      sync.Mutex
	end     string // why it ended, for the log
}

var wsEpoch = time.Now()

func (t *tunnel) touch() { t.last.Store(int64(time.Since(wsEpoch))) }

func (t *tunnel) idleFor() time.Duration {
	return time.Since(wsEpoch) - time.Duration(t.last.Load())
}

func (t *tunnel) setEnd(why string) {
	t.mu.Lock()
	if t.end == "" {
		t.end = why
	}
	t.mu.Unlock()
}

func (t *tunnel) endReason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.end
}

// finish closes both connections (once), which ends both copies.
func (t *tunnel) finish(why string) {
	t.setEnd(why)
	t.once.Do(func() {
		t.viewer.Close()
		t.origin.Close()
	})
}

var wsBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pump copies src to dst until a read or a write fails; a read error of
// io.EOF is a clean close of the side read from.
func (t *tunnel) pump(dst io.Writer, src io.Reader, n *atomic.Int64) (rerr, werr error) {
	bp := wsBufPool.Get().(*[]byte)
	defer wsBufPool.Put(bp)
	buf := *bp
	for {
		m, err := src.Read(buf)
		if m > 0 {
			t.touch()
			if _, werr = dst.Write(buf[:m]); werr != nil {
				return nil, werr
			}
			n.Add(int64(m))
		}
		if err != nil {
			return err, nil
		}
	}
}

type closeWriter interface{ CloseWrite() error }

// runTunnel copies both ways until the WebSocket ends.
func (p *PoP) runTunnel(t *tunnel, early []byte) {
	t.touch()
	if !p.tunnels.add(t) {
		t.finish("shutdown")
		return
	}
	defer p.tunnels.remove(t)
	type result struct {
		from       string // the side read from: "viewer" or "origin"
		rerr, werr error
	}
	done := make(chan result, 2)
	go func() {
		var rerr, werr error
		if len(early) > 0 {
			if _, werr = t.origin.Write(early); werr == nil {
				t.in.Add(int64(len(early)))
			}
		}
		if werr == nil {
			rerr, werr = t.pump(t.origin, t.viewer, &t.in)
		}
		done <- result{"viewer", rerr, werr}
	}()
	go func() {
		rerr, werr := t.pump(t.viewer, t.origin, &t.out)
		done <- result{"origin", rerr, werr}
	}()

	idle := p.opts.WebSocketIdleTimeout
	timer := time.NewTimer(idle)
	defer timer.Stop()
	var grace <-chan time.Time
	for pending := 2; pending > 0; {
		select {
		case r := <-done:
			pending--
			if pending == 0 {
				break
			}
			other := "origin"
			var dst any = t.origin
			if r.from == "origin" {
				other, dst = "viewer", t.viewer
			}
			switch {
			case r.werr != nil:
				t.finish(other + "-error")
			case r.rerr == io.EOF:
				// A clean close: pass it on as a half-close and let the
				// other side finish (it wrote nothing to dst any more: the
				// copy that wrote to it has just ended).
				t.setEnd(r.from + "-closed")
				cw, ok := dst.(closeWriter)
				if !ok || cw.CloseWrite() != nil {
					t.finish("")
					break
				}
				grace = time.After(min(wsCloseGrace, idle))
			default: // the first reason stays: a close here fails the copies too
				t.finish(r.from + "-error")
			}
		case <-timer.C:
			if d := idle - t.idleFor(); d > 0 {
				timer.Reset(d)
				continue
			}
			t.finish("idle")
		case <-grace:
			t.finish("")
		}
	}
	t.finish("")
}

// tunnelSet holds the open WebSockets of a PoP, so that Close ends them.
type tunnelSet struct {
	mu     sync.Mutex
	m      map[*tunnel]struct{}
	closed bool
}

func (s *tunnelSet) add(t *tunnel) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = map[*tunnel]struct{}{}
	}
	s.m[t] = struct{}{}
	return true
}

func (s *tunnelSet) remove(t *tunnel) {
	s.mu.Lock()
	delete(s.m, t)
	s.mu.Unlock()
}

func (s *tunnelSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *tunnelSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	all := make([]*tunnel, 0, len(s.m))
	for t := range s.m {
		all = append(all, t)
	}
	s.mu.Unlock()
	for _, t := range all {
		t.finish("shutdown")
	}
}
