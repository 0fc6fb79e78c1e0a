package topology

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCatalogParses(t *testing.T) {
	if _, err := loadCatalog(); err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
}

func TestCatalogIntegrity(t *testing.T) {
	locs, caches := Locations(), RegionalCaches()
	if len(locs) < 200 {
		t.Errorf("%d locations, want at least 200", len(locs))
	}
	if len(caches) < 13 {
		t.Errorf("%d regional caches, want at least 13", len(caches))
	}
	idRE := regexp.MustCompile(`^[A-Z]{3}$`)
	seen := map[string]bool{}
	perRegion := map[string]int{}
	for i, l := range locs {
		if !idRE.MatchString(l.ID) {
			t.Errorf("location id %q does not match %s", l.ID, idRE)
		}
		if seen[l.ID] {
			t.Errorf("location %s listed twice", l.ID)
		}
		seen[l.ID] = true
		if i > 0 && locs[i-1].ID >= l.ID {
			t.Errorf("Locations not sorted by ID: %s before %s", locs[i-1].ID, l.ID)
		}
		if l.City == "" {
			t.Errorf("location %s has no city", l.ID)
		}
		checkCoordinates(t, l.ID, l.Lat, l.Lon)
		checkRegion(t, l.ID, l.Country, l.Region)
		perRegion[l.Region]++
	}
	cacheIDRE := regexp.MustCompile(`^[A-Z]{3}-R$`)
	for _, rc := range caches {
		if !cacheIDRE.MatchString(rc.ID) {
			t.Errorf("regional cache id %q does not match %s", rc.ID, cacheIDRE)
		}
		if seen[rc.ID] {
			t.Errorf("id %s used twice", rc.ID)
		}
		seen[rc.ID] = true
		checkCoordinates(t, rc.ID, rc.Lat, rc.Lon)
		checkRegion(t, rc.ID, rc.Country, rc.Region)
	}
	for _, r := range Regions() {
		if perRegion[r.Code] < 5 {
			t.Errorf("region %s has %d locations, want at least 5", r.Code, perRegion[r.Code])
		}
	}
	t.Logf("%d locations, %d regional caches, per region %v", len(locs), len(caches), perRegion)
}

func checkCoordinates(t *testing.T, id string, lat, lon float64) {
	t.Helper()
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 || (lat == 0 && lon == 0) {
		t.Errorf("%s: coordinates %v,%v out of range", id, lat, lon)
	}
}

func checkRegion(t *testing.T, id, country, region string) {
	t.Helper()
	want, ok := RegionOf(country)
	if !ok {
		t.Errorf("%s: country %q is in no pricing region", id, country)
	} else if region != want {
		t.Errorf("%s: region %q, but country %s is in %q", id, region, country, want)
	}
}

// TestCloudFrontRegionalCaches checks that CloudFront's thirteen regional
// edge caches are all there.
func TestCloudFrontRegionalCaches(t *testing.T) {
	for _, id := range []string{"IAD-R", "CMH-R", "PDX-R", "SFO-R", "BOM-R", "ICN-R", "SIN-R",
		"SYD-R", "NRT-R", "FRA-R", "DUB-R", "LHR-R", "GRU-R"} {
		if _, ok := RegionalCacheByID(id); !ok {
			t.Errorf("regional cache %s missing", id)
		}
	}
}

// africa are the countries of region me served from Cape Town; the rest of
// me (the Middle East and Egypt) is served from Bahrain.
var africa = []string{"KE", "NG", "ZA"}

