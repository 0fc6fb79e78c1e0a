package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/strata-cdn/strata/internal/cli"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
)

// printPoPAccess tells how PoPs on other machines connect: the URL, the CA,
// the credentials files (their paths: never their content).
func printPoPAccess(out io.Writer, cp *control.Plane, f controlFlags, dataDir string) {
	if !cp.Embedded() {
		return
	}
	fmt.Fprintln(out, "\nPoPs connect to NATS with their own credentials:")
	ca := ""
	switch {
	case cp.NATSCA != "":
		ca = " --nats-ca " + cp.NATSCA
	case f.natsTLSCert != "":
		ca = " --nats-ca <the CA of --nats-tls-cert>"
	}
	fmt.Fprintf(out, "  strata pop --id ID --config F --nats %s --nats-creds pop-ID.creds%s\n", cp.NATSURL, ca)
	for _, c := range cp.NewCreds {
		fmt.Fprintf(out, "  created %s (copy it to its PoP's machine, mode 0600)\n", c)
	}
	fmt.Fprintf(out, "  more: strata nats-creds pop ID --data-dir %s (writes %s)\n", dataDir, filepath.Join(dataDir, control.CredsDir, "pop-ID.creds"))
	if host, _, err := net.SplitHostPort(f.natsListen); err == nil && control.IsLoopback(host) {
		fmt.Fprintln(out, "  NATS listens on loopback: for PoPs on other machines, --nats-listen 0.0.0.0:4222 (TLS)")
	}
}

// cmdControl runs the control plane alone: the REST API, the store on
// NATS JetStream (embedded unless --nats names a cluster). PoPs connect with
// `strata pop --nats`.
func cmdControl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("control", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f controlFlags
	addControlFlags(fs, &f)
	dataDir := fs.String("data-dir", cli.DefaultDataDir(), "folder for the embedded NATS store and control.json")
	seed := fs.String("config", "", "configuration whose distributions and policies seed an empty store")
	var logFormat, logLevel string
	addLogFlags(fs, &logFormat, &logLevel)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "strata control:", err)
		return 2
	}
	var cfg *config.Config
	if *seed != "" {
		if cfg, err = config.Load(*seed); err != nil {
			fmt.Fprintln(stderr, "strata control:", err)
			return 1
		}
		logWarnings(log, *seed, cfg)
	}
	if taken := checkListens(controlListens(f)); taken != nil {
		fmt.Fprintln(stderr, "strata control:", taken)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cp, err := control.StartPlane(ctx, planeOptions(*dataDir, f, cfg, false, log))
	if err != nil {
		fmt.Fprintln(stderr, "strata control:", err)
		return 1
	}
	defer cp.Close()
	fmt.Fprintf(stdout, "Strata control plane: API on %s, NATS on %s\n", cp.APIURL, cp.NATSURL)
	h := cliHint{path: "/*"}
	if *dataDir != cli.DefaultDataDir() {
		h.dataDir = *dataDir
	}
	if cfg != nil && len(cfg.Distributions) > 0 {
		h.dist = cfg.Distributions[0].ID
	}
	printControl(stdout, cp, *dataDir, h)
	printPoPAccess(stdout, cp, f, *dataDir)
	<-ctx.Done()
	return 0
}
