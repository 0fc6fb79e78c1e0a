package geo

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func openTestDB(t *testing.T, ranges map[string]Location) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	if err := WriteTestDB(path, ranges); err != nil {
		t.Fatalf("WriteTestDB: %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestLoopbackRanges(t *testing.T) {
	db := openTestDB(t, LoopbackTestRanges())
	cases := []struct {
		ip, country, city string
		lat, lon          float64
	}{
		{"127.1.0.1", "US", "New York", 40.71427, -74.00597},
		{"127.1.255.254", "US", "New York", 40.71427, -74.00597},
		{"127.2.3.4", "DE", "Berlin", 52.52437, 13.41053},
		{"127.3.0.9", "JP", "Tokyo", 35.6895, 139.69171},
		{"127.4.100.100", "BR", "São Paulo", -23.5475, -46.63611},
		{"127.5.1.1", "IN", "Mumbai", 19.07283, 72.88261},
		{"127.6.7.8", "AU", "Sydney", -33.86785, 151.20732},
		{"127.7.0.0", "GB", "London", 51.50853, -0.12574},
	}
	for _, c := range cases {
		for _, ip := range []netip.Addr{
			netip.MustParseAddr(c.ip),
			netip.AddrFrom16(netip.MustParseAddr(c.ip).As16()), // ::ffff:a.b.c.d
			netip.MustParseAddr("::ffff:" + c.ip),
			netip.MustParseAddr("::" + c.ip), // IPv4-compatible: the ::/96 subtree
		} {
			l := db.Lookup(ip)
			if l.Country != c.country || l.City != c.city || !l.HasCoords || l.Latitude != c.lat || l.Longitude != c.lon {
				t.Errorf("Lookup(%s) = %+v; want %s/%s (%v,%v)", ip, l, c.country, c.city, c.lat, c.lon)
			}
			want := LoopbackTestRanges()
			for cidr, loc := range want {
				if netip.MustParsePrefix(cidr).Contains(ip.Unmap()) && l != loc {
					t.Errorf("Lookup(%s) = %+v; want %+v", ip, l, loc)
				}
			}
		}
	}
	for _, ip := range []string{"127.0.0.1", "127.0.255.255", "127.8.0.1", "10.0.0.1", "8.8.8.8", "::1", "2001:db8::1", "::ffff:127.0.0.1", "0.0.0.0", "255.255.255.255"} {
		if l := db.Lookup(netip.MustParseAddr(ip)); !l.IsZero() {
			t.Errorf("Lookup(%s) = %+v; want zero", ip, l)
		}
	}
	if l := db.Lookup(netip.Addr{}); !l.IsZero() {
		t.Errorf("Lookup(invalid) = %+v; want zero", l)
	}
}

func TestIPv6AndNesting(t *testing.T) {
	ranges := LoopbackTestRanges()
	ranges["2001:db8:1::/48"] = Location{Country: "FR", CountryName: "France", City: "Paris"}
	ranges["127.2.9.0/24"] = Location{Country: "AT", CountryName: "Austria"} // narrower wins
	ranges["::ffff:127.9.0.0/112"] = Location{Country: "CH"}                 // mapped form accepted
	db := openTestDB(t, ranges)
	for ip, want := range map[string]string{
		"2001:db8:1::5":      "FR",
		"2001:db8:1:ffff::1": "FR",
		"2001:db8:2::1":      "",
		"127.2.9.200":        "AT",
		"127.2.10.1":         "DE",
		"127.9.0.1":          "CH",
		"::ffff:127.9.0.1":   "CH",
		"fe80::1%eth0":       "",
	} {
		if got := db.Lookup(netip.MustParseAddr(ip)).Country; got != want {
			t.Errorf("Lookup(%s).Country = %q; want %q", ip, got, want)
		}
	}
	if l := db.Lookup(netip.MustParseAddr("2001:db8:1::5")); l.HasCoords || l.City != "Paris" {
		t.Errorf("IPv6 lookup = %+v", l)
	}
}

// TestLookupNetwork: the network an address fell in, found or not; IPv4
// addresses get IPv4 prefixes, in the mapped form too.
func TestLookupNetwork(t *testing.T) {
	ranges := LoopbackTestRanges()
	ranges["127.2.9.0/24"] = Location{Country: "AT"}
	ranges["2001:db8:1::/48"] = Location{Country: "FR"}
	db := openTestDB(t, ranges)
	for _, c := range []struct{ ip, country, network string }{
		{"127.2.3.4", "DE", "127.2.0.0/21"}, // beside the /24 carved out of it
		{"::ffff:127.2.3.4", "DE", "127.2.0.0/21"},
		{"127.2.9.9", "AT", "127.2.9.0/24"},
		{"127.2.200.1", "DE", "127.2.128.0/17"},
		{"2001:db8:1::5", "FR", "2001:db8:1::/48"},
		{"127.0.0.1", "", "127.0.0.0/16"}, // not found: the empty network
	} {
		l, n := db.LookupNetwork(netip.MustParseAddr(c.ip))
		if l.Country != c.country || n.String() != c.network {
			t.Errorf("LookupNetwork(%s) = %q %s; want %q %s", c.ip, l.Country, n, c.country, c.network)
		}
	}
	if _, n := db.LookupNetwork(netip.Addr{}); n.IsValid() {
		t.Errorf("invalid address: %s", n)
	}
	var closed *DB
	if l, n := closed.LookupNetwork(netip.MustParseAddr("127.2.3.4")); !l.IsZero() || n.IsValid() {
		t.Errorf("nil DB: %+v %s", l, n)
	}
}

// TestCountryCodeLayout reads an ip-location-db "country" database
// ({"country_code": "DE"}), here IPv4-only as those files are.
func TestCountryCodeLayout(t *testing.T) {
	for _, ipVersion := range []int{4, 6} {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "ip-location-db-country", IPVersion: ipVersion, IncludeReservedNetworks: true, RecordSize: 24})
		if err != nil {
			t.Fatal(err)
		}
		_, n, _ := net.ParseCIDR("127.2.0.0/16")
		if err := tree.Insert(n, mmdbtype.Map{"country_code": mmdbtype.String("DE")}); err != nil {
			t.Fatal(err)
		}
		_, n, _ = net.ParseCIDR("127.9.0.0/16")
		if err := tree.Insert(n, mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(3320), "autonomous_system_organization": mmdbtype.String("DTAG")}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "country.mmdb")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tree.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if l := db.Lookup(netip.MustParseAddr("127.2.3.4")); l != (Location{Country: "DE"}) {
			t.Errorf("v%d: Lookup = %+v", ipVersion, l)
		}
		if l := db.Lookup(netip.MustParseAddr("::ffff:127.2.3.4")); l != (Location{Country: "DE"}) {
			t.Errorf("v%d: Lookup mapped = %+v", ipVersion, l)
		}
		if l := db.Lookup(netip.MustParseAddr("127.9.0.1")); l != (Location{ASN: 3320}) {
			t.Errorf("v%d: Lookup ASN = %+v", ipVersion, l)
		}
		if l := db.Lookup(netip.MustParseAddr("2001:db8::1")); !l.IsZero() {
			t.Errorf("v%d: Lookup v6 = %+v", ipVersion, l)
		}
		h := ViewerHeaders(db.Lookup(netip.MustParseAddr("127.2.3.4")), "127.2.3.4:1")
		if len(h) != 2 || h.Get("CloudFront-Viewer-Country") != "DE" {
			t.Errorf("v%d: headers = %v", ipVersion, h)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if l := db.Lookup(netip.MustParseAddr("127.2.3.4")); !l.IsZero() {
			t.Errorf("lookup after close = %+v", l)
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

func TestViewerHeaders(t *testing.T) {
	db := openTestDB(t, LoopbackTestRanges())
	h := ViewerHeaders(db.Lookup(netip.MustParseAddr("127.2.3.4")), "127.2.3.4:51234")
	want := map[string]string{
		"CloudFront-Viewer-Address":             "127.2.3.4:51234",
		"CloudFront-Viewer-ASN":                 "64502",
		"CloudFront-Viewer-Country":             "DE",
		"CloudFront-Viewer-Country-Name":        "Germany",
		"CloudFront-Viewer-Country-Region":      "BE",
		"CloudFront-Viewer-Country-Region-Name": "Land Berlin",
		"CloudFront-Viewer-City":                "Berlin",
		"CloudFront-Viewer-Postal-Code":         "10117",
		"CloudFront-Viewer-Time-Zone":           "Europe/Berlin",
		"CloudFront-Viewer-Latitude":            "52.52437",
		"CloudFront-Viewer-Longitude":           "13.41053",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers = %v; want exactly %d", h, len(want))
	}
	if h.Get("CloudFront-Viewer-Metro-Code") != "" {
		t.Error("metro code outside the US")
	}

	// US: metro code; coordinates padded to 5 decimals; negative longitude.
	h = ViewerHeaders(db.Lookup(netip.MustParseAddr("127.1.2.3")), "[::ffff:127.1.2.3]:443")
	for k, v := range map[string]string{
		"CloudFront-Viewer-Metro-Code": "501",
		"CloudFront-Viewer-Latitude":   "40.71427",
		"CloudFront-Viewer-Longitude":  "-74.00597",
		"CloudFront-Viewer-Address":    "127.1.2.3:443",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	h = ViewerHeaders(db.Lookup(netip.MustParseAddr("127.3.0.1")), "127.3.0.1:1")
	if got := h.Get("CloudFront-Viewer-Latitude"); got != "35.68950" {
		t.Errorf("latitude = %q; want 35.68950", got)
	}

	// Non-ASCII is percent-encoded.
	h = ViewerHeaders(db.Lookup(netip.MustParseAddr("127.4.0.1")), "127.4.0.1:80")
	if got := h.Get("CloudFront-Viewer-City"); got != "S%C3%A3o Paulo" {
		t.Errorf("city = %q", got)
	}

	// Unknown viewer: only the address.
	h = ViewerHeaders(db.Lookup(netip.MustParseAddr("127.0.0.1")), "127.0.0.1:40000")
	if len(h) != 1 || h.Get("CloudFront-Viewer-Address") != "127.0.0.1:40000" {
		t.Errorf("unknown viewer headers = %v", h)
	}
	// IPv6 address without brackets, like CloudFront.
	h = ViewerHeaders(Location{}, "[2001:db8::1]:8443")
	if got := h.Get("CloudFront-Viewer-Address"); got != "2001:db8::1:8443" {
		t.Errorf("v6 address = %q", got)
	}
	// Unparsable remote address: no Address header.
	if h = ViewerHeaders(Location{}, "garbage"); len(h) != 0 {
		t.Errorf("garbage addr headers = %v", h)
	}
	// Overlong region codes are not CloudFront region codes.
	if h = ViewerHeaders(Location{Region: "ABCD"}, ""); len(h) != 0 {
		t.Errorf("long region headers = %v", h)
	}
}

func TestConcurrentLookup(t *testing.T) {
	db := openTestDB(t, LoopbackTestRanges())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 2000 {
				db.Lookup(randomAddr(rng))
			}
		})
	}
	wg.Wait()
}

