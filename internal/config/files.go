package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/viewertls"
)

// Files named by a configuration (certificates, keys, CA bundles, the geo
// database) are read by Load (so by strata validate and strata run) and by
// the PoP when it applies a snapshot, not by Validate: a configuration
// stored by the control plane may name files that exist only on the PoPs'
// machines.

// CheckFiles reads the files the configuration names and checks them: the
// PoP's default certificate and geo database, each distribution's viewer
// certificate (which must cover every alias) and its origins' CA bundles,
// the topology's CA bundle. It returns [Errors] naming the fields, or nil.
func (c *Config) CheckFiles() error {
	if errs := c.checkFiles(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *Config) checkFiles() Errors {
	var errs Errors
	if _, e := c.PoP.DefaultCertificate(); e != nil {
		errs = append(errs, e...)
	}
	if path := c.PoP.GeoDatabase; path != "" {
		if db, err := geo.Open(path); err != nil {
			errs = append(errs, FieldError{Path: "pop.geoDatabase", Msg: err.Error()})
		} else {
			db.Close()
		}
	}
	if path := c.DNS.GeoDatabase; path != "" {
		if db, err := geo.Open(path); err != nil {
			errs = append(errs, FieldError{Path: "dns.geoDatabase", Msg: err.Error()})
		} else {
			db.Close()
		}
	}
	for i := range c.Distributions {
		d := &c.Distributions[i]
		dp := idx("distributions", i)
		if _, e := d.LoadCertificate(dp); e != nil {
			errs = append(errs, e...)
		}
		for j := range d.Origins {
			if co := d.Origins[j].CustomOriginConfig; co != nil && co.CABundle != "" {
				if _, err := readCAPool(co.CABundle); err != nil {
					errs = append(errs, FieldError{Path: at(at(idx(at(dp, "origins"), j), "customOriginConfig"), "caBundle"), Msg: err.Error()})
				}
			}
		}
	}
	if _, err := c.Topology.CAPool(); err != nil {
		errs = append(errs, FieldError{Path: "topology.caBundle", Msg: err.Error()})
	}
	return errs
}

// DefaultCertificate loads pop.tlsCertificateFile and pop.tlsKeyFile (nil
// when they are not set).
func (p *PoP) DefaultCertificate() (*tls.Certificate, Errors) {
	if p.TLSCertificateFile == "" {
		return nil, nil
	}
	return loadPair(p.TLSCertificateFile, p.TLSKeyFile, "pop.tlsCertificateFile", "pop.tlsKeyFile")
}

// LoadCertificate loads the distribution's viewer certificate (nil when it
// has none: it serves the PoP's default certificate) and checks that it
// covers every alias. path is the distribution's field path, such as
// distributions[2].
func (d *Distribution) LoadCertificate(path string) (*tls.Certificate, Errors) {
	vc := &d.ViewerCertificate
	if vc.CertificateFile == "" {
		return nil, nil
	}
	vp := at(path, "viewerCertificate")
	cert, errs := loadPair(vc.CertificateFile, vc.KeyFile, at(vp, "certificateFile"), at(vp, "keyFile"))
	if errs != nil {
		return nil, errs
	}
	for i, a := range d.Aliases {
		if err := viewertls.Covers(cert.Leaf, a); err != nil {
			errs = append(errs, FieldError{Path: idx(at(path, "aliases"), i),
				Msg: "\"" + a + "\" is not covered by viewerCertificate.certificateFile " + vc.CertificateFile + ": " + err.Error()})
		}
	}
	if errs != nil {
		return nil, errs
	}
	return cert, nil
}

func loadPair(certFile, keyFile, certPath, keyPath string) (*tls.Certificate, Errors) {
	cert, err := viewertls.LoadKeyPair(certFile, keyFile)
	if err != nil {
		var fe *viewertls.FileError
		path := certPath
		if errors.As(err, &fe) && fe.Key {
			path = keyPath
		}
		return nil, Errors{{Path: path, Msg: err.Error()}}
	}
	return cert, nil
}

// CAPool reads topology.caBundle (nil when it is not set).
func (t *Topology) CAPool() (*x509.CertPool, error) {
	if t.CABundle == "" {
		return nil, nil
	}
	return readCAPool(t.CABundle)
}

// readCAPool reads a PEM file of CA certificates.
func readCAPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New(path + ": no PEM certificates")
	}
	return pool, nil
}
