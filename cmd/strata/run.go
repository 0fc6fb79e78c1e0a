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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/demo"
	"github.com/strata-cdn/strata/internal/pop"
)

type runFlags struct {
	config     string
	origin     string
	listen     string
	defaultTTL time.Duration
	logFormat  string
	logLevel   string
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "configuration file (YAML or JSON)")
	fs.StringVar(&f.origin, "origin", "", "quick mode: cache in front of this origin URL, answering any Host")
	fs.StringVar(&f.listen, "listen", "", "listen address (default 127.0.0.1:8080, or pop.listen from the config)")
	fs.DurationVar(&f.defaultTTL, "default-ttl", 24*time.Hour, "quick mode: TTL when the origin gives none (0: cache only what the origin marks fresh)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error (debug logs every request)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "strata run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "strata run:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runPoP(ctx, f, log, stdout); err != nil {
		fmt.Fprintln(stderr, "strata run:", err)
		return 1
	}
	return 0
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

// runPoP starts one PoP (and the demo origin when there is no config) and
// serves until ctx ends.
func runPoP(ctx context.Context, f runFlags, log *slog.Logger, stdout io.Writer) error {
	var (
		cfg         *config.Config
		defaultDist string
		demoURL     string
		err         error
	)
	switch {
	case f.config != "" && f.origin != "":
		return errors.New("--config and --origin cannot be used together")
	case f.config != "":
		if cfg, err = config.Load(f.config); err != nil {
			return err
		}
	case f.origin != "":
		if cfg, err = quickConfig(f.origin, f.defaultTTL); err != nil {
			return err
		}
		defaultDist = "quick"
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo origin: %w", err)
		}
		srv := &http.Server{Handler: demo.New(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		demoURL = "http://" + ln.Addr().String()
		if cfg, err = demoConfig(demoURL); err != nil {
			return err
		}
		defaultDist = "demo"
	}
	if f.listen != "" {
		cfg.PoP.Listen = f.listen
	}
	p, err := pop.New(cfg, pop.Options{
		ID:                  cfg.PoP.ID,
		MemoryCacheSize:     int64(cfg.PoP.MemoryCacheSize),
		MaxObjectSize:       int64(cfg.PoP.MaxObjectSize),
		DefaultDistribution: defaultDist,
		Logger:              log,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	ln, err := net.Listen("tcp", cfg.PoP.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w (choose another address with --listen)", cfg.PoP.Listen, err)
	}
	srv := newServer(p, cfg, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	printBanner(stdout, p.ID(), base, demoURL, f, cfg)
	log.Info("pop started", "pop", p.ID(), "listen", ln.Addr().String(), "distributions", len(cfg.Distributions))
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func printBanner(w io.Writer, id, base, demoURL string, f runFlags, cfg *config.Config) {
	fmt.Fprintf(w, "Strata PoP %s listening on %s\n", id, base)
	switch {
	case demoURL != "":
		fmt.Fprintf(w, "Demo origin on %s (a small sample site)\n\nTry these (run each twice: X-Cache shows Miss, then Hit):\n", demoURL)
		for _, pg := range demo.Pages {
			fmt.Fprintf(w, "  curl -sI %s%s\n      %s\n", base, pg.Path, pg.Shows)
		}
		fmt.Fprintln(w, "\nStop with Ctrl-C.")
	case f.origin != "":
		fmt.Fprintf(w, "Caching %s for any Host (default TTL %s)\n", f.origin, f.defaultTTL)
	default:
		for _, d := range cfg.Distributions {
			fmt.Fprintf(w, "  distribution %s: %s\n", d.ID, strings.Join(append([]string{d.DomainName}, d.Aliases...), ", "))
		}
	}
}

var allMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}

// quickConfig is one distribution in front of one origin, CloudFront's TTLs,
// every query string in the key, every viewer header but Host forwarded.
func quickConfig(originURL string, defaultTTL time.Duration) (*config.Config, error) {
	ttl := int64(defaultTTL / time.Second)
	maxTTL := max(ttl, 31536000)
	cfg := &config.Config{
		Distributions: []config.Distribution{{
			ID:      "quick",
			Comment: "strata run --origin",
			Origins: []config.Origin{{ID: "origin", URL: originURL}},
			DefaultCacheBehavior: config.CacheBehavior{
				TargetOriginID:        "origin",
				AllowedMethods:        allMethods,
				CachePolicyID:         "quick",
				OriginRequestPolicyID: "Managed-AllViewerExceptHostHeader",
			},
		}},
		CachePolicies: []config.CachePolicy{{
			ID: "quick", MinTTL: 0, DefaultTTL: &ttl, MaxTTL: &maxTTL,
			CacheKey: config.CacheKeyConfig{
				QueryStrings:               config.KeyList{Behavior: "all"},
				EnableAcceptEncodingGzip:   true,
				EnableAcceptEncodingBrotli: true,
			},
		}},
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--origin: %w", err)
	}
	return cfg, nil
}

// demoConfig is the distribution `strata run` serves with no arguments.
func demoConfig(originURL string) (*config.Config, error) {
	cfg, err := quickConfig(originURL, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	d := &cfg.Distributions[0]
	d.ID, d.DomainName, d.Comment = "demo", "demo.strata.localhost", "the built-in demo"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
