package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-cdn/strata/internal/config"
)

// cmdControl runs the control plane alone: the REST API, the store on
// NATS JetStream (embedded unless --nats names a cluster). PoPs connect with
// `strata pop --nats`.
func cmdControl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("control", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f controlFlags
	addControlFlags(fs, &f)
	dataDir := fs.String("data-dir", defaultDataDir(), "folder for the embedded NATS store and control.json")
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
	cp, err := startControlPlane(ctx, *dataDir, f, cfg, false, log)
	if err != nil {
		fmt.Fprintln(stderr, "strata control:", err)
		return 1
	}
	defer cp.Close()
	fmt.Fprintf(stdout, "Strata control plane: API on %s, NATS on %s\n", cp.APIURL, cp.NATSURL)
	h := cliHint{path: "/*"}
	if *dataDir != defaultDataDir() {
		h.dataDir = *dataDir
	}
	if cfg != nil && len(cfg.Distributions) > 0 {
		h.dist = cfg.Distributions[0].ID
	}
	printControl(stdout, cp, *dataDir, h)
	<-ctx.Done()
	return 0
}
