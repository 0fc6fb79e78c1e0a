package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/strata-cdn/strata/internal/agent"
	"github.com/strata-cdn/strata/internal/cli"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/demo"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/topology"
	"github.com/strata-cdn/strata/internal/world"
)

type runFlags struct {
	config     string
	origin     string
	listen     string
	pops       int
	popPort    int
	httpsPort  int
	dataDir    string
	defaultTTL time.Duration
	logFormat  string
	logLevel   string
	control    controlFlags
	noControl  bool
	portsSet   bool // --listen, --pop-port or --https-port was given
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "configuration file (YAML or JSON)")
	fs.StringVar(&f.origin, "origin", "", "quick mode: cache in front of this origin URL, answering any Host")
	fs.StringVar(&f.listen, "listen", "", "listen address of the single PoP, or the front door of a world (default 127.0.0.1:8080)")
	fs.IntVar(&f.pops, "pops", 0, "demo and quick mode: number of PoPs in the world on loopback (demo default 9, quick mode default 1)")
	fs.IntVar(&f.popPort, "pop-port", 8080, "port of every PoP of a demo or quick-mode world, each on its own 127.0.x.y (0: any free port)")
	fs.IntVar(&f.httpsPort, "https-port", 8443, "demo and quick mode: port of the HTTPS listener beside every PoP's HTTP listener and the front door (0: any free port, the default with --pop-port 0; -1: no HTTPS)")
	fs.StringVar(&f.dataDir, "data-dir", cli.DefaultDataDir(), "folder for network.json, the PoPs' disk caches and the development CA (tls/)")
	fs.DurationVar(&f.defaultTTL, "default-ttl", 24*time.Hour, "quick mode: TTL when the origin gives none (0: cache only what the origin marks fresh)")
	addLogFlags(fs, &f.logFormat, &f.logLevel)
	addControlFlags(fs, &f.control)
	control := fs.Bool("control", true, "run the control plane (API, NATS) in this process; --control=false: PoPs only, with the configuration they start with")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "strata run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	httpsSet := false
	fs.Visit(func(fl *flag.Flag) {
		httpsSet = httpsSet || fl.Name == "https-port"
		f.portsSet = f.portsSet || fl.Name == "https-port" || fl.Name == "pop-port" || fl.Name == "listen"
	})
	if !httpsSet && f.popPort == 0 {
		f.httpsPort = 0
	}
	f.noControl = !*control
	return serveUntilSignal("strata run", stderr, f.logFormat, f.logLevel, func(ctx context.Context, log *slog.Logger) error {
		return runWorld(ctx, f, log, stdout)
	})
}

// serveUntilSignal runs a process subcommand (run, dns) with its logger
// until it returns or the process is interrupted: exit 2 for a bad log
// flag, 1 for an error (printed after name), 0 otherwise.
func serveUntilSignal(name string, stderr io.Writer, logFormat, logLevel string, serve func(context.Context, *slog.Logger) error) int {
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, log); err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

func addLogFlags(fs *flag.FlagSet, format, level *string) {
	fs.StringVar(format, "log-format", "text", "log format: text or json")
	fs.StringVar(level, "log-level", "info", "log level: debug, info, warn or error (debug logs every request)")
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not one of text, json", format)
}

// logWarnings logs, once each, the fields of cfg that are set but not yet
// acted on (config.Config.Warnings); source names where cfg came from.
func logWarnings(log *slog.Logger, source string, cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		log.Warn("configuration field not yet acted on", "source", source, "field", w.Path, "warning", w.Msg)
	}
}

