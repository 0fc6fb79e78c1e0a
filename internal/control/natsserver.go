package control

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures the embedded NATS server.
type NATSOptions struct {
	// StoreDir is where JetStream keeps its file store; it persists across
	// restarts. Required.
	StoreDir string
	// Listen is the client address, host:port. Port -1 or 0 picks a free
	// port (read it back with ClientURL). Default "127.0.0.1:4222".
	Listen string
	// Logger receives the server's log: notices at debug level, warnings
	// and errors at theirs. Default: discarded.
	Logger *slog.Logger
	// Auth holds the account keys: every client must present a user JWT
	// the Strata account signed (NATSAuth.Creds). Required.
	Auth *NATSAuth
	// TLS, if set, is the server's TLS configuration: clients must use
	// TLS (across machines). Nil: plain TCP (for loopback).
	TLS *tls.Config
}

// natsReadyTimeout bounds how long StartNATS waits for the server to accept
// connections.
const natsReadyTimeout = 10 * time.Second

// StartNATS starts an embedded NATS server with JetStream and waits until it
// accepts connections. Its client URL is srv.ClientURL(). The caller owns
// the server: stop it with Shutdown (and WaitForShutdown). The server
// installs no signal handlers and writes nothing to standard output.
func StartNATS(opts NATSOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("control: nats: a store directory is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("control: nats: account keys (Auth) are required")
	}
	sysPub, sysJWT, accPub, accJWT, err := opts.Auth.accountJWTs()
	if err != nil {
		return nil, fmt.Errorf("control: nats: %w", err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(sysPub, sysJWT); err != nil {
		return nil, fmt.Errorf("control: nats: %w", err)
	}
	if err := resolver.Store(accPub, accJWT); err != nil {
		return nil, fmt.Errorf("control: nats: %w", err)
	}
	if err := adoptGlobalStore(opts.StoreDir, accPub); err != nil {
		return nil, fmt.Errorf("control: nats: %w", err)
	}
	opPub, _ := opts.Auth.operator.PublicKey()
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("control: nats: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("control: nats: listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT // for nats-server, 0 means its default port 4222
	}
	if host == "" {
		host = "0.0.0.0"
	}

	sopts := &server.Options{
		ServerName:            "strata-control",
		Host:                  host,
		Port:                  port,
		NoLog:                 true,
		NoSigs:                true,
		MaxControlLine:        16 << 10, // a CONNECT carries the user JWT: a PoP id of 128 characters needs more than 4 KiB
		DisableShortFirstPing: true,
		JetStream:             true,
		StoreDir:              opts.StoreDir,
		TrustedKeys:           []string{opPub},
		AccountResolver:       resolver,
		SystemAccount:         sysPub,
	}
	if opts.TLS != nil {
		sopts.TLSConfig = opts.TLS
		sopts.TLS = true
		sopts.TLSTimeout = 5
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("control: nats: %w", err)
	}
	log := &natsLogger{log: opts.Logger}
	if log.log == nil {
		log.log = slog.New(slog.DiscardHandler)
	}
	log.log = log.log.With("stage", "nats")
	srv.SetLoggerV2(log, false, false, false)

	go srv.Start()
	deadline := time.Now().Add(natsReadyTimeout)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if msg := log.fatal(); msg != "" || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			if msg == "" {
				msg = "not ready for connections after " + natsReadyTimeout.String()
			}
			return nil, fmt.Errorf("control: nats: %s", msg)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		msg := log.fatal()
		if msg == "" {
			msg = "JetStream did not start"
		}
		return nil, fmt.Errorf("control: nats: %s", msg)
	}
	return srv, nil
}

// adoptGlobalStore moves a JetStream store made before NATS had accounts
// (that of NATS's global account, $G) to the Strata account, so that an
// upgraded control plane keeps its configuration.
func adoptGlobalStore(storeDir, account string) error {
	old := filepath.Join(storeDir, "jetstream", "$G")
	dst := filepath.Join(storeDir, "jetstream", account)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	return os.Rename(old, dst)
}

// natsLogger routes the NATS server's log to slog. A fatal message does not
// exit the process: it is kept for StartNATS to report.
type natsLogger struct {
	log *slog.Logger

	mu       sync.Mutex
	fatalMsg string
}

var _ server.Logger = (*natsLogger)(nil)

func (l *natsLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalMsg
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  {}

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	l.mu.Lock()
	if l.fatalMsg == "" {
		l.fatalMsg = msg
	}
	l.mu.Unlock()
}
