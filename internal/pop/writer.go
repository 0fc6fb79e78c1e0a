package pop

import (
	"io"
	"net/http"
)

// responseWriter records what went out, for the error path and the log.
type responseWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote, w.status = true, code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote, w.status = true, http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom passes a file body through to the listener's writer, which can
// hand it to the connection (sendfile).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wrote {
		w.wrote, w.status = true, http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// rewind takes back a response of which nothing reached the viewer yet
// (the listener still holds its head back), so that an error can be sent
// instead; it reports whether it could (HTTP/1.1 only).
func (w *responseWriter) rewind() bool {
	r, ok := w.ResponseWriter.(interface{ Rewind() bool })
	if !w.wrote || !ok || !r.Rewind() {
		return false
	}
	w.wrote, w.status, w.bytes = false, 0, 0
	return true
}

// writerOnly hides every method but Write (no ReadFrom recursion).
type writerOnly struct{ io.Writer }

// bodyWriter is what a stored body is written to: w itself when the
// listener's writer takes a file (HTTP/1.x on a plain TCP connection:
// sendfile), else a view of w without ReadFrom (TLS, HTTP/2 and HTTP/3), so
// that a disk body is copied from its file at once instead of through a
// descriptor reopened for a sendfile that cannot happen.
func (w *responseWriter) bodyWriter(overTLS bool) io.Writer {
	if _, ok := w.ResponseWriter.(io.ReaderFrom); ok && !overTLS {
		return w
	}
	return writeFlusher{w}
}

// writeFlusher is a responseWriter's Write and Flush, nothing else.
type writeFlusher struct{ w *responseWriter }

func (f writeFlusher) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f writeFlusher) Flush()                      { f.w.Flush() }

// Unwrap lets http.ResponseController reach the listener's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