func TestOpenMalformed(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mmdb")
	if err := WriteTestDB(good, LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := map[string][]byte{
		"empty":     nil,
		"text":      []byte("this is not a maxmind database\n"),
		"truncated": data[:len(data)/2],
		"no-tree":   data[len(data)-200:],
	}
	for i := range 20 {
		c := append([]byte(nil), data...)
		for range 1 + rng.IntN(8) {
			c[rng.IntN(len(c))] = byte(rng.Uint32())
		}
		inputs["corrupt"+string(rune('a'+i))] = c
	}
	for name, b := range inputs {
		p := filepath.Join(dir, name+".mmdb")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := Open(p)
		if err != nil {
			continue // expected for most
		}
		// A corruption the verifier cannot see must still not panic.
		for range 200 {
			db.Lookup(randomAddr(rng))
		}
		db.Close()
	}
	if _, err := Open(filepath.Join(dir, "missing.mmdb")); err == nil {
		t.Error("Open(missing) succeeded")
	}
	for _, name := range []string{"empty", "text", "truncated", "no-tree"} {
		if _, err := Open(filepath.Join(dir, name+".mmdb")); err == nil {
			t.Errorf("Open(%s) succeeded", name)
		}
	}
}

func randomAddr(rng *rand.Rand) netip.Addr {
	switch rng.IntN(5) {
	case 0:
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom4(b)
	case 1:
		return netip.AddrFrom4([4]byte{127, byte(rng.IntN(10)), byte(rng.Uint32()), byte(rng.Uint32())})
	case 2:
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{127, byte(rng.IntN(10)), byte(rng.Uint32()), byte(rng.Uint32())}).As16())
	case 3:
		return netip.AddrFrom16([16]byte{12: 127, 13: byte(rng.IntN(10)), 14: byte(rng.Uint32()), 15: byte(rng.Uint32())}) // ::a.b.c.d
	default:
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom16(b)
	}
}

