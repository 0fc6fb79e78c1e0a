package main

import (
	"flag"
	"log/slog"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
)

// controlFlags are the flags of the processes that run the control plane.
type controlFlags struct {
	nats        string // external NATS URL(s); "" = embedded
	natsClient  control.NATSClient
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

// addNATSClientFlags adds --nats-creds and --nats-ca, how who connects to
// a NATS server it does not run.
func addNATSClientFlags(fs *flag.FlagSet, f *control.NATSClient, who string) {
	fs.StringVar(&f.Creds, "nats-creds", "", "NATS credentials file of "+who)
	fs.StringVar(&f.CA, "nats-ca", "", "CA certificate (PEM) to verify the NATS server's TLS certificate (default: the system's; the control plane's development CA is <its data dir>/tls/ca.pem)")
}

// planeOptions are the control plane's options from the flags.
func planeOptions(dataDir string, f controlFlags, cfg *config.Config, apply bool, log *slog.Logger) control.PlaneOptions {
	return control.PlaneOptions{DataDir: dataDir, NATS: f.nats, NATSClient: f.natsClient, NATSListen: f.natsListen,
		NATSTLSCert: f.natsTLSCert, NATSTLSKey: f.natsTLSKey, APIListen: f.apiListen, Config: cfg, Apply: apply, Logger: log}
}
