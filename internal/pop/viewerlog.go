package pop

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Log levels of failed requests (stage 17). An error the viewer caused (a
// Host no distribution serves, a refused signature, geo restriction, a
// malformed request) says nothing about the health of the PoP, and
// scanners send them by the thousand: each is logged at debug, and at most
// one a second at info, with viewer_errors_since_last, the number of viewer
// errors since the last one logged at info. Errors of the origin or of
// Strata itself are logged at warn, every one.

// viewerErrorEvery is how often a viewer error may reach the info level.
const viewerErrorEvery = time.Second

// sampler lets one event a period through and counts the others.
type sampler struct {
	next    atomic.Int64 // unix nanos from which the next event may pass
	dropped atomic.Int64 // events held back since the last that passed
}

// allow reports whether an event at now passes, and how many were held
// back before it.
func (s *sampler) allow(now time.Time, every time.Duration) (bool, int64) {
	n := s.next.Load()
	if now.UnixNano() < n || !s.next.CompareAndSwap(n, now.Add(every).UnixNano()) {
		s.dropped.Add(1)
		return false, 0
	}
	return true, s.dropped.Swap(0)
}

// errorLevel is the level of a failed request's log line, and what to add
// to it.
func (p *PoP) errorLevel(ex *exchange) (slog.Level, []any) {
	var e *Error
	if !errors.As(ex.err, &e) || e.Source != FromViewer {
		return slog.LevelWarn, nil
	}
	if ok, held := p.viewerErrors.allow(p.now(), viewerErrorEvery); ok {
		return slog.LevelInfo, []any{"viewer_errors_since_last", held}
	}
	return slog.LevelDebug, nil
}
