package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Region is one of CloudFront's pricing regions.
type Region struct {
	Code string `json:"code"` // na, eu, me, sa, jp, au, ap, in
	Name string `json:"name"`
	// PricePerGB is CloudFront's price in USD per GB of data transfer out
	// to the internet in the first 10 TB of a month.
	PricePerGB float64 `json:"pricePerGB"`
	// Countries are the ISO 3166-1 alpha-2 codes of the countries of the
	// region that the catalog knows, sorted.
	Countries []string `json:"countries"`
}

// Pricing region codes.
const (
	RegionNorthAmerica = "na" // United States, Mexico, Canada
	RegionEurope       = "eu" // Europe, Israel, Türkiye
	RegionMiddleEast   = "me" // South Africa, Kenya, Nigeria, Middle East
	RegionSouthAmerica = "sa" // South America
	RegionJapan        = "jp" // Japan
	RegionAustralia    = "au" // Australia, New Zealand
	RegionAsiaPacific  = "ap" // HK, ID, PH, SG, KR, TW, TH, MY, VN
	RegionIndia        = "in" // India
)

// CloudFront price classes.
const (
	PriceClass100 = "PriceClass_100"
	PriceClass200 = "PriceClass_200"
	PriceClassAll = "PriceClass_All"
)

// ErrUnknownPriceClass is returned by [PriceClassRegions] for a name that
// is not one of the three price classes.
var ErrUnknownPriceClass = errors.New("topology: unknown price class")

// regionTable is the country-to-region table, with the first-10-TB prices
// of CloudFront's pricing page (USD per GB). Countries that CloudFront does
// not name are placed by continent: every European country in eu, Egypt and
// the Arab states in me.
func regionTable() []Region {
	return []Region{
		{Code: RegionNorthAmerica, Name: "United States, Mexico & Canada", PricePerGB: 0.085,
			Countries: []string{"CA", "MX", "US"}},
		{Code: RegionEurope, Name: "Europe, Israel & Türkiye", PricePerGB: 0.085,
			Countries: []string{"AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES",
				"FI", "FR", "GB", "GR", "HR", "HU", "IE", "IL", "IS", "IT", "LT", "LU", "LV", "MD",
				"MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "TR", "UA"}},
		{Code: RegionMiddleEast, Name: "South Africa, Kenya, Nigeria & Middle East", PricePerGB: 0.110,
			Countries: []string{"AE", "BH", "EG", "JO", "KE", "KW", "NG", "OM", "QA", "SA", "ZA"}},
		{Code: RegionSouthAmerica, Name: "South America", PricePerGB: 0.110,
			Countries: []string{"AR", "BR", "CL", "CO", "EC", "PE", "PY"}},
		{Code: RegionJapan, Name: "Japan", PricePerGB: 0.114,
			Countries: []string{"JP"}},
		{Code: RegionAustralia, Name: "Australia & New Zealand", PricePerGB: 0.114,
			Countries: []string{"AU", "NZ"}},
		{Code: RegionAsiaPacific, Name: "Hong Kong, Indonesia, Philippines, Singapore, South Korea, Taiwan, Thailand, Malaysia & Vietnam", PricePerGB: 0.120,
			Countries: []string{"HK", "ID", "KR", "MY", "PH", "SG", "TH", "TW", "VN"}},
		{Code: RegionIndia, Name: "India", PricePerGB: 0.109,
			Countries: []string{"IN"}},
	}
}

// Regions returns the eight pricing regions in the order of CloudFront's
// price list: na, eu, me, sa, jp, au, ap, in. The slice is the caller's.
func Regions() []Region {
	rs := theCatalog().regions
	out := make([]Region, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].Countries = slices.Clone(r.Countries)
	}
	return out
}

// RegionByCode returns the pricing region with the given code and whether
// there is one.
func RegionByCode(code string) (Region, bool) {
	for _, r := range Regions() {
		if r.Code == code {
			return r, true
		}
	}
	return Region{}, false
}

// RegionOf returns the pricing region code of a country (an ISO 3166-1
// alpha-2 code; case does not matter) and whether the table knows it.
func RegionOf(country string) (string, bool) {
	r, ok := theCatalog().countryRegion[strings.ToUpper(country)]
	return r, ok
}

// PriceClassRegions returns the region codes a CloudFront price class
// serves, in the order of [Regions]:
//
//	PriceClass_100  na, eu
//	PriceClass_200  na, eu, me, jp, ap, in
//	PriceClass_All  all eight
//
// Any other name is an error wrapping [ErrUnknownPriceClass].
func PriceClassRegions(priceClass string) ([]string, error) {
	switch priceClass {
	case PriceClass100:
		return []string{RegionNorthAmerica, RegionEurope}, nil
	case PriceClass200:
		return []string{RegionNorthAmerica, RegionEurope, RegionMiddleEast, RegionJapan,
			RegionAsiaPacific, RegionIndia}, nil
	case PriceClassAll:
		rs := theCatalog().regions
		codes := make([]string, len(rs))
		for i, r := range rs {
			codes[i] = r.Code
		}
		return codes, nil
	}
	return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownPriceClass, priceClass,
		PriceClass100, PriceClass200, PriceClassAll)
}

// InPriceClass reports whether a price class serves a region. It is false
// for an unknown region or price class.
func InPriceClass(region, priceClass string) bool {
	codes, err := PriceClassRegions(priceClass)
	return err == nil && slices.Contains(codes, region)
}
