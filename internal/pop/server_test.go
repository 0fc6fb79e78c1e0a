package pop

import (
	"net"
	"net/http"
	"time"

	"github.com/strata-cdn/strata/internal/h1"
)

// newViewerServer is the listener the binary uses, so PoP tests go through
// the same HTTP/1.1 implementation as viewers do.
func newViewerServer(h http.Handler) interface {
	Serve(ln net.Listener) error
	Close() error
} {
	return &h1.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
}
