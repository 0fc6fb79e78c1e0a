package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/geo"
)

// loadYAML writes doc to a file and loads it like strata run does.
func loadYAML(t *testing.T, doc string) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	return err
}

func TestLoadChecksCertificateFiles(t *testing.T) {
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	dist := func(aliases, cert, key string) string {
		return `
distributions:
  - id: shop
    aliases: ` + aliases + `
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o}
    viewerCertificate: {certificateFile: "` + cert + `", keyFile: "` + key + `"}
`
	}
	for _, tc := range []struct {
		name, doc string
		path, msg string // "" path: no error
	}{
		{"covered", dist(`[www.example.com, img.static.example.com, "*.static.example.com"]`, abs("shop.crt"), abs("shop.key")), "", ""},
		{"missing certificate file", dist(`[www.example.com]`, "/nonexistent/shop.crt", abs("shop.key")),
			"distributions[0].viewerCertificate.certificateFile", "no such file"},
		{"missing key file", dist(`[www.example.com]`, abs("shop.crt"), "/nonexistent/shop.key"),
			"distributions[0].viewerCertificate.keyFile", "no such file"},
		{"key of another certificate", dist(`[www.example.com]`, abs("shop.crt"), abs("pop.key")),
			"distributions[0].viewerCertificate.keyFile", "private key does not match"},
		{"not a certificate", dist(`[www.example.com]`, abs("shop.key"), abs("shop.key")),
			"distributions[0].viewerCertificate.certificateFile", "CERTIFICATE"},
		{"alias not covered", dist(`[www.example.com, shop.example.org]`, abs("shop.crt"), abs("shop.key")),
			"distributions[0].aliases[1]", `"shop.example.org" is not covered`},
		{"wildcard alias needs the wildcard", dist(`["*.example.com"]`, abs("shop.crt"), abs("shop.key")),
			"distributions[0].aliases[0]", "not covered"},
		{"pop default certificate", "pop: {tlsCertificateFile: /nonexistent/pop.crt, tlsKeyFile: " + abs("pop.key") + "}\n",
			"pop.tlsCertificateFile", "no such file"},
		{"ca bundle", "topology: {caBundle: /nonexistent/ca.pem}\n", "topology.caBundle", "no such file"},
		{"geo database missing", "pop: {geoDatabase: /nonexistent/country.mmdb}\n", "pop.geoDatabase", "no such file"},
		{"geo database not a database", "pop: {geoDatabase: " + abs("shop.crt") + "}\n", "pop.geoDatabase", "shop.crt"},
		{"origin ca bundle missing", `
distributions:
  - id: shop
    origins: [{id: o, domainName: example.com, customOriginConfig: {originProtocolPolicy: https-only, caBundle: /nonexistent/ca.pem}}]
    defaultCacheBehavior: {targetOriginId: o}
`, "distributions[0].origins[0].customOriginConfig.caBundle", "no such file"},
		{"origin ca bundle without certificates", `
distributions:
  - id: shop
    origins: [{id: o, domainName: example.com, customOriginConfig: {caBundle: ` + abs("shop.key") + `}}]
    defaultCacheBehavior: {targetOriginId: o}
`, "distributions[0].origins[0].customOriginConfig.caBundle", "no PEM certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadYAML(t, tc.doc)
			if tc.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v, want one field error", err)
			}
			if errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.msg) {
				t.Fatalf("got %q, want path %s and %q in the message", errs[0].Error(), tc.path, tc.msg)
			}
			if errs[0].Line == 0 {
				t.Errorf("no line in %q", errs[0].Error())
			}
		})
	}
}

// A geo database that loads passes.
func TestLoadOpensGeoDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "country.mmdb")
	if err := geo.WriteTestDB(db, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	if err := loadYAML(t, "pop: {geoDatabase: "+db+"}\n"); err != nil {
		t.Fatal(err)
	}
}

// Parse (the control plane's path) does not read files: they may exist only
// on the PoPs' machines.
func TestParseDoesNotReadFiles(t *testing.T) {
	doc := `
distributions:
  - id: shop
    aliases: [www.example.com]
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o}
    viewerCertificate: {certificateFile: /nonexistent/a.crt, keyFile: /nonexistent/a.key}
`
	if _, err := Parse([]byte(doc), ""); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPSListenValidation(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not host:port", "pop: {httpsListen: 8443}\n", `pop.httpsListen (line 1): "8443" is not host:port`},
		{"same as listen", "pop: {listen: \"127.0.0.1:8080\", httpsListen: \"127.0.0.1:8080\"}\n", "pop.httpsListen (line 1): 127.0.0.1:8080 is also pop.listen"},
		{"key without certificate", "pop: {tlsKeyFile: k.pem}\n", "pop.tlsCertificateFile (line 1): required with tlsKeyFile"},
		{"topology clash", `topology:
  pops:
    - {id: FRA-R1, tier: regional, listen: "127.0.1.1:8080", httpsListen: "127.0.1.1:8443"}
    - {id: FRA1, listen: "127.0.1.1:8443"}
`, "topology.pops[1].listen (line 4): 127.0.1.1:8443 is also the address of FRA-R1"},
		{"https url without https listener", `topology:
  pops:
    - {id: FRA-R1, tier: regional, listen: "127.0.1.1:8080", url: "https://127.0.1.1:8443"}
`, `topology.pops[0].url (line 3): "https://127.0.1.1:8443" is https:// but the PoP has no httpsListen`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
