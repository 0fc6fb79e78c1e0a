// Package listener is stage 1 of a PoP's pipeline: the sockets viewers
// connect to. Plain HTTP and HTTP/1.1 over TLS are served by internal/h1;
// a TLS connection that negotiated h2 (ALPN) is handed by h1, after the
// handshake and within the same ReadHeaderTimeout, to golang.org/x/net/http2
// with the same handler. The TLS configuration is the PoP's
// (pop.PoP.TLSConfig): certificate, security policy and ALPN protocols per
// SNI, read from the current configuration snapshot at each handshake.
//
// An HTTP/3 listener belongs here too, on the HTTPS port over UDP, with the
// same TLS configuration.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"

	"github.com/strata-cdn/strata/internal/h1"
)

// Options configure a Server. Zero values are h1's defaults.
type Options struct {
	Handler           http.Handler
	TLSConfig         *tls.Config // for ServeTLS; its GetConfigForClient may choose per SNI
	MaxHeaderBytes    int         // request head (h1) or header list (h2) bound
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	Logger            *slog.Logger
	// OnError is h1's: requests its parser refuses, heads that time out.
	OnError func(remote net.Addr, status int, reason string)
}

// Server serves one handler on any number of plain and TLS listeners.
type Server struct {
	h1  *h1.Server
	h2  *http2.Server
	hs  *http.Server // the settings and graceful shutdown of HTTP/2 connections; never serves itself
	tls *tls.Config
}

// New returns a Server; it serves nothing until Serve or ServeTLS.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{tls: o.TLSConfig}
	s.hs = &http.Server{
		Handler:        o.Handler,
		MaxHeaderBytes: o.MaxHeaderBytes,
		IdleTimeout:    o.IdleTimeout,
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	s.h2 = &http2.Server{IdleTimeout: o.IdleTimeout}
	if err := http2.ConfigureServer(s.hs, s.h2); err != nil {
		return nil, err
	}
	s.h1 = &h1.Server{
		Handler:           o.Handler,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		Logger:            o.Logger,
		OnError:           o.OnError,
		TLSNextProto: map[string]func(context.Context, *tls.Conn){
			http2.NextProtoTLS: func(ctx context.Context, c *tls.Conn) {
				s.h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, BaseConfig: s.hs, Handler: o.Handler})
			},
		},
	}
	// Shutdown sends GOAWAY on the HTTP/2 connections (http2.ConfigureServer
	// registered it on hs); h1.Shutdown then waits for them to finish.
	s.h1.RegisterOnShutdown(func() { s.hs.Shutdown(context.Background()) })
	return s, nil
}

// Serve serves plain HTTP/1.x on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error { return s.h1.Serve(ln) }

// ServeTLS serves HTTPS on ln (a plain TCP listener): HTTP/2 or HTTP/1.1 as
// ALPN decides.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.tls == nil {
		ln.Close()
		return errors.New("listener: ServeTLS without a TLS configuration")
	}
	return s.h1.Serve(tls.NewListener(ln, s.tls))
}

// Shutdown stops accepting, asks HTTP/2 connections to finish (GOAWAY),
// closes idle HTTP/1 connections and waits for the others until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.h1.Shutdown(ctx) }

// Close closes the listeners and every connection at once.
func (s *Server) Close() error { return s.h1.Close() }
