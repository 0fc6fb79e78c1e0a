package topology

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// earthRadiusKm is the mean radius of the Earth (IUGG).
const earthRadiusKm = 6371.0088

// Distance returns the great-circle distance in kilometres between two
// points given in decimal degrees, by the haversine formula on a spherical
// Earth (within about 0.5% of the ellipsoidal distance).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	phi1, phi2 := lat1*rad, lat2*rad
	dPhi, dLambda := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dPhi/2)*math.Sin(dPhi/2) + math.Cos(phi1)*math.Cos(phi2)*math.Sin(dLambda/2)*math.Sin(dLambda/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}

// Nearest returns the locations of among sorted by distance from (lat, lon),
// nearest first, keeping only those for which keep returns true (keep may be
// nil to keep all). Equal distances are ordered by ID. A nil among means the
// whole catalog. among itself is not modified.
func Nearest(lat, lon float64, among []Location, keep func(Location) bool) []Location {
	if among == nil {
		among = theCatalog().locations
	}
	type ranked struct {
		loc Location
		km  float64
	}
	rs := make([]ranked, 0, len(among))
	for _, l := range among {
		if keep == nil || keep(l) {
			rs = append(rs, ranked{l, Distance(lat, lon, l.Lat, l.Lon)})
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.km, b.km), strings.Compare(a.loc.ID, b.loc.ID))
	})
	out := make([]Location, len(rs))
	for i, r := range rs {
		out[i] = r.loc
	}
	return out
}