// runWorld starts the PoPs (and the demo origin when there is no config)
// and serves until ctx ends. Every listen address is checked before
// anything is created (CA, token, world); an API token created before a
// later failure is still printed.
func runWorld(ctx context.Context, f runFlags, log *slog.Logger, stdout io.Writer) (err error) {
	m, err := chooseMode(&f, log)
	if err != nil {
		return err
	}
	defer m.stop()
	front, httpsFront, freePorts, err := planListens(m.cfg, &f, log)
	if err != nil {
		return err
	}
	if m.demoURL != "" {
		useDemoGeo(m.cfg, f.dataDir)
	}
	cfg := m.cfg
	// The control plane first: this configuration's distributions and
	// policies are written into its store (those created through the API
	// stay), and the PoPs take their configuration from the store.
	var cp *control.Plane
	if !f.noControl {
		if cp, err = control.StartPlane(ctx, planeOptions(f.dataDir, f.control, cfg, true, log)); err != nil {
			return err
		}
		defer cp.Close()
		defer func() {
			if err != nil && cp.NewToken != "" {
				// It was saved in control.json and is not shown again.
				printToken(stdout, cp, f.dataDir)
			}
		}()
	}
	w, dev, err := startWorld(cfg, m.defaultDist, f.dataDir, httpsFront, log)
	if err != nil {
		return err
	}
	if cp != nil {
		fleet, err := startFleet(ctx, cp, w, cfg, log)
		if err != nil {
			return err
		}
		defer fleet.Close()
	}
	base, httpsBase, err := frontDoor(w, front, httpsFront)
	if err != nil {
		return err
	}
	netFile := writeNetwork(w, f.dataDir, log)
	router, err := startDNS(ctx, cfg, w, cp, f.dataDir, m.demoURL != "", log)
	if err != nil {
		return err
	}
	defer router.Close()
	b := banner{w: w, base: base, httpsBase: httpsBase, demoURL: m.demoURL, netFile: netFile, f: f, cfg: cfg, dev: dev,
		dist: m.defaultDist, freePorts: freePorts, dns: router}
	if b.dist == "" && len(cfg.Distributions) > 0 {
		b.dist = cfg.Distributions[0].ID
	}
	b.print(stdout)
	if cp != nil {
		printControl(stdout, cp, f.dataDir, cliHint{dataDir: f.dataDirFlag(), dist: b.dist, path: b.tryPath()})
	}
	log.Info("strata started", "pops", len(w.Nodes), "listen", base, "distributions", len(cfg.Distributions))
	return serveWorld(ctx, w, log)
}

// runMode is what strata run serves: a configuration file, one origin
// (quick mode) or the demo, with its origin running until stop.
type runMode struct {
	cfg         *config.Config
	defaultDist string // the distribution that answers any Host ("" = none)
	demoURL     string // the demo origin ("" = not the demo)
	stop        func()
}

