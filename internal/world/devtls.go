package world

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/devca"
)

// DevTLS is the development CA and the default certificate it issued.
type DevTLS struct {
	CAFile            string
	CertFile, KeyFile string
	Aliases           []string // distributions' aliases it covers (development only)
}

// HTTPSListens lists the HTTPS addresses the configuration asks for.
func HTTPSListens(cfg *config.Config) []string {
	var out []string
	if len(cfg.Topology.PoPs) == 0 {
		if cfg.PoP.HTTPSListen != "" {
			out = append(out, cfg.PoP.HTTPSListen)
		}
		return out
	}
	for _, p := range cfg.Topology.PoPs {
		if p.HTTPSListen != "" {
			out = append(out, p.HTTPSListen)
		}
	}
	return out
}

// EnsureDevTLS makes sure <dataDir>/tls holds the development CA and a
// default certificate for the names a local PoP answers: localhost and the
// loopback addresses, *.localhost and *.strata.localhost, the
// distributions' domain names, the aliases of distributions without a
// viewerCertificate of their own, and the hosts of the HTTPS listeners and
// of extra (so a child PoP can verify an https:// parent by its address).
// It returns nil when nothing listens for HTTPS or pop.tlsCertificateFile
// is set.
func EnsureDevTLS(dataDir string, cfg *config.Config, extra []string, log *slog.Logger) (*DevTLS, error) {
	listens := append(HTTPSListens(cfg), extra...)
	if len(listens) == 0 || cfg.PoP.TLSCertificateFile != "" {
		return nil, nil
	}
	dir := filepath.Join(dataDir, "tls")
	now := time.Now()
	ca, created, err := devca.Ensure(dir, now)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a development CA; trust it to use HTTPS without warnings", "ca", ca.CertFile)
	}
	names := []string{"localhost", "127.0.0.1", "::1", "*.localhost", "*" + config.DefaultDomainSuffix}
	var aliases []string
	for _, d := range cfg.Distributions {
		names = append(names, d.DomainName)
		if d.ViewerCertificate.CertificateFile == "" {
			// Development only: a real viewer does not trust this CA.
			aliases = append(aliases, d.Aliases...)
		}
	}
	slices.Sort(aliases)
	aliases = slices.Compact(aliases)
	names = append(names, aliases...)
	for _, l := range listens {
		if host, _, err := net.SplitHostPort(l); err == nil && host != "" {
			if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
				names = append(names, host)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	certFile, keyFile, issued, err := ca.EnsureLeaf(dir, "default", names, now)
	if err != nil {
		return nil, fmt.Errorf("development certificate: %w", err)
	}
	if issued {
		log.Info("issued the default certificate from the development CA", "names", strings.Join(names, ","), "cert", certFile)
	}
	return &DevTLS{CAFile: ca.CertFile, CertFile: certFile, KeyFile: keyFile, Aliases: aliases}, nil
}

// UseDevTLS makes dev's certificate the PoPs' default one, and its CA the
// one a child verifies an https:// parent with unless topology.caBundle
// names others. A nil dev changes nothing.
func (o *Options) UseDevTLS(dev *DevTLS) {
	if dev == nil {
		return
	}
	o.DefaultCertFile, o.DefaultKeyFile = dev.CertFile, dev.KeyFile
	if o.Config.Topology.CABundle == "" {
		o.TierCABundle = dev.CAFile
	}
}
