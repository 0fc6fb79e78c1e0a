package topology

import (
	"errors"
	"slices"
	"testing"
)

func TestRegionTable(t *testing.T) {
	// First-10-TB prices from CloudFront's price list (USD per GB).
	want := []struct {
		code  string
		price float64
	}{
		{"na", 0.085}, {"eu", 0.085}, {"me", 0.110}, {"sa", 0.110},
		{"jp", 0.114}, {"au", 0.114}, {"ap", 0.120}, {"in", 0.109},
	}
	rs := Regions()
	if len(rs) != len(want) {
		t.Fatalf("%d regions, want %d", len(rs), len(want))
	}
	inRegion := map[string]string{}
	for i, r := range rs {
		if r.Code != want[i].code || r.PricePerGB != want[i].price || r.Name == "" {
			t.Errorf("region %d = %s %q %v; want %s %v", i, r.Code, r.Name, r.PricePerGB, want[i].code, want[i].price)
		}
		if !slices.IsSorted(r.Countries) {
			t.Errorf("region %s: countries not sorted", r.Code)
		}
		for _, c := range r.Countries {
			if prev, dup := inRegion[c]; dup {
				t.Errorf("country %s in regions %s and %s", c, prev, r.Code)
			}
			inRegion[c] = r.Code
			if got, ok := RegionOf(c); !ok || got != r.Code {
				t.Errorf("RegionOf(%s) = %q, %v; want %s", c, got, ok, r.Code)
			}
		}
		if got, ok := RegionByCode(r.Code); !ok || got.Code != r.Code {
			t.Errorf("RegionByCode(%s) = %+v, %v", r.Code, got, ok)
		}
	}
	// CloudFront's named countries are where its price list puts them.
	for c, r := range map[string]string{
		"US": "na", "MX": "na", "CA": "na", "DE": "eu", "IL": "eu", "TR": "eu",
		"ZA": "me", "KE": "me", "NG": "me", "AE": "me", "BR": "sa", "JP": "jp",
		"AU": "au", "NZ": "au", "HK": "ap", "ID": "ap", "PH": "ap", "SG": "ap",
		"KR": "ap", "TW": "ap", "TH": "ap", "MY": "ap", "VN": "ap", "IN": "in",
		"us": "na",
	} {
		if got, ok := RegionOf(c); !ok || got != r {
			t.Errorf("RegionOf(%s) = %q, %v; want %s", c, got, ok, r)
		}
	}
	for _, c := range []string{"", "CN", "RU", "XX", "USA"} {
		if got, ok := RegionOf(c); ok {
			t.Errorf("RegionOf(%q) = %q, want none", c, got)
		}
	}
	if _, ok := RegionByCode("xx"); ok {
		t.Error("RegionByCode(xx) found something")
	}
	// Regions returns copies.
	rs[0].Countries[0] = "ZZ"
	if Regions()[0].Countries[0] == "ZZ" {
		t.Error("Regions shares its Countries slices")
	}
}

func TestPriceClassRegions(t *testing.T) {
	tests := []struct {
		class string
		want  []string
	}{
		{PriceClass100, []string{"na", "eu"}},
		{PriceClass200, []string{"na", "eu", "me", "jp", "ap", "in"}},
		{PriceClassAll, []string{"na", "eu", "me", "sa", "jp", "au", "ap", "in"}},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			got, err := PriceClassRegions(tt.class)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("PriceClassRegions(%s) = %v, %v; want %v", tt.class, got, err, tt.want)
			}
			for _, r := range Regions() {
				if in := InPriceClass(r.Code, tt.class); in != slices.Contains(tt.want, r.Code) {
					t.Errorf("InPriceClass(%s, %s) = %v", r.Code, tt.class, in)
				}
			}
		})
	}
	for _, class := range []string{"", "PriceClass_50", "priceclass_all", "All"} {
		if got, err := PriceClassRegions(class); !errors.Is(err, ErrUnknownPriceClass) {
			t.Errorf("PriceClassRegions(%q) = %v, %v; want ErrUnknownPriceClass", class, got, err)
		}
		if InPriceClass("na", class) {
			t.Errorf("InPriceClass(na, %q) = true", class)
		}
	}
	if InPriceClass("xx", PriceClassAll) {
		t.Error("InPriceClass(xx, PriceClass_All) = true")
	}
}
