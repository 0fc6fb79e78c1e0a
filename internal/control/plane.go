package control

// The control plane composed: NATS (embedded unless external), the store,
// the REST API and the CLI's token file. strata run and strata control
// start it with StartPlane; the PoPs of strata run reach it with
// Plane.AgentOptions.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
)

// CredsDir is the folder of the control plane's data dir where it writes
// the NATS credentials it issues for PoPs and DNS servers.
const CredsDir = "nats-creds"

// LocalFile is the file in the data dir that tells the CLI on this machine
// where the API listens and which token to send.
const LocalFile = "control.json"

// PlaneOptions configure StartPlane. The error messages name the flags of
// strata run and strata control that set each field.
type PlaneOptions struct {
	DataDir string // the embedded NATS store, its keys, the credentials files and LocalFile
	// NATS is an external NATS cluster (nats://host:4222[,…]); "" starts
	// an embedded NATS server with JetStream.
	NATS       string
	NATSClient NATSClient // how to connect to an external NATS
	// NATSListen is the embedded server's client address; beyond loopback
	// it speaks TLS, with NATSTLSCert/NATSTLSKey or else a certificate of
	// the development CA in DataDir/tls.
	NATSListen              string
	NATSTLSCert, NATSTLSKey string
	APIListen               string // the REST API's address
	// Config, if set, is written into the store: with Apply its resources
	// replace those of the same id (strata run); without, it only seeds an
	// empty store, and the PoPs of its topology get credentials files
	// (strata control).
	Config *config.Config
	Apply  bool
	Logger *slog.Logger
}

// NATSClient says how a process connects to a NATS server it does not run:
// a PoP to the control plane's, or the control plane to a cluster.
type NATSClient struct {
	Creds string // NATS credentials file
	CA    string // CA of the server's certificate
}

// Plane is a running control plane.
type Plane struct {
	APIURL   string
	NATSURL  string   // what PoPs connect to
	LocalURL string   // what this process connects to
	NATSCA   string   // the development CA of the embedded server's certificate, if it made one
	NewToken string   // printed once when it was just created
	NewCreds []string // credentials files written for the topology's PoPs at this start

	ns       *server.Server
	auth     *NATSAuth // the embedded server's keys; nil with an external NATS
	nc       *nats.Conn
	srv      *Server
	api      *http.Server
	external NATSClient
	log      *slog.Logger
	stopBg   context.CancelFunc
}

// localControl is LocalFile's content.
type localControl struct {
	API   string `json:"api"`
	Token string `json:"token"`
	NATS  string `json:"nats,omitempty"`
}

