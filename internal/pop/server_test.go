package pop

import (
	"net"
	"net/http"
	"time"
)

func newViewerServer(h http.Handler) interface {
	Serve(ln net.Listener) error
	Close() error
} {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
}
