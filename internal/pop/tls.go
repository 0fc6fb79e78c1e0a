package pop

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/origin"
	"github.com/strata-cdn/strata/internal/viewertls"
)

// Viewer TLS (stage 1). Each snapshot holds one tls.Config per distribution
// and certificate: the distribution's security policy, its ALPN protocols
// (h2 unless httpVersion leaves it out), and its own certificate for its
// aliases or the PoP's default certificate for its domain name. The
// listener's GetConfigForClient picks one by SNI from the current snapshot,
// so a new snapshot brings new certificates to the next handshake.
//
//   - SNI of a domain name or alias: that distribution's config.
//   - No SNI (an IP address): the first distribution with sslSupportMethod
//     vip, else as for an unknown name.
//   - An unknown name: the default distribution's config when the PoP has
//     one (demo, quick mode), else the default certificate with the default
//     policy; the request then gets 421.

// tlsSet is the TLS side of a snapshot.
type tlsSet struct {
	hosts     map[string]*tls.Config
	wildcards []tlsWildcard // longest suffix first
	unknown   *tls.Config
	noSNI     *tls.Config
}

type tlsWildcard struct {
	suffix string // ".example.com"
	conf   *tls.Config
}

// TLSConfig returns the viewer-facing TLS configuration of the PoP, shared
// by its HTTPS listeners: its GetConfigForClient chooses the certificate,
// security policy and ALPN protocols per SNI from the current snapshot
// (session tickets are encrypted with this config's keys, so they survive
// snapshots). An HTTP/3 listener can use it too, setting its own
// NextProtos on the per-SNI configs (quic-go's http3.ConfigureTLSConfig
// does that).
func (p *PoP) TLSConfig() *tls.Config { return p.tlsBase }

// HTTPVersionOffered reports whether the distribution serving serverName
// (by SNI, as the handshake chooses it) offers the HTTP version: "h2",
// "h3" or "http/1.1". For an HTTP/3 listener that must refuse h3 to
// distributions without it.
func (p *PoP) HTTPVersionOffered(serverName, proto string) bool {
	s := p.snap.Load()
	d := s.lookup(normalizeHost(serverName))
	v := config.HTTPVersion2
	if d != nil {
		v = d.cfg.HTTPVersion
	}
	switch proto {
	case "http/1.1":
		return true
	case "h2":
		return offersHTTP2(v)
	case "h3":
		return offersHTTP3(v)
	}
	return false
}

func offersHTTP2(httpVersion string) bool {
	return httpVersion == "" || httpVersion == config.HTTPVersion2 || httpVersion == config.HTTPVersion2And3
}

func offersHTTP3(httpVersion string) bool {
	return httpVersion == config.HTTPVersion3 || httpVersion == config.HTTPVersion2And3
}

func (p *PoP) newTLSBase() *tls.Config {
	return &tls.Config{
		GetConfigForClient: p.configForClient,
		NextProtos:         []string{"h2", "http/1.1"},
		MinVersion:         tls.VersionTLS12,
	}
}

func (p *PoP) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	t := p.snap.Load().tls
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	var c *tls.Config
	if name == "" {
		c = t.noSNI
	} else if c = t.hosts[name]; c == nil {
		for _, w := range t.wildcards {
			if strings.HasSuffix(name, w.suffix) && len(name) > len(w.suffix) {
				c = w.conf
				break
			}
		}
		if c == nil {
			c = t.unknown
		}
	}
	if c == nil {
		return nil, fmt.Errorf("no certificate for %q", name)
	}
	return c, nil
}