// StartPlane starts the control plane. ctx bounds the start only; the
// plane runs until Close.
func StartPlane(parent context.Context, o PlaneOptions) (*Plane, error) {
	// The context bounds start-up only; the server's background work has its own.
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg, dataDir := o.Config, o.DataDir
	cp := &Plane{NATSURL: o.NATS, external: o.NATSClient, log: log}
	fail := func(err error) (*Plane, error) {
		cp.Close()
		return nil, err
	}
	var copts []nats.Option
	if o.NATS == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fail(err)
		}
		// The keys of the NATS accounts: made at the first start, kept.
		auth, created, err := LoadOrCreateNATSAuth(filepath.Join(dataDir, NATSKeysFile))
		if err != nil {
			return fail(err)
		}
		if created {
			log.Info("created the NATS account keys", "file", filepath.Join(dataDir, NATSKeysFile))
		}
		tlsCfg, caFile, err := NATSServerTLS(dataDir, o.NATSListen, o.NATSTLSCert, o.NATSTLSKey, log)
		if err != nil {
			return fail(err)
		}
		ns, err := StartNATS(NATSOptions{StoreDir: filepath.Join(dataDir, "nats"), Listen: o.NATSListen, Logger: log, Auth: auth, TLS: tlsCfg})
		if err != nil {
			return fail(fmt.Errorf("embedded NATS on %s: %w (choose another address with --nats-listen)", o.NATSListen, err))
		}
		cp.ns, cp.auth, cp.NATSCA = ns, auth, caFile
		// Revocations made with strata nats-creds revoke take effect at once.
		bg, stop := context.WithCancel(context.Background())
		cp.stopBg = stop
		go auth.WatchRevocations(bg, ns, 2*time.Second, log)
		cp.NATSURL = advertisedNATSURL(o.NATSListen, ns.ClientURL(), tlsCfg != nil)
		// In the same process: no TCP, no TLS; the credentials still count.
		cp.LocalURL = "nats://" + ns.Addr().String()
		if copts, err = auth.ConnectOptions(RoleControl, ""); err != nil {
			return fail(err)
		}
		copts = append(copts, nats.InProcessServer(ns))
		copts = append(copts, NATSLogging(log)...)
		if cfg != nil && !o.Apply {
			if cp.NewCreds, err = writePoPCreds(dataDir, auth, cfg); err != nil {
				return fail(err)
			}
		}
	} else {
		var err error
		if copts, err = o.NATSClient.Options(o.NATS, RoleControl, "", log); err != nil {
			return fail(err)
		}
		cp.LocalURL = o.NATS
	}
	nc, err := nats.Connect(cp.LocalURL, append(copts, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
	if err != nil {
		return fail(fmt.Errorf("NATS %s: %w", cp.NATSURL, err))
	}
	cp.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	so := Options{JS: js, NC: nc, Logger: log}
	if cfg != nil {
		so.DNSZone = cfg.DNS.Zone // distributions created through the API get a name there
	}
	cp.srv, err = New(ctx, so)
	if err != nil {
		return fail(err)
	}
	switch {
	case cfg != nil && o.Apply:
		if err := cp.srv.Store().Apply(ctx, cfg); err != nil {
			return fail(err)
		}
	case cfg != nil:
		if err := cp.srv.Store().Seed(ctx, cfg); err != nil {
			return fail(fmt.Errorf("seeding the store: %w", err))
		}
	}
	ln, err := net.Listen("tcp", o.APIListen)
	if err != nil {
		return fail(fmt.Errorf("API listen %s: %w (choose another address with --api-listen)", o.APIListen, err))
	}
	cp.APIURL = "http://" + ln.Addr().String()
	cp.api = &http.Server{Handler: cp.srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go cp.api.Serve(ln)
	if err := cp.writeLocal(ctx, dataDir); err != nil {
		return fail(err)
	}
	return cp, nil
}

// writeLocal writes LocalFile: the API's URL and a token for the CLI on
// this machine, created once and kept.
func (cp *Plane) writeLocal(ctx context.Context, dataDir string) error {
	path := filepath.Join(dataDir, LocalFile)
	var local localControl
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &local)
	}
	secret, created, err := cp.srv.EnsureToken(ctx)
	if err != nil {
		return err
	}
	if created {
		local.Token, cp.NewToken = secret, secret
	} else if local.Token == "" {
		if local.Token, err = cp.srv.CreateToken(ctx, "local"); err != nil {
			return err
		}
		cp.NewToken = local.Token
	}
	local.API, local.NATS = cp.APIURL, cp.NATSURL
	b, _ := json.MarshalIndent(local, "", "  ")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// Embedded reports whether the plane runs its own NATS server (PoPs then
// connect with credentials files of its keys).
func (cp *Plane) Embedded() bool { return cp.auth != nil }

// Server is the plane's API server and store.
func (cp *Plane) Server() *Server { return cp.srv }

// Close stops the API, the store and the embedded NATS server.
func (cp *Plane) Close() {
	if cp.stopBg != nil {
		cp.stopBg()
	}
	if cp.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cp.api.Shutdown(ctx)
		cancel()
	}
	if cp.srv != nil {
		cp.srv.Close()
	}
	if cp.nc != nil {
		cp.nc.Close()
	}
	if cp.ns != nil {
		cp.ns.Shutdown()
		cp.ns.WaitForShutdown()
	}
}

// writePoPCreds writes the NATS credentials of each PoP of cfg's topology
// that has none yet into <dataDir>/nats-creds, returning the new files.
func writePoPCreds(dataDir string, auth *NATSAuth, cfg *config.Config) ([]string, error) {
	var out []string
	for _, p := range cfg.Topology.PoPs {
		path := filepath.Join(dataDir, CredsDir, UserName(RolePoP, p.ID)+".creds")
		created, err := auth.WriteCreds(path, RolePoP, p.ID)
		if err != nil {
			return nil, fmt.Errorf("NATS credentials of PoP %s: %w", p.ID, err)
		}
		if created {
			out = append(out, path)
		}
	}
	return out, nil
}

// AgentOptions are the NATS options of the agent of an in-process PoP: its
// own identity on the embedded server, or the control plane's credentials
// on an external NATS. They connect to LocalURL.
func (cp *Plane) AgentOptions(id string) ([]nats.Option, error) {
	if cp.auth == nil {
		opts, err := cp.external.Options(cp.NATSURL, RoleControl, "", cp.log)
		if err != nil {
			return nil, err
		}
		return append(opts, nats.Name("strata-pop-"+id)), nil
	}
	opts, err := cp.auth.ConnectOptions(RolePoP, id)
	if err != nil {
		return nil, err
	}
	return append(append(opts, nats.InProcessServer(cp.ns)), NATSLogging(cp.log)...), nil
}

