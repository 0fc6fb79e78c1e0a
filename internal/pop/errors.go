package pop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/strata-cdn/strata/internal/origin"
)

// Source says who caused an error.
type Source string

const (
	FromViewer Source = "viewer"
	FromOrigin Source = "origin"
	FromStrata Source = "strata"
)

// Error is the one error type stages return; only the pipeline renders it.
type Error struct {
	Status int
	Source Source
	Retry  bool   // a retry of the same request may succeed
	Reason string // short, safe to show to the viewer
	Header http.Header
	Err    error // detail for logs, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s error %d: %s: %v", e.Source, e.Status, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s error %d: %s", e.Source, e.Status, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func viewerError(status int, reason string) *Error {
	return &Error{Status: status, Source: FromViewer, Reason: reason}
}

// errViewerGone ends a request whose viewer left; nothing is rendered.
// errAnswered is what a stage returns when it answered the request itself
// (the stage contract, pipeline.go): not a failure, nothing is rendered.
var errAnswered = errors.New("pop: answered by a stage")

var errViewerGone = errors.New("pop: viewer went away")

// renderError is the one error path: it writes an error response, or aborts
// the response if its headers already went out.
func (p *PoP) renderError(ex *exchange, err error) {
	ex.err = err
	if errors.Is(err, errViewerGone) {
		return
	}
	if ex.w.wrote && !ex.w.rewind() {
		panic(http.ErrAbortHandler)
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Source: FromStrata, Reason: "internal error", Err: err}
	}
	if ex.dist != nil && p.serveErrorPage(ex, e.Status) {
		return
	}
	h := ex.w.Header()
	clear(h)
	for k, vv := range e.Header {
		h[k] = vv
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	ex.decide(outcome{kind: decError, source: e.Source, up: ex.out.up})
	p.stampHeaders(ex, h)
	msg := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Reason + "\nrequest id: " + ex.id + "\n"
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	ex.w.WriteHeader(e.Status)
	if ex.r.Method != http.MethodHead {
		ex.w.Write([]byte(msg))
	}
}

func originFailure(err error) *Error {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e // refused before the origin (shield.go)
	}
	var oe *origin.Error
	e := &Error{Status: http.StatusBadGateway, Source: FromOrigin, Retry: true, Reason: "origin unreachable", Err: err}
	if errors.As(err, &oe) {
		switch {
		case oe.Timeout:
			e.Status, e.Reason = http.StatusGatewayTimeout, "origin timed out"
		case oe.Connect:
			e.Reason = "origin connection failed"
		case errors.Is(err, origin.ErrTransferCoding):
			e.Reason = "origin used a transfer coding other than chunked"
		default:
			e.Reason = "origin request failed"
		}
	} else if errors.Is(err, context.DeadlineExceeded) {
		e.Status, e.Reason = http.StatusGatewayTimeout, "origin timed out"
	}
	return e
}
