package topology

import (
	"math"
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	fra, _ := LocationByID("FRA")
	jfk, _ := LocationByID("JFK")
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64
	}{
		{"FRA-JFK", fra.Lat, fra.Lon, jfk.Lat, jfk.Lon, 6200, 100},
		{"same point", 50.11, 8.68, 50.11, 8.68, 0, 1e-9},
		{"quarter meridian", 0, 0, 90, 0, math.Pi / 2 * earthRadiusKm, 1e-6},
		{"antipodes", 10, 20, -10, -160, math.Pi * earthRadiusKm, 1e-6},
		{"across the date line", 0, 179.5, 0, -179.5, 111.2, 0.5},
		{"London-Sydney", 51.51, -0.13, -33.87, 151.21, 16990, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.want) > tt.tolerance {
				t.Errorf("Distance = %.3f km, want %.3f ± %v", got, tt.want, tt.tolerance)
			}
			if back := Distance(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-6 {
				t.Errorf("Distance not symmetric: %v and %v", got, back)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	tests := []struct {
		name     string
		lat, lon float64
		want     []string // the nearest must be one of these
	}{
		{"Paris", 48.86, 2.35, []string{"CDG"}},
		{"Tokyo", 35.69, 139.69, []string{"NRT", "HND"}},
		{"Ashburn", 39.04, -77.49, []string{"IAD"}},
		{"Sydney", -33.87, 151.21, []string{"SYD"}},
		{"Johannesburg", -26.20, 28.05, []string{"JNB"}},
		{"Reykjavik", 64.15, -21.94, []string{"KEF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Nearest(tt.lat, tt.lon, nil, nil)
			if len(got) != len(Locations()) {
				t.Fatalf("Nearest over the catalog returned %d of %d", len(got), len(Locations()))
			}
			if !slices.Contains(tt.want, got[0].ID) {
				t.Errorf("nearest to %s is %s, want one of %v", tt.name, got[0].ID, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if Distance(tt.lat, tt.lon, got[i-1].Lat, got[i-1].Lon) > Distance(tt.lat, tt.lon, got[i].Lat, got[i].Lon) {
					t.Fatalf("not sorted by distance at %d: %s before %s", i, got[i-1].ID, got[i].ID)
				}
			}
		})
	}

	// Filtering and a given list.
	inJapan := func(l Location) bool { return l.Country == "JP" }
	got := Nearest(48.86, 2.35, nil, inJapan)
	if len(got) == 0 || !allOf(got, inJapan) {
		t.Errorf("Nearest with a filter returned %v", ids(got))
	}
	among := []Location{mustLocation(t, "SYD"), mustLocation(t, "LHR"), mustLocation(t, "CDG")}
	got = Nearest(48.86, 2.35, among, nil)
	if want := []string{"CDG", "LHR", "SYD"}; !slices.Equal(ids(got), want) {
		t.Errorf("Nearest(Paris, SYD LHR CDG) = %v, want %v", ids(got), want)
	}
	if among[0].ID != "SYD" {
		t.Error("Nearest reordered its argument")
	}
	if got := Nearest(0, 0, []Location{}, nil); len(got) != 0 {
		t.Errorf("Nearest over an empty list = %v", ids(got))
	}
	// Ties are broken by ID.
	a, b := mustLocation(t, "FRA"), mustLocation(t, "FRA")
	a.ID, b.ID = "ZZZ", "AAA"
	if got := Nearest(0, 0, []Location{a, b}, nil); got[0].ID != "AAA" {
		t.Errorf("tie not broken by ID: %v", ids(got))
	}
}

func mustLocation(t *testing.T, id string) Location {
	t.Helper()
	l, ok := LocationByID(id)
	if !ok {
		t.Fatalf("no location %s", id)
	}
	return l
}

func ids(locs []Location) []string {
	out := make([]string, len(locs))
	for i, l := range locs {
		out[i] = l.ID
	}
	return out
}

func allOf(locs []Location, f func(Location) bool) bool {
	for _, l := range locs {
		if !f(l) {
			return false
		}
	}
	return true
}
