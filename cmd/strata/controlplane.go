package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
	"github.com/strata-cdn/strata/internal/world"
)

// controlFlags are the flags of the processes that run the control plane.
type controlFlags struct {
	nats        string // external NATS URL(s); "" = embedded
	natsClient  natsClientFlags
	natsListen  string // embedded NATS client address
	natsTLSCert string // embedded NATS server's certificate
	natsTLSKey  string
	apiListen   string // REST API address
}

func addControlFlags(fs *flag.FlagSet, f *controlFlags) {
	fs.StringVar(&f.nats, "nats", "", "external NATS cluster, nats://host:4222[,nats://…] (default: an embedded NATS server with JetStream in the data dir)")
	addNATSClientFlags(fs, &f.natsClient, "the control plane, for an external --nats")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server (0.0.0.0:4222 lets PoPs on other machines connect, over TLS)")
	fs.StringVar(&f.natsTLSCert, "nats-tls-cert", "", "certificate (PEM) of the embedded NATS server (default beyond loopback: one from the development CA in <data dir>/tls)")
	fs.StringVar(&f.natsTLSKey, "nats-tls-key", "", "private key (PEM) of --nats-tls-cert")
	fs.StringVar(&f.apiListen, "api-listen", "127.0.0.1:8081", "address of the control plane's REST API")
}

// localControl is what `strata run` leaves in the data dir for the CLI.
type localControl struct {
	API   string `json:"api"`
	Token string `json:"token"`
	NATS  string `json:"nats,omitempty"`
}

// controlPlane is NATS (embedded unless external), the store and the API.
type controlPlane struct {
	ns       *server.Server
	auth     *control.NATSAuth // the embedded server's keys; nil with an external NATS
	nc       *nats.Conn
	srv      *control.Server
	api      *http.Server
	APIURL   string
	NATSURL  string   // what PoPs connect to
	localURL string   // what this process connects to
	NATSCA   string   // the development CA of the embedded server's certificate, if it made one
	NewToken string   // printed once when it was just created
	NewCreds []string // credentials files written for the topology's PoPs at this start
	external natsClientFlags
	log      *slog.Logger
	stopBg   context.CancelFunc
}

// startControlPlane starts the control plane. With apply, cfg's resources
// are written into the store (replacing those of the same id: strata run);
// without, cfg only seeds an empty store (strata control).
func startControlPlane(parent context.Context, dataDir string, f controlFlags, cfg *config.Config, apply bool, log *slog.Logger) (*controlPlane, error) {
	// The context bounds start-up only; the server's background work has its own.
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	cp := &controlPlane{NATSURL: f.nats, external: f.natsClient, log: log}
	fail := func(err error) (*controlPlane, error) {
		cp.Close()
		return nil, err
	}
	var copts []nats.Option
	if f.nats == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fail(err)
		}
		// The keys of the NATS accounts: made at the first start, kept.
		auth, created, err := control.LoadOrCreateNATSAuth(filepath.Join(dataDir, control.NATSKeysFile))
		if err != nil {
			return fail(err)
		}
		if created {
			log.Info("created the NATS account keys", "file", filepath.Join(dataDir, control.NATSKeysFile))
		}
		tlsCfg, caFile, err := natsServerTLS(dataDir, f, log)
		if err != nil {
			return fail(err)
		}
		ns, err := control.StartNATS(control.NATSOptions{StoreDir: filepath.Join(dataDir, "nats"), Listen: f.natsListen, Logger: log, Auth: auth, TLS: tlsCfg})
		if err != nil {
			return fail(fmt.Errorf("embedded NATS on %s: %w (choose another address with --nats-listen)", f.natsListen, err))
		}
		cp.ns, cp.auth, cp.NATSCA = ns, auth, caFile
		// Revocations made with strata nats-creds revoke take effect at once.
		bg, stop := context.WithCancel(context.Background())
		cp.stopBg = stop
		go auth.WatchRevocations(bg, ns, 2*time.Second, log)
		cp.NATSURL = advertisedNATSURL(f.natsListen, ns.ClientURL(), tlsCfg != nil)
		// In the same process: no TCP, no TLS; the credentials still count.
		cp.localURL = "nats://" + ns.Addr().String()
		if copts, err = auth.ConnectOptions(control.RoleControl, ""); err != nil {
			return fail(err)
		}
		copts = append(copts, nats.InProcessServer(ns))
		copts = append(copts, natsLogging(log)...)
		if cfg != nil && !apply {
			if cp.NewCreds, err = writePoPCreds(dataDir, auth, cfg); err != nil {
				return fail(err)
			}
		}
	} else {
		var err error
		if copts, err = f.natsClient.options(f.nats, control.RoleControl, "", log); err != nil {
			return fail(err)
		}
		cp.localURL = f.nats
	}
	nc, err := nats.Connect(cp.localURL, append(copts, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
	if err != nil {
		return fail(fmt.Errorf("NATS %s: %w", cp.NATSURL, err))
	}
	cp.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	copt := control.Options{JS: js, NC: nc, Logger: log}
	if cfg != nil {
		copt.DNSZone = cfg.DNS.Zone // distributions created through the API get a name there
	}
	cp.srv, err = control.New(ctx, copt)
	if err != nil {
		return fail(err)
	}
	switch {
	case cfg != nil && apply:
		if err := cp.srv.Store().Apply(ctx, cfg); err != nil {
			return fail(err)
		}
	case cfg != nil:
		if err := cp.srv.Store().Seed(ctx, cfg); err != nil {
			return fail(fmt.Errorf("seeding the store: %w", err))
		}
	}
	ln, err := net.Listen("tcp", f.apiListen)
	if err != nil {
		return fail(fmt.Errorf("API listen %s: %w (choose another address with --api-listen)", f.apiListen, err))
	}
	cp.APIURL = "http://" + ln.Addr().String()
	cp.api = &http.Server{Handler: cp.srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go cp.api.Serve(ln)

	// A token for the CLI on this machine: created once, kept in the data dir.
	path := filepath.Join(dataDir, "control.json")
	var local localControl
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &local)
	}
	secret, created, err := cp.srv.EnsureToken(ctx)
	if err != nil {
		return fail(err)
	}
	if created {
		local.Token, cp.NewToken = secret, secret
	} else if local.Token == "" {
		if local.Token, err = cp.srv.CreateToken(ctx, "local"); err != nil {
			return fail(err)
		}
		cp.NewToken = local.Token
	}
	local.API, local.NATS = cp.APIURL, cp.NATSURL
	b, _ := json.MarshalIndent(local, "", "  ")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fail(err)
	}
	return cp, nil
}