// Options are the nats.Connect options of identity role/id. A credentials
// file of another Strata identity is refused.
func (f NATSClient) Options(natsURL string, role Role, id string, log *slog.Logger) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("strata-" + UserName(role, id)),
		nats.CustomInboxPrefix(InboxPrefix(role, id)),
	}
	if f.Creds != "" {
		b, err := os.ReadFile(f.Creds)
		if err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		if r, i, err := CredsIdentity(b); err == nil && (r != role || i != id) {
			return nil, fmt.Errorf("--nats-creds %s holds the credentials of %s, not of %s", f.Creds, UserName(r, i), UserName(role, id))
		}
		if fi, err := os.Stat(f.Creds); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the NATS credentials file can be read by other users; chmod 600 it", "file", f.Creds)
		}
		opts = append(opts, nats.UserCredentials(f.Creds))
	} else if !urlHasUser(natsURL) {
		log.Warn("connecting to NATS without credentials (--nats-creds FILE): a server that accepts this lets anyone change the configuration", "nats", natsURL)
	}
	if f.CA != "" {
		if _, err := os.Stat(f.CA); err != nil {
			return nil, fmt.Errorf("--nats-ca: %w", err)
		}
		opts = append(opts, nats.RootCAs(f.CA))
	}
	return append(opts, NATSLogging(log)...), nil
}

// urlHasUser reports whether a NATS URL list carries a user or token.
func urlHasUser(urls string) bool {
	for _, u := range strings.Split(urls, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil && p.User != nil {
			return true
		}
	}
	return false
}

// NATSLogging logs what the server refuses and why a connection dropped or
// cannot be made: without it, a PoP with wrong credentials retries in
// silence. A failure that repeats is logged once a minute.
func NATSLogging(log *slog.Logger) []nats.Option {
	var mu sync.Mutex
	last := map[string]time.Time{}
	report := func(nc *nats.Conn, err error, what string) {
		msg := err.Error()
		mu.Lock()
		now := time.Now()
		if t, ok := last[msg]; ok && now.Sub(t) < time.Minute {
			mu.Unlock()
			return
		}
		last[msg] = now
		mu.Unlock()
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || strings.Contains(strings.ToLower(msg), "authorization") {
			log.Error("NATS refused the credentials (--nats-creds)", "connection", nc.Opts.Name, "err", msg)
			return
		}
		log.Warn(what, "connection", nc.Opts.Name, "err", msg)
	}
	return []nats.Option{
		nats.ErrorHandler(func(nc *nats.Conn, _ *nats.Subscription, err error) {
			report(nc, err, "NATS refused an operation")
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				report(nc, err, "NATS connection lost, reconnecting")
			}
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				report(nc, err, "cannot connect to NATS, retrying")
			}
		}),
	}
}

// IsLoopback reports whether a listen host is a loopback name or address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NATSServerTLS is the embedded NATS server's TLS configuration for the
// client address listen: the certFile/keyFile pair, or, when the server
// listens beyond loopback without one, a certificate from the development
// CA (dataDir/tls) for this machine's names and addresses. caFile is that
// CA (for the PoPs' --nats-ca). Nil: loopback only, plain TCP.
func NATSServerTLS(dataDir, listen, certFile, keyFile string, log *slog.Logger) (cfg *tls.Config, caFile string, err error) {
	if (certFile == "") != (keyFile == "") {
		return nil, "", errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, "", fmt.Errorf("--nats-listen %q: %w", listen, err)
	}
	if certFile == "" {
		if IsLoopback(host) {
			return nil, "", nil
		}
		dir := filepath.Join(dataDir, "tls")
		now := time.Now()
		ca, created, err := devca.Ensure(dir, now)
		if err != nil {
			return nil, "", err
		}
		if created {
			log.Info("created a development CA", "ca", ca.CertFile)
		}
		names := natsNames(host)
		var issued bool
		certFile, keyFile, issued, err = ca.EnsureLeaf(dir, "nats", names, now)
		if err != nil {
			return nil, "", fmt.Errorf("NATS development certificate: %w", err)
		}
		if issued {
			log.Info("issued the NATS server's certificate from the development CA", "names", strings.Join(names, ","), "cert", certFile)
		}
		caFile = ca.CertFile
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("--nats-tls-cert/--nats-tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile, nil
}

// natsNames are the names a development certificate for a NATS server
// listening on host covers: host itself, or, for every address, this
// machine's host name and interface addresses; and loopback.
func natsNames(host string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		names = append(names, host)
	} else {
		if h, err := os.Hostname(); err == nil && h != "" {
			names = append(names, h)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
					names = append(names, n.IP.String())
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// advertisedNATSURL is the URL PoPs on other machines use: the listen
// address, with this machine's host name for an unspecified one.
func advertisedNATSURL(listen, clientURL string, tlsOn bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return clientURL
	}
	if u, err := url.Parse(clientURL); err == nil {
		port = u.Port()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	scheme := "nats://"
	if tlsOn {
		scheme = "tls://"
	}
	return scheme + net.JoinHostPort(host, port)
}
