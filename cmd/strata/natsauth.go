package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/devca"
)

// credsDir is the folder of the control plane's data dir where it writes
// the NATS credentials it issues for PoPs and DNS servers.
const credsDir = "nats-creds"

// natsClientFlags say how a process connects to a NATS server it does not
// run: a PoP to the control plane's, or the control plane to a cluster.
type natsClientFlags struct {
	creds string // NATS credentials file
	ca    string // CA of the server's certificate
}

func addNATSClientFlags(fs *flag.FlagSet, f *natsClientFlags, who string) {
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file of "+who)
	fs.StringVar(&f.ca, "nats-ca", "", "CA certificate (PEM) to verify the NATS server's TLS certificate (default: the system's; the control plane's development CA is <its data dir>/tls/ca.pem)")
}

// options are the nats.Connect options of identity role/id with these
// flags. A credentials file of another Strata identity is refused.
func (f natsClientFlags) options(natsURL string, role control.Role, id string, log *slog.Logger) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("strata-" + control.UserName(role, id)),
		nats.CustomInboxPrefix(control.InboxPrefix(role, id)),
	}
	if f.creds != "" {
		b, err := os.ReadFile(f.creds)
		if err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		if r, i, err := control.CredsIdentity(b); err == nil && (r != role || i != id) {
			return nil, fmt.Errorf("--nats-creds %s holds the credentials of %s, not of %s", f.creds, control.UserName(r, i), control.UserName(role, id))
		}
		if fi, err := os.Stat(f.creds); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the NATS credentials file can be read by other users; chmod 600 it", "file", f.creds)
		}
		opts = append(opts, nats.UserCredentials(f.creds))
	} else if !urlHasUser(natsURL) {
		log.Warn("connecting to NATS without credentials (--nats-creds FILE): a server that accepts this lets anyone change the configuration", "nats", natsURL)
	}
	if f.ca != "" {
		if _, err := os.Stat(f.ca); err != nil {
			return nil, fmt.Errorf("--nats-ca: %w", err)
		}
		opts = append(opts, nats.RootCAs(f.ca))
	}
	return append(opts, natsLogging(log)...), nil
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

// natsLogging logs what the server refuses and why a connection dropped or
// cannot be made: without it, a PoP with wrong credentials retries in
// silence. A failure that repeats is logged once a minute.
func natsLogging(log *slog.Logger) []nats.Option {
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

// isLoopback reports whether a listen host is a loopback name or address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// natsServerTLS is the embedded NATS server's TLS configuration: the
// --nats-tls-cert/--nats-tls-key pair, or, when the server listens beyond
// loopback without one, a certificate from the development CA for this
// machine's names and addresses. caFile is that CA (for the PoPs'
// --nats-ca). Nil: loopback only, plain TCP.
func natsServerTLS(dataDir string, f controlFlags, log *slog.Logger) (cfg *tls.Config, caFile string, err error) {
	if (f.natsTLSCert == "") != (f.natsTLSKey == "") {
		return nil, "", errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	host, _, err := net.SplitHostPort(f.natsListen)
	if err != nil {
		return nil, "", fmt.Errorf("--nats-listen %q: %w", f.natsListen, err)
	}
	certFile, keyFile := f.natsTLSCert, f.natsTLSKey
	if certFile == "" {
		if isLoopback(host) {
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

// cmdNATSCreds issues NATS credentials from the control plane's keys.
func cmdNATSCreds(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nats-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", defaultDataDir(), "the control plane's data dir (holds "+control.NATSKeysFile+")")
	out := fs.String("out", "", "file to write (default: <data dir>/"+credsDir+"/<role>-<ID>.creds)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: strata nats-creds pop|dns ID [--data-dir D] [--out FILE]\n       strata nats-creds revoke pop|dns ID [--data-dir D]")
		fs.PrintDefaults()
	}
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	revoke := len(pos) > 0 && pos[0] == "revoke"
	if revoke {
		pos = pos[1:]
	}
	if len(pos) != 2 || (pos[0] != string(control.RolePoP) && pos[0] != string(control.RoleDNS)) || (revoke && *out != "") {
		fs.Usage()
		return 2
	}
	role, id := control.Role(pos[0]), pos[1]
	keys := filepath.Join(*dataDir, control.NATSKeysFile)
	if _, err := os.Stat(keys); err != nil {
		fmt.Fprintf(stderr, "strata nats-creds: no NATS keys in %s: start the control plane (strata control or strata run) with --data-dir %s first\n", *dataDir, *dataDir)
		return 1
	}
	auth, _, err := control.LoadOrCreateNATSAuth(keys)
	if err != nil {
		fmt.Fprintln(stderr, "strata nats-creds:", err)
		return 1
	}
	path := *out
	if path == "" {
		path = filepath.Join(*dataDir, credsDir, control.UserName(role, id)+".creds")
	}
	if revoke {
		if err := auth.Revoke(role, id); err != nil {
			fmt.Fprintln(stderr, "strata nats-creds:", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked the NATS credentials of %s (a running control plane closes its connections within seconds)\n", control.UserName(role, id))
		if err := os.Remove(path); err == nil {
			fmt.Fprintf(stdout, "removed %s\n", path)
		}
		fmt.Fprintf(stdout, "new credentials: strata nats-creds %s %s --data-dir %s\n", role, id, *dataDir)
		return 0
	}
	created, err := auth.WriteCreds(path, role, id)
	if err != nil {
		fmt.Fprintln(stderr, "strata nats-creds:", err)
		return 1
	}
	if !created {
		fmt.Fprintf(stdout, "%s exists; kept as it is\n", path)
		return 0
	}
	fmt.Fprintf(stdout, "NATS credentials of %s: %s\n", control.UserName(role, id), path)
	return 0
}