// Close stops the API, the store and the embedded NATS server.
func (cp *controlPlane) Close() {
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
func writePoPCreds(dataDir string, auth *control.NATSAuth, cfg *config.Config) ([]string, error) {
	var out []string
	for _, p := range cfg.Topology.PoPs {
		path := filepath.Join(dataDir, credsDir, control.UserName(control.RolePoP, p.ID)+".creds")
		created, err := auth.WriteCreds(path, control.RolePoP, p.ID)
		if err != nil {
			return nil, fmt.Errorf("NATS credentials of PoP %s: %w", p.ID, err)
		}
		if created {
			out = append(out, path)
		}
	}
	return out, nil
}

// agentOptions are the NATS options of the agent of an in-process PoP: its
// own identity on the embedded server, or the control plane's credentials
// on an external NATS.
func (cp *controlPlane) agentOptions(id string) ([]nats.Option, error) {
	if cp.auth == nil {
		opts, err := cp.external.options(cp.NATSURL, control.RoleControl, "", cp.log)
		if err != nil {
			return nil, err
		}
		return append(opts, nats.Name("strata-pop-"+id)), nil
	}
	opts, err := cp.auth.ConnectOptions(control.RolePoP, id)
	if err != nil {
		return nil, err
	}
	return append(append(opts, nats.InProcessServer(cp.ns)), natsLogging(cp.log)...), nil
}

// agents links every PoP of a world to the control plane, each over its
// own NATS connection.
type agents struct {
	list []*agent.Agent
	ncs  []*nats.Conn
}

// startAgents connects each PoP of w to NATS at natsURL with the options
// opts(PoP id) returns.
func startAgents(ctx context.Context, natsURL string, opts func(id string) ([]nats.Option, error), w *world.World, base *config.Config, log *slog.Logger) (*agents, error) {
	as := &agents{}
	for _, n := range w.Nodes {
		o, err := opts(n.ID)
		if err != nil {
			as.Close()
			return nil, fmt.Errorf("PoP %s: %w", n.ID, err)
		}
		nc, err := nats.Connect(natsURL, append(o, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
			nats.RetryOnFailedConnect(true))...)
		if err != nil {
			as.Close()
			return nil, fmt.Errorf("PoP %s: NATS %s: %w", n.ID, natsURL, err)
		}
		as.ncs = append(as.ncs, nc)
		a, err := agent.Start(ctx, agent.Options{NC: nc, PoP: n.PoP, Base: base, Logger: log,
			Info: wire.Heartbeat{PoP: n.ID, Tier: n.Tier, Location: n.Location, Region: n.Region, URL: n.URL, Egress: n.Egress}})
		if err != nil {
			as.Close()
			return nil, err
		}
		as.list = append(as.list, a)
	}
	return as, nil
}

// waitReady waits until every agent applied the store's configuration.
func (as *agents) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for _, a := range as.list {
		select {
		case <-a.Ready():
		case <-ctx.Done():
			return errors.New("PoPs did not receive the configuration from the control plane in time")
		}
	}
	return nil
}

func (as *agents) Close() {
	for _, a := range as.list {
		a.Close()
	}
	for _, nc := range as.ncs {
		nc.Close()
	}
}
