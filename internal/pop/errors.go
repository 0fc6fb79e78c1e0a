package pop

import (
	"errors"
	"fmt"
	"net/http"
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
var errViewerGone = errors.New("pop: viewer went away")
