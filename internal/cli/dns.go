package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/dns"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/topology"
)

// DNS is "strata dns explain --name NAME --client IP": how the DNS
// router answers a distribution's name for a viewer at an address (as if
// a resolver sent it as the client subnet), computed by the router's own
// code from the control plane's distributions and PoP health, with the geo
// database the router uses.
func DNS(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "explain" {
		fmt.Fprintln(stderr, "usage: strata dns explain --name NAME --client IP [--geo FILE] [--default-region na] [--pops 10]")
		return 2
	}
	cmd := newCommand("dns explain", stderr)
	name := cmd.fs.String("name", "", "a distribution's domain name in the DNS zone (required)")
	client := cmd.fs.String("client", "", "the viewer's address (required)")
	geoPath := cmd.fs.String("geo", "", "geo database the router uses (default: <data-dir>/demo-geo.mmdb, else <data-dir>/country.mmdb)")
	region := cmd.fs.String("default-region", config.DefaultDNSDefaultRegion, "dns.defaultRegion of the router")
	limit := cmd.fs.Int("pops", 10, "PoPs to list, nearest first (0: all)")
	if _, ok := cmd.parse(args[1:], 0, 0, "", ""); !ok {
		return 2
	}
	ip, err := netip.ParseAddr(*client)
	if err != nil || *name == "" {
		fmt.Fprintf(stderr, "strata dns explain: --name and --client (an IP address) are required\n")
		return 2
	}
	fqdn := strings.ToLower(strings.TrimSuffix(*name, "."))
	_, zone, ok := strings.Cut(fqdn, ".")
	if !ok {
		fmt.Fprintf(stderr, "strata dns explain: %q is not a name in a zone\n", *name)
		return 2
	}
	path := *geoPath
	for _, p := range []string{"demo-geo.mmdb", "country.mmdb"} {
		if path == "" {
			if _, err := os.Stat(filepath.Join(cmd.cf.dataDir, p)); err == nil {
				path = filepath.Join(cmd.cf.dataDir, p)
			}
		}
	}
	var db *geo.DB
	if path != "" {
		if db, err = geo.Open(path); err != nil {
			fmt.Fprintf(stderr, "strata dns explain: %v\n", err)
			return 1
		}
		defer db.Close()
	}
	c, ok := cmd.client()
	if !ok {
		return 2
	}
	var dists struct {
		Items []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"items"`
	}
	if _, _, err := c.GetJSON("/distributions", &dists); err != nil {
		return printError(stderr, c, err)
	}
	var ds []config.Distribution
	for _, it := range dists.Items {
		var d config.Distribution
		if json.Unmarshal(it.Resource, &d) == nil {
			ds = append(ds, d)
		}
	}
	pops, _, err := c.PoPs()
	if err != nil {
		return printError(stderr, c, err)
	}
	healthy := map[string]bool{}
	var st dns.State
	for _, p := range pops {
		_, edge := topology.LocationByID(p.Location)
		_, regional := topology.RegionalCacheByID(p.Location)
		if !edge && !regional {
			continue
		}
		pop := dns.PoP{ID: p.PoP, Location: p.Location, AcceptsViewers: p.Tier != topology.TierRegional}
		if u, err := url.Parse(p.URL); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil {
				pop.Addrs = []netip.Addr{a.Unmap()}
			}
		}
		st.PoPs = append(st.PoPs, pop)
		healthy[p.PoP] = p.Healthy
	}
	st.Distributions = dns.DistributionsInZone(zone, ds)
	srv, err := dns.New(dns.Options{Zone: zone, Geo: db, DefaultRegion: *region})
	if err == nil {
		err = srv.SetState(st)
	}
	if err != nil {
		fmt.Fprintf(stderr, "strata dns explain: %v\n", err)
		return 1
	}
	srv.SetHealth(func(id string) bool { return healthy[id] })
	e, err := srv.Explain(fqdn, ip)
	if err != nil {
		fmt.Fprintf(stderr, "strata dns explain: %v\n", err)
		return 1
	}
	if err := e.WriteText(stdout, *limit); err != nil {
		return 1
	}
	return 0
}
