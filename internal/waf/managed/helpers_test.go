package managed

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/h1"
)

// inputFrom builds the Input of a request the way a PoP stage does: the
// first limit bytes of the body (read, never more), Host and
// Transfer-Encoding put back beside the headers, the peer's address.
func inputFrom(r *http.Request, limit int) (Input, error) {
	in := Input{
		Method: r.Method,
		URI:    r.RequestURI,
		Proto:  r.Proto,
		Host:   r.Host,
		Header: r.Header.Clone(),
	}
	if len(r.TransferEncoding) > 0 {
		in.Header["Transfer-Encoding"] = r.TransferEncoding
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		in.ClientIP = ap.Addr()
	}
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return in, err
		}
		if len(b) > limit {
			b, in.BodyTruncated = b[:limit], true
		}
		in.Body = b
	}
	return in, nil
}

// wafHandler answers 403 when any of the groups blocks, else 200, and
// lists the rules that matched (all of them, blocking or not) in
// X-Matched-Rules and the blocking groups' detections in X-Blocked-By, and
// writes a ModSecurity-like log line per matched rule as the body.
func wafHandler(t testing.TB, gs ...*Group) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := inputFrom(r, gs[0].Options().BodyLimit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var all, blockedBy []string
		var log strings.Builder
		for _, g := range gs {
			res := g.Evaluate(in)
			for _, m := range res.Matches {
				all = append(all, m.Rule)
				fmt.Fprintf(&log, "[id %q] [msg %q] [data %q] [severity %q]\n", m.Rule, m.Msg, m.Data, m.Severity)
			}
			if res.Blocked {
				for _, m := range res.Detections {
					blockedBy = append(blockedBy, m.Rule)
				}
				if got := g.Inspect(in); len(got) != len(res.Detections) {
					t.Errorf("Inspect returned %d matches, Evaluate %d detections", len(got), len(res.Detections))
				}
			}
		}
		w.Header().Set("X-Matched-Rules", strings.Join(all, " "))
		w.Header().Set("X-Blocked-By", strings.Join(blockedBy, " "))
		if len(blockedBy) > 0 {
			w.WriteHeader(http.StatusForbidden)
		}
		io.WriteString(w, log.String())
	})
}

// serve starts Strata's HTTP/1 server on loopback with h and returns its
// address.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h1.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

func mustNew(t testing.TB, o Options) *Group {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
