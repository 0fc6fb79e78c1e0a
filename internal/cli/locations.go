package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/topology"
)

// Locations prints the world catalog: the edge locations, or with
// --regional the regional edge caches, as a table or as JSON.
func Locations(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("locations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	region := fs.String("region", "", "only the given pricing region: "+strings.Join(regionCodes(), ", "))
	regional := fs.Bool("regional", false, "list the regional edge caches instead of the edge locations")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "strata locations: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	*region = strings.ToLower(*region)
	if *region != "" {
		if _, ok := topology.RegionByCode(*region); !ok {
			fmt.Fprintf(stderr, "strata locations: unknown region %q (valid: %s)\n", *region, strings.Join(regionCodes(), ", "))
			return 2
		}
	}
	var err error
	if *regional {
		err = printRegionalCaches(stdout, *region, *asJSON)
	} else {
		err = printLocations(stdout, *region, *asJSON)
	}
	if err != nil {
		fmt.Fprintf(stderr, "strata locations: %v\n", err)
		return 1
	}
	return 0
}

// regionCodes returns the pricing region codes in the catalog's order.
func regionCodes() []string {
	var codes []string
	for _, r := range topology.Regions() {
		codes = append(codes, r.Code)
	}
	return codes
}

func printLocations(w io.Writer, region string, asJSON bool) error {
	locs := []topology.Location{}
	for _, l := range topology.Locations() {
		if region == "" || l.Region == region {
			locs = append(locs, l)
		}
	}
	if asJSON {
		return writeJSON(w, locs)
	}
	t := newTable(w, "ID", "CITY", "COUNTRY", "REGION", "REGIONAL CACHE", "LAT", "LON")
	for _, l := range locs {
		t.row(l.ID, l.City, l.Country, l.Region, l.RegionalCache, coord(l.Lat), coord(l.Lon))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d location(s)%s\n", len(locs), inRegion(region))
	return err
}

func printRegionalCaches(w io.Writer, region string, asJSON bool) error {
	caches := []topology.RegionalCache{}
	for _, rc := range topology.RegionalCaches() {
		if region == "" || rc.Region == region {
			caches = append(caches, rc)
		}
	}
	if asJSON {
		return writeJSON(w, caches)
	}
	served := map[string]int{}
	for _, l := range topology.Locations() {
		served[l.RegionalCache]++
	}
	t := newTable(w, "ID", "CITY", "COUNTRY", "REGION", "EDGES", "LAT", "LON")
	for _, rc := range caches {
		t.row(rc.ID, rc.City, rc.Country, rc.Region, strconv.Itoa(served[rc.ID]), coord(rc.Lat), coord(rc.Lon))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d regional cache(s)%s\n", len(caches), inRegion(region))
	return err
}

// coord renders a latitude or longitude with two decimals.
func coord(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func inRegion(region string) string {
	if region == "" {
		return ""
	}
	return " in region " + region
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