// buildTLS reads the certificates (the default one and the distributions')
// and builds the snapshot's TLS configs. Errors name the field.
func (p *PoP) buildTLS(cfg *config.Config, s *snapshot) error {
	t := &tlsSet{hosts: map[string]*tls.Config{}}
	var def servedCert
	if p.opts.DefaultCertFile != "" {
		c, err := viewertls.LoadKeyPair(p.opts.DefaultCertFile, p.opts.DefaultKeyFile)
		if err != nil {
			return fmt.Errorf("default certificate: %w", err)
		}
		def = p.serve(s, c)
	}
	var fallback *tls.Config
	byCfg := make(map[*config.Distribution]*dist, len(s.all))
	for _, d := range s.all {
		byCfg[d.cfg] = d
	}
	for i := range cfg.Distributions {
		d := byCfg[&cfg.Distributions[i]]
		if d == nil {
			continue // disabled
		}
		own, errs := d.cfg.LoadCertificate(fmt.Sprintf("distributions[%d]", i))
		if errs != nil {
			return errs
		}
		pol, ok := viewertls.PolicyByName(d.cfg.ViewerCertificate.MinimumProtocolVersion)
		if !ok {
			return fmt.Errorf("distributions[%d].viewerCertificate.minimumProtocolVersion: unknown policy %q", i, d.cfg.ViewerCertificate.MinimumProtocolVersion)
		}
		protos := []string{"h2", "http/1.1"}
		if !offersHTTP2(d.cfg.HTTPVersion) {
			protos = []string{"http/1.1"}
		}
		base := viewerConfig(def, pol, protos)
		forAliases := base
		if own != nil {
			forAliases = viewerConfig(p.serve(s, own), pol, protos)
		}
		if base != nil {
			t.hosts[strings.ToLower(d.cfg.DomainName)] = base
		}
		for _, a := range d.cfg.Aliases {
			if forAliases == nil {
				continue
			}
			a = strings.ToLower(a)
			if suffix, ok := strings.CutPrefix(a, "*"); ok {
				t.wildcards = append(t.wildcards, tlsWildcard{suffix: suffix, conf: forAliases})
			} else {
				t.hosts[a] = forAliases
			}
		}
		if d == s.fallback {
			fallback = base
		}
		if t.noSNI == nil && d.cfg.ViewerCertificate.SSLSupportMethod == config.SSLSupportVIP {
			t.noSNI = forAliases
		}
	}
	for i := 1; i < len(t.wildcards); i++ {
		for j := i; j > 0 && len(t.wildcards[j].suffix) > len(t.wildcards[j-1].suffix); j-- {
			t.wildcards[j], t.wildcards[j-1] = t.wildcards[j-1], t.wildcards[j]
		}
	}
	t.unknown = fallback
	if t.unknown == nil {
		pol, _ := viewertls.PolicyByName("")
		t.unknown = viewerConfig(def, pol, []string{"h2", "http/1.1"})
	}
	if t.noSNI == nil {
		t.noSNI = t.unknown
	}
	s.tls = t
	return nil
}

// servedCert is a certificate as served: as it is, or through its OCSP
// stapling, which gives it with the current staple.
type servedCert struct {
	cert    *tls.Certificate
	stapled *viewertls.Stapled
}

// serve staples cert if it can be (its leaf names an OCSP server and its
// file holds the issuer after it); the snapshot keeps the stapling running
// until it is closed, so a certificate that leaves the configuration stops
// being refreshed, and one that stays is not fetched again.
func (p *PoP) serve(s *snapshot, cert *tls.Certificate) servedCert {
	st := p.stapler.Track(cert)
	if st != nil {
		s.staples = append(s.staples, st)
	}
	return servedCert{cert: cert, stapled: st}
}

// viewerConfig is the config served for one certificate and policy (nil
// without a certificate: such handshakes fail). A stapled certificate is
// given by GetCertificate, so each handshake gets the latest staple (a
// tls.Certificate must not change once crypto/tls has it).
func viewerConfig(cert servedCert, pol viewertls.Policy, protos []string) *tls.Config {
	if cert.cert == nil {
		return nil
	}
	c := &tls.Config{NextProtos: protos}
	if cert.stapled != nil {
		c.GetCertificate = cert.stapled.GetCertificate
	} else {
		c.Certificates = []tls.Certificate{*cert.cert}
	}
	pol.Apply(c)
	return c
}

// newStapler fetches OCSP responses from the egress address, if the PoP
// has one, with a 10 s bound on each request.
func newStapler(egress string, log *slog.Logger) *viewertls.Stapler {
	client := &http.Client{Timeout: 10 * time.Second}
	if egress != "" {
		d := &net.Dialer{Timeout: 10 * time.Second}
		origin.BindEgress(d, net.ParseIP(egress))
		client.Transport = &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
	}
	return viewertls.NewStapler(viewertls.StaplerOptions{Client: client, Logger: log})
}
