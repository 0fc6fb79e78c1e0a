// Package listener is stage 1 of a PoP's pipeline: the sockets viewers
// connect to. Plain HTTP and HTTP/1.1 over TLS are served by internal/h1;
// a TLS connection that negotiated h2 (ALPN) is handed by h1, after the
// handshake and within the same ReadHeaderTimeout, to golang.org/x/net/http2
// with the same handler, over a connection that gathers its writes
// (batchConn). The TLS configuration is the PoP's
// (pop.PoP.TLSConfig): certificate, security policy and ALPN protocols per
// SNI, read from the current configuration snapshot at each handshake.
//
// HTTP/3 (quic-go) is served on the HTTPS port over UDP with the same TLS
// configuration, for the names whose distribution offers it (Options.HTTP3).
// A QUIC handshake for any other name is refused with the TLS alert
// no_application_protocol (h3 is not offered for that name), not an
// internal_error, and a log line says why.
//
// # DDoS defence at the connection level
//
// Always on, with defaults (limit.go, batch.go, h1.Server.WriteTimeout):
// open TCP connections are bounded per client address and per Server; a
// connection over a limit is closed at accept, before its TLS handshake,
// and the accept loop goes on. Every write to a viewer, HTTP/1 or HTTP/2,
// has a progress deadline per step (WriteTimeout per h1.WriteChunk), so a
// client that reads too slowly is cut while a slow but steady one is
// served. Request heads have ReadHeaderTimeout (handshake included), idle
// keep-alive connections IdleTimeout. An HTTP/2 connection that resets
// streams far faster than it completes them is closed (rapidreset.go).
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
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
	// WriteTimeout is the progress deadline of the writes to a viewer
	// (h1.Server.WriteTimeout), over HTTP/1 and HTTP/2 alike; zero:
	// h1.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConnsPerAddr and MaxConns bound the open TCP connections from one
	// client address and in total, across the Server's listeners; a
	// connection over either is closed at accept (no TLS handshake, no
	// read), counted and logged at most once a second, and the listener
	// goes on serving the others. Zero: DefaultMaxConnsPerAddr,
	// DefaultMaxConns.
	MaxConnsPerAddr int
	MaxConns        int
	// NewConnsPerAddr is the rate of new TCP connections one client address
	// may open, per second (a burst of twice as many is allowed); over it a
	// connection is closed at accept as over MaxConnsPerAddr. Zero:
	// DefaultNewConnsPerAddr.
	NewConnsPerAddr int
	// ExemptAddr, if set, says whether connections from an address count
	// towards neither limit (the PoP's own peers: a child PoP's hops to
	// its parent come from a few addresses and must not be limited as a
	// viewer would be).
	ExemptAddr func(netip.Addr) bool
	Logger     *slog.Logger
	// OnError is h1's: requests its parser refuses, heads that time out.
	OnError func(remote net.Addr, status int, reason string)
	// HTTP3, if set, says whether the distribution of a TLS server name
	// offers HTTP/3; a QUIC handshake for any other name is refused. Nil:
	// every name.
	HTTP3 func(serverName string) bool
}

// Server serves one handler on any number of plain and TLS listeners.
type Server struct {
	h1    *h1.Server
	h2    *http2.Server
	hs    *http.Server // the settings and graceful shutdown of HTTP/2 connections; never serves itself
	h3    *http3.Server
	h3TLS *tls.Config // the TLS configuration of ServeQUIC's listeners
	tls   *tls.Config
	limit *connLimiter
}

