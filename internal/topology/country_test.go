package topology_test

import (
	"testing"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/topology"
)

// TestCountryCodes checks the region table and the catalog against the
// ISO 3166-1 list that configurations are validated with.
func TestCountryCodes(t *testing.T) {
	for _, r := range topology.Regions() {
		for _, c := range r.Countries {
			if !config.IsCountryCode(c) {
				t.Errorf("region %s: %q is not an ISO 3166-1 alpha-2 code", r.Code, c)
			}
		}
	}
	for _, l := range topology.Locations() {
		if !config.IsCountryCode(l.Country) {
			t.Errorf("location %s: %q is not an ISO 3166-1 alpha-2 code", l.ID, l.Country)
		}
	}
	for _, rc := range topology.RegionalCaches() {
		if !config.IsCountryCode(rc.Country) {
			t.Errorf("regional cache %s: %q is not an ISO 3166-1 alpha-2 code", rc.ID, rc.Country)
		}
	}
}
