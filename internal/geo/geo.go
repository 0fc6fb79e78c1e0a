// Package geo maps viewer IP addresses to locations using a MaxMind-format
// (.mmdb) database and renders CloudFront's viewer-location headers
// (reference/cloudfront.md b.4).
//
// Supported record layouts:
//   - GeoLite2/GeoIP2 Country and City ({"country": {"iso_code", "names"},
//     "subdivisions": [...], "city": {"names"}, "postal": {"code"},
//     "location": {"latitude", "longitude", "time_zone", "metro_code"}});
//   - ip-location-db "country" ({"country_code": "DE"});
//   - an "autonomous_system_number" key (GeoLite2-ASN, ip-location-db asn),
//     alone or next to the above.
package geo

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what the database knows about an address ("" / 0 when unknown).
type Location struct {
	Country     string // ISO 3166-1 alpha-2, e.g. "DE"
	CountryName string // English name, e.g. "Germany"
	Region      string // ISO 3166-2 first-level subdivision code, e.g. "BE"
	RegionName  string
	City        string
	PostalCode  string
	TimeZone    string // IANA, e.g. "Europe/Berlin"
	Latitude    float64
	Longitude   float64
	MetroCode   uint // US DMA code; 0 when unknown
	ASN         uint
	HasCoords   bool
}

// IsZero reports whether l carries no information.
func (l Location) IsZero() bool { return l == Location{} }

// DB is an open geo database. It is safe for concurrent use.
type DB struct {
	r      *maxminddb.Reader
	closed atomic.Bool
}

// Open opens a MaxMind-format database file.
func Open(path string) (db *DB, err error) {
	defer func() {
		// The reader validates the file, but a corrupt file must never take
		// the process down.
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("geo: open %s: corrupt database: %v", path, p)
		}
	}()
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	// Not r.Verify(): it rejects usable databases over metadata details
	// (e.g. an empty description). Corruption found later makes Lookup
	// return a zero Location.
	if r.Metadata.NodeCount == 0 || (r.Metadata.IPVersion != 4 && r.Metadata.IPVersion != 6) {
		_ = r.Close()
		return nil, fmt.Errorf("geo: open %s: not a usable MaxMind database", path)
	}
	if res := r.Lookup(netip.IPv4Unspecified()); res.Err() != nil {
		_ = r.Close()
		return nil, fmt.Errorf("geo: open %s: %w", path, res.Err())
	}
	return &DB{r: r}, nil
}

// Close releases the database. Lookups after Close return a zero Location.
func (d *DB) Close() error {
	if d == nil || d.closed.Swap(true) {
		return nil
	}
	return d.r.Close()
}

type names struct {
	En string `maxminddb:"en"`
}

type place struct {
	ISOCode string `maxminddb:"iso_code"`
	Names   names  `maxminddb:"names"`
}

// record is the union of the supported layouts.
type record struct {
	Country           place   `maxminddb:"country"`
	RegisteredCountry place   `maxminddb:"registered_country"`
	Subdivisions      []place `maxminddb:"subdivisions"`
	City              struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
		TimeZone  string   `maxminddb:"time_zone"`
		MetroCode uint     `maxminddb:"metro_code"`
	} `maxminddb:"location"`
	// ip-location-db "country" layout.
	CountryCode string `maxminddb:"country_code"`
	// GeoLite2-ASN / ip-location-db asn layout.
	ASN uint `maxminddb:"autonomous_system_number"`
}

// Lookup returns what the database knows about ip. It never panics; an
// unknown or invalid address, a closed DB or a decoding error yields a zero
// Location. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are looked up as
// IPv4; as in every MaxMind IPv6 database, IPv4-compatible ones (::a.b.c.d)
// also land in the IPv4 data.
func (d *DB) Lookup(ip netip.Addr) (loc Location) {
	loc, _ = d.LookupNetwork(ip)
	return loc
}

// LookupNetwork is [DB.Lookup] that also returns the database network the
// address fell in: the range the answer holds for, whether or not the
// database has a record for it (a DNS server echoes its length as the EDNS
// Client Subnet scope). IPv4 addresses get IPv4 prefixes. The prefix is
// invalid when the address is, or the database is closed or unreadable.
func (d *DB) LookupNetwork(ip netip.Addr) (loc Location, network netip.Prefix) {
	if d == nil || d.closed.Load() || !ip.IsValid() {
		return Location{}, netip.Prefix{}
	}
	defer func() {
		if recover() != nil {
			loc, network = Location{}, netip.Prefix{}
		}
	}()
	ip = ip.Unmap().WithZone("")
	if ip.Is6() && d.r.Metadata.IPVersion == 4 {
		return Location{}, netip.Prefix{}
	}
	res := d.r.Lookup(ip)
	if res.Err() != nil {
		return Location{}, netip.Prefix{}
	}
	network = res.Prefix()
	if network.Addr().Is4() != ip.Is4() {
		// An IPv4 address outside the database's IPv4 subtree: the
		// prefix the reader reports is an IPv6 one.
		network = netip.Prefix{}
	}
	if !res.Found() {
		return Location{}, network
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Location{}, network
	}
	return rec.location(), network
}