// asV4 is the IPv4 address a MaxMind IPv6 tree files ip under, if any:
// a.b.c.d, ::ffff:a.b.c.d and ::a.b.c.d.
func asV4(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() && netip.MustParsePrefix("::/96").Contains(ip.WithZone("")) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return ip
}

// TestLookupRandom: random addresses never panic, and the answer is exactly
// the range's Location (or zero outside every range).
func TestLookupRandom(t *testing.T) {
	ranges := LoopbackTestRanges()
	db := openTestDB(t, ranges)
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20000 {
		ip := randomAddr(rng)
		got := db.Lookup(ip)
		var want Location
		for cidr, loc := range ranges {
			if netip.MustParsePrefix(cidr).Contains(asV4(ip)) {
				want = loc
			}
		}
		if got != want {
			t.Fatalf("Lookup(%s) = %+v; want %+v", ip, got, want)
		}
	}
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"127.2.3.4", "::ffff:127.2.3.4", "::127.2.3.4", "127.0.0.1", "::", "fe80::1%lo"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	path := filepath.Join(f.TempDir(), "geo.mmdb")
	if err := WriteTestDB(path, LoopbackTestRanges()); err != nil {
		f.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, _ := netip.AddrFromSlice(b)
		l := db.Lookup(ip)
		if ip.IsValid() && !netip.MustParsePrefix("127.0.0.0/8").Contains(asV4(ip)) && !l.IsZero() {
			t.Fatalf("Lookup(%s) = %+v outside 127/8", ip, l)
		}
		_ = ViewerHeaders(l, netip.AddrPortFrom(ip, 1).String())
	})
}

func TestWriteTestDBErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteTestDB(filepath.Join(dir, "x.mmdb"), map[string]Location{"not-a-cidr": {}}); err == nil {
		t.Error("bad CIDR accepted")
	}
	if err := WriteTestDB(filepath.Join(dir, "nodir", "x.mmdb"), LoopbackTestRanges()); err == nil {
		t.Error("unwritable path accepted")
	}
}

func BenchmarkLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "geo.mmdb")
	if err := WriteTestDB(path, LoopbackTestRanges()); err != nil {
		b.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ip := netip.MustParseAddr("127.2.3.4")
	for b.Loop() {
		db.Lookup(ip)
	}
}

// The real database the set-up installs (scripts/geo-db.sh): a few addresses
// whose country is stable.
func TestRealCountryDatabase(t *testing.T) {
	path := os.Getenv("STRATA_GEO_DB")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("STRATA_GEO_DB is not set: run scripts/test.sh, which installs the database (scripts/geo-db.sh)")
		}
		t.Skip("STRATA_GEO_DB not set; scripts/geo-db.sh DIR installs the database")
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for ip, want := range map[string]string{"8.8.8.8": "US", "2001:4860:4860::8888": "US", "193.0.6.139": "NL"} {
		if got := db.Lookup(netip.MustParseAddr(ip)).Country; got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
	if got := db.Lookup(netip.MustParseAddr("127.0.0.1")).Country; got != "" {
		t.Errorf("loopback has a country: %q", got)
	}
}
