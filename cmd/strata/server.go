package main

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/h1"
)

// newServer returns the viewer-facing listener for a PoP handler: Strata's
// strict HTTP/1.1 server.
func newServer(h http.Handler, cfg *config.Config, log *slog.Logger) *h1.Server {
	return &h1.Server{
		Handler:           h,
		MaxHeaderBytes:    int(cfg.PoP.MaxHeaderBytes),
		ReadHeaderTimeout: time.Duration(cfg.PoP.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(cfg.PoP.IdleTimeout),
		Logger:            log,
		OnError: func(remote net.Addr, status int, reason string) {
			log.Debug("request refused", "stage", "listener", "client", remote.String(), "status", status, "reason", reason)
		},
	}
}
