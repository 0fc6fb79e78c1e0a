package origin

import (
	"context"
	"crypto/tls"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Timing is how long the parts of one upstream request took, for a
// Server-Timing header. DNS and Connect are zero when a connection was
// reused.
type Timing struct {
	Measured  bool
	DNS       time.Duration // resolving the upstream's name
	Connect   time.Duration // TCP and TLS, after the name was resolved
	FirstByte time.Duration // from the request written to the first response byte
}

// Trace measures one upstream request (net/http/httptrace). The transport
// calls its hooks from several goroutines, so every field is atomic:
// nanoseconds since base, 0 when unset.
type Trace struct {
	base                                   time.Time
	dnsStart, dnsDone, connStart, connDone atomic.Int64
	gotConn, wrote, firstByte              atomic.Int64
	reused                                 atomic.Bool
}

// TraceUpstream returns ctx with a trace when enabled (the behavior's
// response headers policy has Server-Timing on); otherwise ctx and a nil
// Trace, and nothing is measured.
func TraceUpstream(ctx context.Context, enabled bool) (context.Context, *Trace) {
	if !enabled {
		return ctx, nil
	}
	t := &Trace{base: time.Now()}
	mark := func(f *atomic.Int64) { f.Store(int64(time.Since(t.base)) + 1) }
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { mark(&t.dnsStart) },
		DNSDone:  func(httptrace.DNSDoneInfo) { mark(&t.dnsDone) },
		ConnectStart: func(string, string) {
			t.connStart.CompareAndSwap(0, int64(time.Since(t.base))+1)
		},
		ConnectDone:          func(string, string, error) { mark(&t.connDone) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { mark(&t.connDone) },
		GotConn:              func(i httptrace.GotConnInfo) { t.reused.Store(i.Reused); mark(&t.gotConn) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { mark(&t.wrote) },
		GotFirstResponseByte: func() { mark(&t.firstByte) },
	}), t
}

// Result is what was measured; the zero value for a nil trace.
func (t *Trace) Result() Timing {
	if t == nil {
		return Timing{}
	}
	u := Timing{Measured: true}
	span := func(from, to int64) time.Duration {
		if from == 0 || to == 0 || to < from {
			return 0
		}
		return time.Duration(to - from)
	}
	if !t.reused.Load() {
		u.DNS = span(t.dnsStart.Load(), t.dnsDone.Load())
		from := t.dnsDone.Load()
		if from == 0 {
			from = t.connStart.Load()
		}
		u.Connect = span(from, t.connDone.Load())
	}
	from := t.wrote.Load()
	if from == 0 {
		from = t.gotConn.Load()
	}
	u.FirstByte = span(from, t.firstByte.Load())
	return u
}
