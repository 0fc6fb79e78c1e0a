package pop

import "errors"

// logExchange is stage 17.
func (p *PoP) logExchange(ex *exchange) {
	if !p.log.Enabled(ex.r.Context(), -4) && ex.err == nil {
		return
	}
	attrs := []any{"stage", "log", "id", ex.id, "method", ex.r.Method, "host", ex.host, "path", ex.path,
		"status", ex.w.status, "bytes", ex.w.bytes, "x_cache", ex.out.xcacheString(), "cache_status", ex.out.cacheStatus(),
		"seconds", p.now().Sub(ex.start).Seconds(), "client", ex.client}
	if t := ex.ws; t != nil {
		attrs = append(attrs, "bytes_in", t.in.Load(), "ws_end", t.endReason())
	}
	if ex.err != nil && !errors.Is(ex.err, errViewerGone) {
		level, more := p.errorLevel(ex) // viewer errors lower and sampled (viewerlog.go)
		p.log.Log(ex.r.Context(), level, "request", append(append(attrs, "err", ex.err.Error()), more...)...)
		return
	}
	p.log.Debug("request", attrs...)
}