func (rec *record) location() Location {
	l := Location{
		Country:     rec.Country.ISOCode,
		CountryName: rec.Country.Names.En,
		City:        rec.City.Names.En,
		PostalCode:  rec.Postal.Code,
		TimeZone:    rec.Location.TimeZone,
		MetroCode:   rec.Location.MetroCode,
		ASN:         rec.ASN,
	}
	if l.Country == "" {
		if rec.CountryCode != "" {
			l.Country = strings.ToUpper(rec.CountryCode)
		} else if rec.RegisteredCountry.ISOCode != "" {
			// GeoLite2 records for anycast/satellite ranges carry only the
			// registered country.
			l.Country = rec.RegisteredCountry.ISOCode
			l.CountryName = rec.RegisteredCountry.Names.En
		}
	}
	if len(rec.Subdivisions) > 0 {
		l.Region = rec.Subdivisions[0].ISOCode
		l.RegionName = rec.Subdivisions[0].Names.En
	}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		l.Latitude, l.Longitude, l.HasCoords = *rec.Location.Latitude, *rec.Location.Longitude, true
	}
	return l
}

// Header names (canonical form) of the viewer-location headers.
const (
	HeaderAddress           = "Cloudfront-Viewer-Address"
	HeaderASN               = "Cloudfront-Viewer-Asn"
	HeaderCountry           = "Cloudfront-Viewer-Country"
	HeaderCountryName       = "Cloudfront-Viewer-Country-Name"
	HeaderCountryRegion     = "Cloudfront-Viewer-Country-Region"
	HeaderCountryRegionName = "Cloudfront-Viewer-Country-Region-Name"
	HeaderCity              = "Cloudfront-Viewer-City"
	HeaderPostalCode        = "Cloudfront-Viewer-Postal-Code"
	HeaderTimeZone          = "Cloudfront-Viewer-Time-Zone"
	HeaderLatitude          = "Cloudfront-Viewer-Latitude"
	HeaderLongitude         = "Cloudfront-Viewer-Longitude"
	HeaderMetroCode         = "Cloudfront-Viewer-Metro-Code"
)

// ViewerHeaders returns CloudFront's viewer-location headers for l and the
// viewer's remoteAddr (as in http.Request.RemoteAddr, "ip:port" or
// "[ipv6]:port"). Only headers whose value is known are set:
//   - CloudFront-Viewer-Address "ip:port" (IPv4-mapped addresses unmapped;
//     IPv6 written without brackets, as CloudFront does);
//   - CloudFront-Viewer-ASN (decimal);
//   - Country (ISO alpha-2), Country-Name, Country-Region (ISO 3166-2
//     subdivision code, at most 3 chars), Country-Region-Name, City,
//     Postal-Code, Time-Zone (IANA);
//   - Latitude/Longitude with 5 decimals ("42.30680", "-83.70590") when
//     the database has coordinates;
//   - Metro-Code, US only.
//
// Non-ASCII bytes (and control characters and '%') are percent-encoded.
func ViewerHeaders(l Location, remoteAddr string) http.Header {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{encodeValue(v)}
		}
	}
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		h[HeaderAddress] = []string{ap.Addr().Unmap().WithZone("").String() + ":" + strconv.Itoa(int(ap.Port()))}
	}
	if l.ASN != 0 {
		h[HeaderASN] = []string{strconv.FormatUint(uint64(l.ASN), 10)}
	}
	set(HeaderCountry, l.Country)
	set(HeaderCountryName, l.CountryName)
	if len(l.Region) <= 3 {
		set(HeaderCountryRegion, l.Region)
	}
	set(HeaderCountryRegionName, l.RegionName)
	set(HeaderCity, l.City)
	set(HeaderPostalCode, l.PostalCode)
	set(HeaderTimeZone, l.TimeZone)
	if l.HasCoords {
		h[HeaderLatitude] = []string{strconv.FormatFloat(l.Latitude, 'f', 5, 64)}
		h[HeaderLongitude] = []string{strconv.FormatFloat(l.Longitude, 'f', 5, 64)}
	}
	if l.MetroCode != 0 && l.Country == "US" {
		h[HeaderMetroCode] = []string{strconv.FormatUint(uint64(l.MetroCode), 10)}
	}
	return h
}

// encodeValue percent-encodes bytes that may not appear verbatim in a
// header value: non-ASCII, control characters, and '%' itself (so the
// encoding is reversible).
func encodeValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte) bool { return c < 0x20 || c >= 0x7f || c == '%' }
