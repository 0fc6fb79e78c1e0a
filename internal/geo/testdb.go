package geo

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteTestDB writes a MaxMind-format database to path that maps each CIDR
// range of ranges to its Location, in the GeoIP2-City record layout (so Open
// reads it back). It is meant for tests and the demo.
//
// The database is an IPv6 tree; IPv4 ranges live in the ::/96 subtree and are
// aliased from ::ffff:0:0/96, so both "127.2.3.4" and "::ffff:127.2.3.4" find
// them. Reserved ranges (loopback, private) are allowed. Ranges are inserted
// from the widest to the narrowest, so a narrower range overrides a wider one.
func WriteTestDB(path string, ranges map[string]Location) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Strata-Test-City",
		Description:             map[string]string{"en": "Strata test geo database"},
		IncludeReservedNetworks: true,
		IPVersion:               6,
		Languages:               []string{"en"},
		RecordSize:              28,
	})
	if err != nil {
		return fmt.Errorf("geo: new tree: %w", err)
	}
	type entry struct {
		p   netip.Prefix
		loc Location
	}
	entries := make([]entry, 0, len(ranges))
	for _, cidr := range slices.Sorted(maps.Keys(ranges)) {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("geo: range %q: %w", cidr, err)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return fmt.Errorf("geo: range %q: IPv4-mapped prefix shorter than /96", cidr)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		entries = append(entries, entry{p.Masked(), ranges[cidr]})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.p.Bits() - b.p.Bits() })
	for _, e := range entries {
		ipnet := &net.IPNet{
			IP:   net.IP(e.p.Addr().AsSlice()),
			Mask: net.CIDRMask(e.p.Bits(), e.p.Addr().BitLen()),
		}
		if err := tree.Insert(ipnet, e.loc.record()); err != nil {
			return fmt.Errorf("geo: insert %s: %w", e.p, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("geo: %w", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("geo: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geo: write %s: %w", path, err)
	}
	return nil
}

// record renders l in the GeoIP2-City layout, leaving out unknown fields.
func (l Location) record() mmdbtype.Map {
	m := mmdbtype.Map{}
	if l.Country != "" || l.CountryName != "" {
		c := mmdbtype.Map{}
		if l.Country != "" {
			c["iso_code"] = mmdbtype.String(l.Country)
		}
		if l.CountryName != "" {
			c["names"] = mmdbtype.Map{"en": mmdbtype.String(l.CountryName)}
		}
		m["country"] = c
	}
	if l.Region != "" || l.RegionName != "" {
		s := mmdbtype.Map{}
		if l.Region != "" {
			s["iso_code"] = mmdbtype.String(l.Region)
		}
		if l.RegionName != "" {
			s["names"] = mmdbtype.Map{"en": mmdbtype.String(l.RegionName)}
		}
		m["subdivisions"] = mmdbtype.Slice{s}
	}
	if l.City != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(l.City)}}
	}
	if l.PostalCode != "" {
		m["postal"] = mmdbtype.Map{"code": mmdbtype.String(l.PostalCode)}
	}
	loc := mmdbtype.Map{}
	if l.HasCoords {
		loc["latitude"] = mmdbtype.Float64(l.Latitude)
		loc["longitude"] = mmdbtype.Float64(l.Longitude)
	}
	if l.TimeZone != "" {
		loc["time_zone"] = mmdbtype.String(l.TimeZone)
	}
	if l.MetroCode != 0 {
		loc["metro_code"] = mmdbtype.Uint16(l.MetroCode)
	}
	if len(loc) > 0 {
		m["location"] = loc
	}
	if l.ASN != 0 {
		m["autonomous_system_number"] = mmdbtype.Uint32(l.ASN)
	}
	return m
}

// LoopbackTestRanges is the test/demo mapping of TESTING.md: loopback
// sub-ranges stand for viewers in different countries. 127.0.0.0/16 (where
// the PoPs listen) stays unknown.
func LoopbackTestRanges() map[string]Location {
	return map[string]Location{
		"127.1.0.0/16": {Country: "US", CountryName: "United States", Region: "NY", RegionName: "New York",
			City: "New York", PostalCode: "10001", TimeZone: "America/New_York",
			Latitude: 40.71427, Longitude: -74.00597, HasCoords: true, MetroCode: 501, ASN: 64501},
		"127.2.0.0/16": {Country: "DE", CountryName: "Germany", Region: "BE", RegionName: "Land Berlin",
			City: "Berlin", PostalCode: "10117", TimeZone: "Europe/Berlin",
			Latitude: 52.52437, Longitude: 13.41053, HasCoords: true, ASN: 64502},
		"127.3.0.0/16": {Country: "JP", CountryName: "Japan", Region: "13", RegionName: "Tokyo",
			City: "Tokyo", PostalCode: "100-0001", TimeZone: "Asia/Tokyo",
			Latitude: 35.6895, Longitude: 139.69171, HasCoords: true, ASN: 64503},
		"127.4.0.0/16": {Country: "BR", CountryName: "Brazil", Region: "SP", RegionName: "São Paulo",
			City: "São Paulo", PostalCode: "01000-000", TimeZone: "America/Sao_Paulo",
			Latitude: -23.5475, Longitude: -46.63611, HasCoords: true, ASN: 64504},
		"127.5.0.0/16": {Country: "IN", CountryName: "India", Region: "MH", RegionName: "Maharashtra",
			City: "Mumbai", PostalCode: "400001", TimeZone: "Asia/Kolkata",
			Latitude: 19.07283, Longitude: 72.88261, HasCoords: true, ASN: 64505},
		"127.6.0.0/16": {Country: "AU", CountryName: "Australia", Region: "NSW", RegionName: "New South Wales",
			City: "Sydney", PostalCode: "2000", TimeZone: "Australia/Sydney",
			Latitude: -33.86785, Longitude: 151.20732, HasCoords: true, ASN: 64506},
		"127.7.0.0/16": {Country: "GB", CountryName: "United Kingdom", Region: "ENG", RegionName: "England",
			City: "London", PostalCode: "EC1A", TimeZone: "Europe/London",
			Latitude: 51.50853, Longitude: -0.12574, HasCoords: true, ASN: 64507},
	}
}
