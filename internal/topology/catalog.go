package topology

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Location is one edge location of the catalog: a city with CDN PoPs.
type Location struct {
	ID            string  `json:"id"`            // IATA code of the city's airport, upper-case: FRA
	City          string  `json:"city"`          // Frankfurt
	Country       string  `json:"country"`       // ISO 3166-1 alpha-2: DE
	Lat           float64 `json:"lat"`           // decimal degrees, north positive
	Lon           float64 `json:"lon"`           // decimal degrees, east positive
	Region        string  `json:"region"`        // pricing region code: eu
	RegionalCache string  `json:"regionalCache"` // id of the regional cache serving it: FRA-R
}

// RegionalCache is one regional edge cache of the catalog, the mid tier
// between the edges and the origin.
type RegionalCache struct {
	ID      string  `json:"id"`      // IATA code of the city plus "-R": FRA-R
	City    string  `json:"city"`    // Frankfurt
	Country string  `json:"country"` // ISO 3166-1 alpha-2: DE
	Lat     float64 `json:"lat"`     // decimal degrees, north positive
	Lon     float64 `json:"lon"`     // decimal degrees, east positive
	Region  string  `json:"region"`  // pricing region code: eu
}

//go:embed catalog.json
var catalogJSON []byte

// catalog is the parsed, checked catalog with its indexes.
type catalog struct {
	locations     []Location // sorted by ID
	locationIndex map[string]int
	caches        []RegionalCache // sorted by ID
	cacheIndex    map[string]int
	regions       []Region
	countryRegion map[string]string
}

// loadCatalog parses the embedded catalog once.
var loadCatalog = sync.OnceValues(func() (*catalog, error) {
	return parseCatalog(catalogJSON)
})

// theCatalog returns the parsed catalog. The catalog is compiled into the
// binary and checked by the package's tests, so a failure is a build defect.
func theCatalog() *catalog {
	c, err := loadCatalog()
	if err != nil {
		panic(err)
	}
	return c
}

// parseCatalog decodes a catalog file strictly and checks every entry
// against the region table, reporting all problems at once.
func parseCatalog(data []byte) (*catalog, error) {
	var file struct {
		RegionalCaches []RegionalCache `json:"regionalCaches"`
		Locations      []Location      `json:"locations"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("topology: catalog: %w", err)
	}
	c := &catalog{
		locations:     file.Locations,
		locationIndex: make(map[string]int, len(file.Locations)),
		caches:        file.RegionalCaches,
		cacheIndex:    make(map[string]int, len(file.RegionalCaches)),
		regions:       regionTable(),
		countryRegion: make(map[string]string),
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("topology: catalog: "+format, args...))
	}
	for _, r := range c.regions {
		for _, cc := range r.Countries {
			if prev, dup := c.countryRegion[cc]; dup {
				bad("country %s is in regions %s and %s", cc, prev, r.Code)
			}
			c.countryRegion[cc] = r.Code
		}
	}
	checkPlace := func(what, id, country, region string, lat, lon float64) {
		if want, ok := c.countryRegion[country]; !ok {
			bad("%s %s: country %q is in no pricing region", what, id, country)
		} else if region != want {
			bad("%s %s: region %q, but %s is in %q", what, id, region, country, want)
		}
		if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			bad("%s %s: coordinates %v,%v out of range", what, id, lat, lon)
		}
	}
	slices.SortFunc(c.caches, func(a, b RegionalCache) int { return strings.Compare(a.ID, b.ID) })
	for i, rc := range c.caches {
		if !isRegionalCacheID(rc.ID) {
			bad("regional cache id %q is not of the form XXX-R", rc.ID)
		}
		if _, dup := c.cacheIndex[rc.ID]; dup {
			bad("regional cache %s listed twice", rc.ID)
		}
		c.cacheIndex[rc.ID] = i
		checkPlace("regional cache", rc.ID, rc.Country, rc.Region, rc.Lat, rc.Lon)
	}
	slices.SortFunc(c.locations, func(a, b Location) int { return strings.Compare(a.ID, b.ID) })
	for i, l := range c.locations {
		if !isLocationID(l.ID) {
			bad("location id %q is not three upper-case letters", l.ID)
		}
		if _, dup := c.locationIndex[l.ID]; dup {
			bad("location %s listed twice", l.ID)
		}
		c.locationIndex[l.ID] = i
		checkPlace("location", l.ID, l.Country, l.Region, l.Lat, l.Lon)
		if _, ok := c.cacheIndex[l.RegionalCache]; !ok {
			bad("location %s: unknown regional cache %q", l.ID, l.RegionalCache)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// isLocationID reports whether id has the form of a location id: three
// upper-case ASCII letters.
func isLocationID(id string) bool {
	if len(id) != 3 {
		return false
	}
	for i := range len(id) {
		if id[i] < 'A' || id[i] > 'Z' {
			return false
		}
	}
	return true
}

// isRegionalCacheID reports whether id has the form of a regional cache id:
// a location id followed by "-R".
func isRegionalCacheID(id string) bool {
	base, ok := strings.CutSuffix(id, "-R")
	return ok && isLocationID(base)
}

// Locations returns the catalog's edge locations, sorted by ID. The slice
// is the caller's to keep or change.
func Locations() []Location {
	return slices.Clone(theCatalog().locations)
}

// LocationByID returns the edge location with the given id (FRA; case does
// not matter) and whether there is one.
func LocationByID(id string) (Location, bool) {
	c := theCatalog()
	i, ok := c.locationIndex[strings.ToUpper(id)]
	if !ok {
		return Location{}, false
	}
	return c.locations[i], true
}

// RegionalCaches returns the catalog's regional edge caches, sorted by ID.
// The slice is the caller's to keep or change.
func RegionalCaches() []RegionalCache {
	return slices.Clone(theCatalog().caches)
}

// RegionalCacheByID returns the regional cache with the given id (FRA-R;
// case does not matter) and whether there is one.
func RegionalCacheByID(id string) (RegionalCache, bool) {
	c := theCatalog()
	i, ok := c.cacheIndex[strings.ToUpper(id)]
	if !ok {
		return RegionalCache{}, false
	}
	return c.caches[i], true
}