// chooseMode reads the configuration the flags name, or makes the quick
// mode's or the demo's, filling in f.pops's default.
func chooseMode(f *runFlags, log *slog.Logger) (m runMode, err error) {
	m.stop = func() {}
	switch {
	case f.config != "" && f.origin != "":
		return m, errors.New("--config and --origin cannot be used together")
	case f.config != "":
		if f.pops != 0 {
			return m, errors.New("--pops is for the demo and quick mode; a configuration lists its PoPs under topology.pops")
		}
		if m.cfg, err = config.Load(f.config); err != nil {
			return m, err
		}
		logWarnings(log, f.config, m.cfg)
		return m, nil
	case f.origin != "":
		if m.cfg, err = demo.QuickConfig(f.origin, f.defaultTTL); err != nil {
			return m, err
		}
		m.defaultDist = "quick"
		if f.pops == 0 {
			f.pops = 1
		}
		return m, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return m, fmt.Errorf("demo origin: %w", err)
	}
	srv := &http.Server{Handler: demo.New(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	m.demoURL = "http://" + ln.Addr().String()
	if m.cfg, err = demo.Config(m.demoURL); err != nil {
		srv.Close()
		return m, err
	}
	m.stop = func() { srv.Close() }
	m.defaultDist = "demo"
	if f.pops == 0 {
		f.pops = 9
	}
	return m, nil
}

// planListens lays out the topology of the demo and quick mode and checks
// every listen address. The demo and quick mode on their default ports
// take free ones rather than fail (freePorts), and say so in the banner.
func planListens(cfg *config.Config, f *runFlags, log *slog.Logger) (front, httpsFront string, freePorts bool, err error) {
	if front, httpsFront, err = layOut(cfg, f); err != nil {
		return "", "", false, err
	}
	taken := checkListens(listensOf(cfg, *f, front, httpsFront))
	switch {
	case taken == nil:
		return front, httpsFront, false, nil
	case f.config != "" || !viewerPortsOnly(taken):
		return "", "", false, taken
	case f.portsSet && f.pops > 1:
		return "", "", false, fmt.Errorf("%w; or --pop-port 0 for free ports", taken)
	case f.portsSet:
		return "", "", false, fmt.Errorf("%w; or --listen 127.0.0.1:0 --https-port 0 for free ports", taken)
	}
	log.Info("the default ports are taken; every PoP and the front door listen on free ports", "taken", taken.Error())
	f.popPort, f.httpsPort, f.listen = 0, 0, "127.0.0.1:0"
	if front, httpsFront, err = layOut(cfg, f); err != nil {
		return "", "", false, err
	}
	if taken := checkListens(listensOf(cfg, *f, front, httpsFront)); taken != nil {
		return "", "", false, taken
	}
	return front, httpsFront, true, nil
}

// useDemoGeo gives the demo a test geo database: viewers from 127.1.x.x
// are in the US, 127.2.x.x in Germany, … (geo.LoopbackTestRanges), for
// trying geo features.
func useDemoGeo(cfg *config.Config, dataDir string) {
	geoPath := filepath.Join(dataDir, "demo-geo.mmdb")
	if err := os.MkdirAll(dataDir, 0o755); err == nil && geo.WriteTestDB(geoPath, geo.LoopbackTestRanges()) == nil {
		cfg.PoP.GeoDatabase = geoPath
	}
}

// startWorld starts the PoPs of cfg; HTTPS with the development CA's
// certificate unless the configuration brings its own.
func startWorld(cfg *config.Config, defaultDist, dataDir, httpsFront string, log *slog.Logger) (*world.World, *world.DevTLS, error) {
	var extra []string
	if httpsFront != "" {
		extra = append(extra, httpsFront)
	}
	dev, err := world.EnsureDevTLS(dataDir, cfg, extra, log)
	if err != nil {
		return nil, nil, err
	}
	wo := world.Options{Config: cfg, DefaultDistribution: defaultDist, DataDir: dataDir, Logger: log, SetMemoryLimit: true}
	wo.UseDevTLS(dev)
	w, err := world.Start(wo)
	return w, dev, err
}

// startFleet links the PoPs of w to the control plane and waits until
// they have its configuration; on failure it closes w.
func startFleet(ctx context.Context, cp *control.Plane, w *world.World, cfg *config.Config, log *slog.Logger) (*agent.Fleet, error) {
	fleet, err := agent.StartAll(ctx, cp.LocalURL, cp.AgentOptions, w, cfg, log)
	if err != nil {
		w.Close()
		return nil, err
	}
	if err := fleet.WaitReady(ctx, 30*time.Second); err != nil {
		fleet.Close()
		w.Close()
		return nil, err
	}
	return fleet, nil
}

// frontDoor serves the first edge on the front door's addresses too, if
// there is one, and returns where viewers go: the front door, else the
// first edge (regional PoPs serve their child PoPs only). On failure it
// closes w.
func frontDoor(w *world.World, front, httpsFront string) (base, httpsBase string, err error) {
	base, httpsBase = w.Nodes[0].URL, w.Nodes[0].HTTPSURL
	edges := w.Edges()
	if len(edges) > 0 {
		base, httpsBase = edges[0].URL, edges[0].HTTPSURL
	}
	if front == "" {
		return base, httpsBase, nil
	}
	if len(edges) == 0 {
		w.Close()
		return "", "", errors.New("the topology has no edge PoP to serve the front door")
	}
	httpsAt := ""
	if edges[0].HTTPSURL != "" {
		httpsAt = httpsFront
	}
	if base, httpsBase, err = w.AddListeners(edges[0], front, httpsAt); err != nil {
		w.Close()
		return "", "", withFlag(err)
	}
	return base, httpsBase, nil
}

// writeNetwork writes <dataDir>/network.json and returns its path ("" when
// it could not).
func writeNetwork(w *world.World, dataDir string, log *slog.Logger) string {
	netFile := filepath.Join(dataDir, "network.json")
	if err := w.WriteNetwork(netFile); err != nil {
		log.Warn("cannot write network.json", "path", netFile, "err", err)
		return ""
	}
	return netFile
}

// serveWorld serves until ctx ends, then shuts w down; a listener that
// fails ends it at once.
func serveWorld(ctx context.Context, w *world.World, log *slog.Logger) error {
	select {
	case <-ctx.Done():
	case err := <-w.Err():
		w.Close()
		return err
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.Shutdown(sctx)
}

// layOut fills in the topology of the demo and quick mode (the PoPs on
// loopback, their HTTPS beside) and returns the front door's addresses
// ("" when the single PoP is the front door, or a configured world has
// none).
func layOut(cfg *config.Config, f *runFlags) (front, httpsFront string, err error) {
	front = f.listen
	if front == "" {
		front = "127.0.0.1:8080"
	}
	switch {
	case f.pops > 1:
		specs, err := topology.DemoN(f.pops, f.popPort)
		if err != nil {
			return "", "", fmt.Errorf("--pops %d: %w", f.pops, err)
		}
		cfg.Topology.PoPs = world.Specs(specs)
		if f.httpsPort >= 0 {
			for i := range cfg.Topology.PoPs {
				p := &cfg.Topology.PoPs[i]
				p.HTTPSListen = besidePort(p.Listen, f.httpsPort)
			}
		}
		if err := cfg.Validate(); err != nil {
			return "", "", err
		}
	case len(cfg.Topology.PoPs) == 0:
		if f.listen != "" || f.config == "" {
			cfg.PoP.Listen = front // else the file's pop.listen
		}
		if f.config == "" && f.httpsPort >= 0 {
			cfg.PoP.HTTPSListen = besidePort(front, f.httpsPort)
		}
		return "", "", nil // the single PoP is the front door
	case f.listen == "":
		return "", "", nil // a configured world has no front door unless asked for
	}
	if f.httpsPort >= 0 && (f.config == "" || len(world.HTTPSListens(cfg)) > 0) {
		httpsFront = besidePort(front, f.httpsPort)
	}
	return front, httpsFront, nil
}

// banner is what strata run prints once it serves.
type banner struct {
	w                *world.World
	base, httpsBase  string
	demoURL, netFile string
	f                runFlags
	cfg              *config.Config
	dev              *world.DevTLS
	dist             string // the distribution the examples use ("" = none)
	freePorts        bool
	dns              *dnsRouter // nil: no DNS router
}

func (b banner) print(out io.Writer) {
	w := b.w
	if len(w.Nodes) == 1 {
		fmt.Fprintf(out, "Strata PoP %s listening on %s\n", w.Nodes[0].ID, b.base)
	} else {
		fmt.Fprintf(out, "Strata: %d PoPs on loopback; front door (edge %s) listening on %s\n\n", len(w.Nodes), w.Edges()[0].ID, b.base)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  POP\tTIER\tREGION\tPARENT\tURL\tHTTPS")
		for _, n := range w.Nodes {
			parent := n.Parent
			if parent == "" {
				parent = "origin"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Tier, n.Region, parent, n.URL, n.HTTPSURL)
		}
		tw.Flush()
		if b.netFile != "" {
			fmt.Fprintf(out, "\nThe same list as JSON: %s\n", b.netFile)
		}
		fmt.Fprintln(out)
	}
	if b.freePorts {
		fmt.Fprintln(out, "The default ports (8080, 8443) were taken: every PoP and the front door listen on free ports (the addresses above).")
	}
	switch {
	case b.demoURL != "":
		fmt.Fprintf(out, "Demo origin on %s (a small sample site)\n\nTry these (run each twice: X-Cache shows Miss, then Hit):\n", b.demoURL)
		for _, pg := range demo.Pages {
			fmt.Fprintf(out, "  curl -sI %s%s\n      %s\n", b.base, pg.Path, pg.Shows)
		}
		if len(w.Edges()) > 1 {
			// An edge beside the front door's, under the same regional cache:
			// after the front door's miss, that cache has the object.
			e := w.Edges()
			other, note := e[len(e)-1], "another region's edge: a miss there, and at its regional cache"
			for _, n := range e[1:] {
				if n.Parent != "" && n.Parent == e[0].Parent {
					other, note = n, "another edge: a miss there, served by the regional cache "+n.Parent
					break
				}
			}
			fmt.Fprintf(out, "\nEvery edge serves too; X-Strata-Served-By says which tier had the object:\n  curl -sI %s/hello.txt    # %s\n", other.URL, note)
		}
		b.printHTTPS(out)
		b.dns.print(out, b.cfg, true)
		fmt.Fprintln(out, "\nStop with Ctrl-C.")
	case b.f.origin != "":
		fmt.Fprintf(out, "Caching %s for any Host (default TTL %s)\n", b.f.origin, b.f.defaultTTL)
		b.printHTTPS(out)
	default:
		for _, d := range b.cfg.Distributions {
			fmt.Fprintf(out, "  distribution %s: %s\n", d.ID, strings.Join(append([]string{d.DomainName}, d.Aliases...), ", "))
		}
		b.printHTTPS(out)
		b.dns.print(out, b.cfg, false)
	}
}

// tryPath is the path the examples use.
func (b banner) tryPath() string {
	if b.demoURL != "" {
		return "/hello.txt"
	}
	return "/*"
}

// printHTTPS tells where HTTPS is served, which CA to trust, and a curl
// command that does.
func (b banner) printHTTPS(out io.Writer) {
	if b.httpsBase == "" {
		return
	}
	fmt.Fprintf(out, "\nHTTPS (HTTP/3, HTTP/2 and HTTP/1.1) on %s\n", b.httpsBase)
	name := "localhost"
	if len(b.cfg.Distributions) > 0 {
		name = b.cfg.Distributions[0].DomainName
	}
	u, err := url.Parse(b.httpsBase)
	if err != nil {
		return
	}
	cmd := "curl -sI"
	if b.dev != nil {
		fmt.Fprintf(out, "Development CA (trust it once; see the README): %s\n", b.dev.CAFile)
		printDevAliases(out, b.dev)
		cmd += " --cacert " + b.dev.CAFile
	}
	if !strings.HasSuffix(name, ".localhost") || u.Hostname() != "127.0.0.1" {
		cmd += " --resolve " + name + ":" + u.Port() + ":" + u.Hostname()
	}
	path := "/"
	if b.demoURL != "" {
		path = "/hello.txt"
	}
	fmt.Fprintf(out, "  %s https://%s%s\n", cmd, net.JoinHostPort(name, u.Port()), path)
}

// printDevAliases says which aliases the development certificate covers,
// and that it is for development only.
func printDevAliases(out io.Writer, dev *world.DevTLS) {
	if len(dev.Aliases) > 0 {
		fmt.Fprintf(out, "Its development certificate also covers the aliases %s (development only: give those distributions a viewerCertificate for real viewers)\n", strings.Join(dev.Aliases, ", "))
	}
}

// cliHint is what the CLI examples of the banner need to work as printed.
type cliHint struct {
	dataDir string // --data-dir to pass ("" = the default)
	dist    string // a distribution to invalidate in ("" = none)
	path    string
}

func printControl(out io.Writer, cp *control.Plane, dataDir string, h cliHint) {
	fmt.Fprintf(out, "\nControl plane API on %s, NATS on %s\n", cp.APIURL, cp.NATSURL)
	printToken(out, cp, dataDir)
	dd := ""
	if h.dataDir != "" {
		dd = " --data-dir " + shellQuote(h.dataDir)
	}
	try := []string{"strata status" + dd, "strata dist list" + dd}
	if h.dist != "" {
		try = append(try, "strata invalidate "+shellQuote(h.dist)+" "+shellQuote(h.path)+" --wait"+dd)
	}
	fmt.Fprintln(out, "Try: "+strings.Join(try, "; "))
}

// printToken shows the API token created by this start (once).
func printToken(out io.Writer, cp *control.Plane, dataDir string) {
	if cp.NewToken != "" {
		fmt.Fprintf(out, "API token (shown once; also saved for the CLI in %s):\n  %s\n",
			filepath.Join(dataDir, control.LocalFile), cp.NewToken)
	}
}

// dataDirFlag is the --data-dir the CLI needs to find this run's
// control.json ("" when it is the default).
func (f runFlags) dataDirFlag() string {
	if f.dataDir == cli.DefaultDataDir() {
		return ""
	}
	return f.dataDir
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