// TestRegionalCacheAssignment checks that every edge names an existing
// regional cache on its own continent, and the nearest sensible one.
func TestRegionalCacheAssignment(t *testing.T) {
	// compatible lists the regions whose regional caches may serve an edge
	// of a region: its own, and at most a neighbour on the same continent.
	compatible := map[string][]string{
		RegionNorthAmerica: {RegionNorthAmerica},
		RegionEurope:       {RegionEurope},
		RegionMiddleEast:   {RegionMiddleEast, RegionEurope},
		RegionSouthAmerica: {RegionSouthAmerica},
		RegionJapan:        {RegionJapan},
		RegionAustralia:    {RegionAustralia},
		RegionAsiaPacific:  {RegionAsiaPacific, RegionJapan},
		RegionIndia:        {RegionIndia},
	}
	caches := RegionalCaches()
	served := map[string]int{}
	for _, l := range Locations() {
		rc, ok := RegionalCacheByID(l.RegionalCache)
		if !ok {
			t.Errorf("location %s: unknown regional cache %q", l.ID, l.RegionalCache)
			continue
		}
		served[rc.ID]++
		if !slices.Contains(compatible[l.Region], rc.Region) {
			t.Errorf("location %s (%s, region %s) served by %s in region %s", l.ID, l.City, l.Region, rc.ID, rc.Region)
		}
		km := Distance(l.Lat, l.Lon, rc.Lat, rc.Lon)
		if km > 5000 {
			t.Errorf("location %s is %.0f km from its regional cache %s", l.ID, km, rc.ID)
		}
		// The nearest regional cache of the edge's region, with the
		// documented split of region me.
		var want RegionalCache
		best := -1.0
		for _, c := range caches {
			if c.Region != l.Region {
				continue
			}
			if l.Region == RegionMiddleEast && (c.Country == "ZA") != slices.Contains(africa, l.Country) {
				continue
			}
			if d := Distance(l.Lat, l.Lon, c.Lat, c.Lon); best < 0 || d < best {
				want, best = c, d
			}
		}
		if rc.ID != want.ID {
			t.Errorf("location %s (%s) served by %s (%.0f km), but %s is nearer (%.0f km)", l.ID, l.City, rc.ID, km, want.ID, best)
		}
	}
	for _, rc := range caches {
		if served[rc.ID] == 0 {
			t.Errorf("regional cache %s serves no location", rc.ID)
		}
	}
}

func TestLookups(t *testing.T) {
	l, ok := LocationByID("FRA")
	if !ok || l.City != "Frankfurt" || l.Country != "DE" || l.Region != RegionEurope || l.RegionalCache != "FRA-R" {
		t.Errorf("LocationByID(FRA) = %+v, %v", l, ok)
	}
	if l2, ok := LocationByID("fra"); !ok || l2 != l {
		t.Errorf("LocationByID(fra) = %+v, %v; want FRA", l2, ok)
	}
	for _, id := range []string{"", "XXX", "FRA-R", "FRA1"} {
		if _, ok := LocationByID(id); ok {
			t.Errorf("LocationByID(%q) found something", id)
		}
	}
	rc, ok := RegionalCacheByID("IAD-R")
	if !ok || rc.Country != "US" || rc.Region != RegionNorthAmerica {
		t.Errorf("RegionalCacheByID(IAD-R) = %+v, %v", rc, ok)
	}
	if _, ok := RegionalCacheByID("IAD"); ok {
		t.Error("RegionalCacheByID(IAD) found something")
	}
	// The slices returned are copies.
	locs := Locations()
	locs[0].City = "changed"
	if Locations()[0].City == "changed" {
		t.Error("Locations returns the catalog's own slice")
	}
	caches := RegionalCaches()
	caches[0].City = "changed"
	if RegionalCaches()[0].City == "changed" {
		t.Error("RegionalCaches returns the catalog's own slice")
	}
}

func TestParseCatalogRejects(t *testing.T) {
	const rc = `{"id": "FRA-R", "city": "Frankfurt", "country": "DE", "lat": 50.11, "lon": 8.68, "region": "eu"}`
	loc := func(fields string) string {
		return `{"regionalCaches": [` + rc + `], "locations": [` + fields + `]}`
	}
	tests := []struct {
		name, data, want string
	}{
		{"unknown field", loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R", "pop": 3}`), "unknown field"},
		{"bad id", loc(`{"id": "FRA1", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R"}`), "three upper-case"},
		{"duplicate", loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R"},
			{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R"}`), "listed twice"},
		{"wrong region", loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "na", "regionalCache": "FRA-R"}`), `but DE is in "eu"`},
		{"unknown country", loc(`{"id": "FRA", "city": "F", "country": "XX", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R"}`), "in no pricing region"},
		{"coordinates", loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 91, "lon": 1, "region": "eu", "regionalCache": "FRA-R"}`), "out of range"},
		{"unknown cache", loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "MUC-R"}`), "unknown regional cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCatalog([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseCatalog: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := parseCatalog([]byte(loc(`{"id": "FRA", "city": "F", "country": "DE", "lat": 1, "lon": 1, "region": "eu", "regionalCache": "FRA-R"}`))); err != nil {
		t.Errorf("parseCatalog of a good file: %v", err)
	}
}

func TestShieldCache(t *testing.T) {
	for in, want := range map[string]string{"eu-central-1": "FRA-R", "US-EAST-1": "IAD-R", "fra-r": "FRA-R", "SYD-R": "SYD-R"} {
		if got, ok := ShieldCache(in); !ok || got != want {
			t.Errorf("ShieldCache(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := ShieldCache("mars-1"); ok {
		t.Error("unknown region accepted")
	}
	for region, id := range awsRegions {
		if _, ok := RegionalCacheByID(id); !ok {
			t.Errorf("%s maps to unknown %s", region, id)
		}
	}
}