// New returns a Server; it serves nothing until Serve or ServeTLS.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = h1.DefaultWriteTimeout
	}
	s := &Server{tls: o.TLSConfig, limit: newConnLimiter(o.MaxConnsPerAddr, o.MaxConns, o.NewConnsPerAddr, o.ExemptAddr, o.Logger)}
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
		WriteTimeout:      o.WriteTimeout,
		Logger:            o.Logger,
		OnError:           o.OnError,
		TLSNextProto: map[string]func(context.Context, *tls.Conn){
			http2.NextProtoTLS: func(ctx context.Context, c *tls.Conn) {
				// Its writes are gathered (batch.go): one record and one
				// system call for what is ready, not two per response;
				// each step has WriteTimeout to be taken.
				// Its streams go through a resetGuard (rapidreset.go).
				bc := newBatchConn(c, o.WriteTimeout)
				g := &resetGuard{h: o.Handler, conn: bc, log: o.Logger, remote: c.RemoteAddr().String()}
				s.h2.ServeConn(bc, &http2.ServeConnOpts{Context: ctx, BaseConfig: s.hs, Handler: g})
			},
		},
	}
	// Shutdown sends GOAWAY on the HTTP/2 connections (http2.ConfigureServer
	// registered it on hs); h1.Shutdown then waits for them to finish.
	s.h1.RegisterOnShutdown(func() { s.hs.Shutdown(context.Background()) })
	if o.TLSConfig != nil {
		s.h3 = &http3.Server{
			Handler:        o.Handler,
			MaxHeaderBytes: o.MaxHeaderBytes,
			IdleTimeout:    o.IdleTimeout,
			Logger:         o.Logger,
		}
		s.h3TLS = h3TLSConfig(o.TLSConfig, o.HTTP3, o.Logger)
	}
	return s, nil
}

// h3TLSConfig is the TLS configuration of the HTTP/3 listeners: the
// per-SNI configuration with ALPN h3 for the names that offer HTTP/3. For
// the others the handshake gets a configuration whose only protocol is
// one no client asks for, so crypto/tls refuses it with the alert
// no_application_protocol (an error from GetConfigForClient would be an
// internal_error), and the refusal is logged with the reason.
func h3TLSConfig(base *tls.Config, offered func(string) bool, log *slog.Logger) *tls.Config {
	choose := base.GetConfigForClient
	if choose == nil {
		choose = func(*tls.ClientHelloInfo) (*tls.Config, error) { return base, nil }
	}
	c := http3.ConfigureTLSConfig(&tls.Config{
		MinVersion:         tls.VersionTLS13, // QUIC is TLS 1.3 only
		GetConfigForClient: choose,
	})
	perName := c.GetConfigForClient // sets ALPN h3 on what base chooses
	refuse := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{"strata-h3-not-offered"}}
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if offered != nil && !offered(hello.ServerName) {
			client := ""
			if hello.Conn != nil {
				client = hello.Conn.RemoteAddr().String()
			}
			log.Info("HTTP/3 handshake refused: the distribution of this server name does not offer HTTP/3 (its httpVersion); TLS alert no_application_protocol",
				"stage", "listener", "sni", hello.ServerName, "client", client)
			return refuse, nil
		}
		return perName(hello)
	}
	return c
}

// Serve serves plain HTTP/1.x on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.h1.Serve(&limitListener{Listener: ln, l: s.limit})
}

// ServeTLS serves HTTPS on ln (a plain TCP listener): HTTP/2 or HTTP/1.1 as
// ALPN decides.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.tls == nil {
		ln.Close()
		return errors.New("listener: ServeTLS without a TLS configuration")
	}
	return s.h1.Serve(tls.NewListener(&limitListener{Listener: ln, l: s.limit}, s.tls))
}

// ServeQUIC serves HTTP/3 on pc (a UDP socket, normally on the HTTPS
// port), with the TLS configuration of ServeTLS.
func (s *Server) ServeQUIC(pc net.PacketConn) error {
	if s.h3 == nil {
		pc.Close()
		return errors.New("listener: ServeQUIC without a TLS configuration")
	}
	ln, err := quic.ListenEarly(pc, s.h3TLS, &quic.Config{Allow0RTT: true}) // http3.Server.Serve's defaults
	if err != nil {
		return err
	}
	// The server does not close a listener it was given; closing it (as
	// the server closes its own at Shutdown) lets accepted connections
	// finish.
	defer ln.Close()
	return s.h3.ServeListener(ln)
}

// Refused is the number of connections refused at accept so far for
// being over MaxConnsPerAddr or MaxConns.
func (s *Server) Refused() int64 { return s.limit.refused.Load() }

// Shutdown stops accepting, asks HTTP/2 and HTTP/3 connections to finish
// (GOAWAY), closes idle HTTP/1 connections and waits for the others until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.h3 != nil {
		go s.h3.Shutdown(ctx)
	}
	return s.h1.Shutdown(ctx)
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	if s.h3 != nil {
		s.h3.Close()
	}
	return s.h1.Close()
}
