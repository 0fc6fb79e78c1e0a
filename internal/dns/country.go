package dns

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-cdn/strata/internal/topology"
)

//go:embed countries.txt
var countriesTxt []byte

// point is a place on the unit sphere, kept both as coordinates (for
// people) and as a unit vector (for comparing distances with a dot product:
// the larger the dot product, the nearer).
type point struct {
	lat, lon float64
	v        [3]float64
}

func pointAt(lat, lon float64) point {
	const rad = math.Pi / 180
	phi, lambda := lat*rad, lon*rad
	return point{lat: lat, lon: lon, v: [3]float64{
		math.Cos(phi) * math.Cos(lambda),
		math.Cos(phi) * math.Sin(lambda),
		math.Sin(phi),
	}}
}

// meanPoint returns the spherical mean of ps: the normalized sum of their
// unit vectors, which for cities of one country lies among them.
func meanPoint(ps []point) point {
	var s [3]float64
	for _, p := range ps {
		s[0], s[1], s[2] = s[0]+p.v[0], s[1]+p.v[1], s[2]+p.v[2]
	}
	const deg = 180 / math.Pi
	lat := math.Atan2(s[2], math.Hypot(s[0], s[1])) * deg
	lon := math.Atan2(s[1], s[0]) * deg
	return pointAt(math.Round(lat*100)/100, math.Round(lon*100)/100)
}

// places holds the representative point of every country and of every
// pricing region.
type places struct {
	country map[string]point
	region  map[string]point
}

// loadPlaces builds the country and region points once: a country with
// edge locations in the catalog is the spherical mean of them (edges stand
// where the viewers are); any other country comes from countries.txt. A
// region is the spherical mean of its catalog edge locations.
var loadPlaces = sync.OnceValues(func() (*places, error) {
	return buildPlaces(countriesTxt, topology.Locations())
})

func thePlaces() *places {
	p, err := loadPlaces()
	if err != nil {
		panic(err) // the table is embedded and checked by the tests: a build defect
	}
	return p
}

func buildPlaces(table []byte, locs []topology.Location) (*places, error) {
	p := &places{country: map[string]point{}, region: map[string]point{}}
	byCountry := map[string][]point{}
	byRegion := map[string][]point{}
	for _, l := range locs {
		pt := pointAt(l.Lat, l.Lon)
		byCountry[l.Country] = append(byCountry[l.Country], pt)
		byRegion[l.Region] = append(byRegion[l.Region], pt)
	}
	for cc, ps := range byCountry {
		p.country[cc] = meanPoint(ps)
	}
	for r, ps := range byRegion {
		p.region[r] = meanPoint(ps)
	}
	sc := bufio.NewScanner(bytes.NewReader(table))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("dns: countries.txt:%d: %s", n, why) }
		if len(f) != 3 || len(f[0]) != 2 || strings.ToUpper(f[0]) != f[0] {
			return nil, bad("want \"CC latitude longitude\"")
		}
		lat, err1 := strconv.ParseFloat(f[1], 64)
		lon, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return nil, bad("coordinates out of range")
		}
		if _, dup := p.country[f[0]]; dup {
			if _, inCatalog := byCountry[f[0]]; inCatalog {
				return nil, bad(f[0] + " has catalog locations, which represent it")
			}
			return nil, bad(f[0] + " listed twice")
		}
		p.country[f[0]] = pointAt(lat, lon)
	}
	return p, sc.Err()
}

// CountryPoint returns the representative coordinates the router uses for
// a viewer known only by country (ISO 3166-1 alpha-2), and whether it has
// them.
func CountryPoint(country string) (lat, lon float64, ok bool) {
	pt, ok := thePlaces().country[strings.ToUpper(country)]
	return pt.lat, pt.lon, ok
}

// RegionPoint returns the coordinates the router uses for a viewer it
// cannot locate when the default region is region (a pricing region code):
// the spherical mean of the region's catalog edge locations.
func RegionPoint(region string) (lat, lon float64, ok bool) {
	pt, ok := thePlaces().region[region]
	return pt.lat, pt.lon, ok
}
