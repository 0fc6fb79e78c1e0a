package pop

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/strata-cdn/strata/internal/h1"
)

// Request bodies on their way to an origin (stage 14, pass). An upload is
// bounded by the viewer's pace, not by its length: each read may wait for
// the viewer's next bytes at most Options.RequestBodyTimeout (nginx's
// client_body_timeout), while the origin's read timeout only starts once
// the last byte is sent (internal/origin). A body that fails is the
// viewer's fault, and is reported as such: 408 for a stalled body, 400 for
// a malformed or incomplete one, never a 502 from the origin.

// viewerBody is a viewer's request body as the origin request reads it.
// The origin request may go on reading after the handler returned (the
// transport writes the body on its own goroutine): from then on, close
// makes every Read fail without touching the request or its writer.
type viewerBody struct {
	r    io.Reader
	rc   *http.ResponseController // on the listener's writer, not the pooled exchange's
	idle time.Duration
	// The minimum rate (shield.go): once bodyRateGrace has passed, the
	// body as a whole must have come at minRate bytes/s or more.
	minRate int64
	start   time.Time
	n       int64

	mu     sync.Mutex
	err    error // the first error that is not io.EOF
	closed bool
}

func (p *PoP) newViewerBody(ex *exchange, r io.Reader) *viewerBody {
	return &viewerBody{r: r, rc: http.NewResponseController(ex.rw.ResponseWriter), idle: p.opts.RequestBodyTimeout,
		minRate: p.opts.MinRequestBodyRate, start: time.Now()}
}

var errBodyClosed = errors.New("pop: the request is over")

func (b *viewerBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	// Where the listener cannot bound a read (none of ours), the body
	// waits as long as the viewer's connection lives.
	armed := b.rc.SetReadDeadline(b.deadline(time.Now())) == nil
	b.mu.Unlock()
	n, err := b.r.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	b.mu.Unlock()
	if err != nil {
		b.mu.Lock()
		if armed && !b.closed {
			b.rc.SetReadDeadline(time.Time{}) // the connection's own timeouts from here
		}
		if err != io.EOF && b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// close ends the body's use of the request; the handler is returning.
func (b *viewerBody) close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// failure is the viewer's error that ended the body, or nil: a viewer
// who went away (its request's context ended) mid-body is errViewerGone.
func (b *viewerBody) failure(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	err := b.err
	b.mu.Unlock()
	if err == nil {
		return nil
	}
	e := &Error{Status: http.StatusBadRequest, Source: FromViewer, Reason: "request body incomplete", Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Status, e.Reason = http.StatusRequestTimeout, "request body timed out"
	case errors.Is(err, h1.ErrMalformedBody):
		e.Reason = "malformed request body"
	case ctx.Err() != nil:
		return errViewerGone
	}
	return e
}
