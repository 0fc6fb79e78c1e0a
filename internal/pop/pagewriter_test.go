package pop

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The writer a custom error page goes through: a 200 goes out with the
// page's status, anything else is refused and leaves the viewer's header as
// it was, a HEAD gets no body, interim responses pass.
func TestPageWriter(t *testing.T) {
	tests := []struct {
		name       string
		head       bool
		code       int // what the page's response says
		wantStatus int // what the viewer gets (0: nothing)
		wantBody   string
		refused    bool
	}{
		{"200 becomes the page's status", false, http.StatusOK, http.StatusServiceUnavailable, "page", false},
		{"HEAD: status, no body", true, http.StatusOK, http.StatusServiceUnavailable, "", false},
		{"a 404 page is refused", false, http.StatusNotFound, 0, "", true},
		{"a 304 page is refused", false, http.StatusNotModified, 0, "", true},
		{"a 206 page is refused", true, http.StatusPartialContent, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			viewer := &responseWriter{ResponseWriter: rec}
			viewer.Header().Set("Allow", "GET") // set before the page: kept on a refusal
			pw := &pageWriter{w: viewer, status: http.StatusServiceUnavailable, head: tc.head, saved: viewer.Header().Clone()}
			sub := &responseWriter{ResponseWriter: pw}
			sub.Header().Set("Content-Type", "text/html")
			sub.Header().Set("X-Cache", "Miss from strata")
			sub.WriteHeader(tc.code)
			_, err := sub.Write([]byte("page"))
			if pw.refused != tc.refused {
				t.Fatalf("refused %v", pw.refused)
			}
			if tc.refused {
				if !errors.Is(err, errPageUnavailable) || viewer.wrote || rec.Body.Len() != 0 {
					t.Fatalf("a refused page went out: err %v, wrote %v, body %q", err, viewer.wrote, rec.Body)
				}
				if h := viewer.Header(); len(h) != 1 || h.Get("Allow") != "GET" {
					t.Fatalf("the header was not put back: %v", h)
				}
				return
			}
			if err != nil || rec.Code != tc.wantStatus || viewer.status != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Fatalf("err %v, status %d (logged %d), body %q", err, rec.Code, viewer.status, rec.Body)
			}
			if rec.Header().Get("Content-Type") != "text/html" || viewer.bytes != int64(len(tc.wantBody)) {
				t.Fatalf("header %v, %d bytes counted", rec.Header(), viewer.bytes)
			}
		})
	}
}

// An interim response from the page's origin reaches the viewer; the page
// is still served after it.
func TestPageWriterInterim(t *testing.T) {
	rec := &codeRecorder{ResponseWriter: httptest.NewRecorder()}
	viewer := &responseWriter{ResponseWriter: rec}
	pw := &pageWriter{w: viewer, status: http.StatusNotFound, saved: http.Header{}}
	sub := &responseWriter{ResponseWriter: pw}
	writeInterim(sub, http.StatusEarlyHints, http.Header{"Link": {"</a.css>; rel=preload"}})
	if viewer.wrote || pw.wrote {
		t.Fatal("an interim response counted as the final one")
	}
	sub.WriteHeader(http.StatusOK)
	if len(rec.codes) != 2 || rec.codes[0] != http.StatusEarlyHints || rec.codes[1] != http.StatusNotFound || viewer.status != http.StatusNotFound {
		t.Fatalf("statuses %v, logged %d", rec.codes, viewer.status)
	}
}

// codeRecorder records every status written, interim ones too.
type codeRecorder struct {
	http.ResponseWriter
	codes []int
}

func (c *codeRecorder) WriteHeader(code int) { c.codes = append(c.codes, code) }
