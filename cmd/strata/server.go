package main

import (
	"net/http"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// newServer returns the viewer-facing listener for a PoP handler.
func newServer(h http.Handler, cfg *config.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: time.Duration(cfg.PoP.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(cfg.PoP.IdleTimeout),
		MaxHeaderBytes:    int(cfg.PoP.MaxHeaderBytes),
	}
}
