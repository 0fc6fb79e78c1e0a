package pop

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// qualifiedOrigin answers with fields that a qualified no-cache or private
// keeps out of stored copies (RFC 9111 5.2.2.4, 5.2.2.7).
func qualifiedOrigin(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", `max-age=600, no-cache="Set-Cookie, X-Secret", private="X-User"`)
	rw.Header().Set("Set-Cookie", "session=abc")
	rw.Header().Set("X-Secret", "s")
	rw.Header().Set("X-User", "u")
	rw.Header().Set("X-Public", "p")
	io.WriteString(rw, "body")
}

func hasQualifiedFields(r response) (n int) {
	for _, f := range []string{"Set-Cookie", "X-Secret", "X-User"} {
		if r.header.Get(f) != "" {
			n++
		}
	}
	return n
}

// The response that was fetched for a viewer reaches that viewer whole; the
// stored copy (a hit, or another viewer's) has none of the listed fields.
func TestQualifiedNoCacheAndPrivateFields(t *testing.T) {
	w := newWorld(t, qualifiedOrigin, nil)
	first := w.get("/q")
	expectXCache(t, first, "Miss")
	if hasQualifiedFields(first) != 3 || first.header.Get("X-Public") != "p" {
		t.Fatalf("first response lost fields: %v", first.header)
	}
	second := w.get("/q")
	expectXCache(t, second, "Hit")
	if n := hasQualifiedFields(second); n != 0 || second.header.Get("X-Public") != "p" || second.body != "body" {
		t.Fatalf("stored copy kept %d qualified fields: %v", n, second.header)
	}
	if c := w.origin.count("/q"); c != 1 {
		t.Fatalf("origin asked %d times, want 1 (stored without the fields)", c)
	}
}

// Through the tiers: the first viewer gets the fields from the regional
// parent's fetch; a viewer of another edge, served from the parent's copy,
// does not.
func TestQualifiedFieldsThroughTiers(t *testing.T) {
	n := newNetwork(t, 2, 0, qualifiedOrigin, nil)
	first := n.get("EA1", "/q")
	if hasQualifiedFields(first) != 3 {
		t.Fatalf("first response through the tiers lost fields: %v", first.header)
	}
	other := n.get("EA2", "/q") // an edge miss, a regional hit
	if k := hasQualifiedFields(other); k != 0 || other.body != "body" {
		t.Fatalf("the regional copy gave another edge %d qualified fields: %v", k, other.header)
	}
	again := n.get("EA1", "/q")
	expectXCache(t, again, "Hit")
	if k := hasQualifiedFields(again); k != 0 {
		t.Fatalf("the edge's stored copy kept %d qualified fields", k)
	}
	if c := n.origin.count("/q"); c != 1 {
		t.Fatalf("origin asked %d times, want 1", c)
	}
}

// varyOrigin serves fixed objects whose Vary is spelled oddly, as origins
// do: Strata passes it on as it came unless it compresses.
func varyOrigin() func(http.ResponseWriter, *http.Request) {
	const odd = "Origin,  accept-language"
	return objectOrigin(map[string]object{
		"/small.html": {ctype: "text/html", body: textBody(500), kv: []string{"Vary", odd}},
		"/img.png":    {ctype: "image/png", body: textBody(20_000), kv: []string{"Vary", odd}},
		"/big.html":   {ctype: "text/html", body: textBody(20_000), kv: []string{"Vary", odd}},
		"/ae.html":    {ctype: "text/html", body: textBody(20_000), kv: []string{"Vary", "accept-encoding"}},
	})
}

func sameLines(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || strings.Join(a, "\n") == strings.Join(b, "\n"))
}

// Vary: Accept-Encoding is added only to a response that is, or for another
// viewer would be, compressed, and the origin's own Vary lines are kept
// byte for byte, through one PoP and through the tiers.
func TestVaryKeptUnlessCompressed(t *testing.T) {
	const odd = "Origin,  accept-language"
	cases := []struct {
		path, ae string
		want     []string
	}{
		{"/small.html", "gzip", []string{odd}}, // under CloudFront's 1,000 bytes: never compressed
		{"/img.png", "gzip", []string{odd}},    // not a compressible type
		{"/big.html", "gzip", []string{odd, "Accept-Encoding"}},
		{"/big.html", "", []string{odd, "Accept-Encoding"}}, // identity here, gzip for others
		{"/ae.html", "br", []string{"accept-encoding"}},     // already listed: not repeated
	}
	check := func(t *testing.T, get func(path string, kv ...string) response, label string) {
		t.Helper()
		for _, tc := range cases {
			for i := 0; i < 2; i++ { // the miss, then the hit
				r := get(tc.path, "Accept-Encoding", tc.ae)
				if !sameLines(r.header.Values("Vary"), tc.want) {
					t.Fatalf("%s %s (Accept-Encoding %q, request %d): Vary %q, want %q", label, tc.path, tc.ae, i+1, r.header.Values("Vary"), tc.want)
				}
			}
		}
	}
	t.Run("one PoP", func(t *testing.T) {
		w := newWorld(t, varyOrigin(), compressOn)
		check(t, w.get, "GET")
		// An uncached response (pass) follows the same rule.
		for _, tc := range cases[:3] {
			r := w.do(http.MethodPost, tc.path, "Accept-Encoding", tc.ae)
			if !sameLines(r.header.Values("Vary"), tc.want) {
				t.Fatalf("POST %s: Vary %q, want %q", tc.path, r.header.Values("Vary"), tc.want)
			}
		}
	})
	t.Run("tiers", func(t *testing.T) {
		n := newNetwork(t, 1, 0, varyOrigin(), compressOn)
		check(t, func(path string, kv ...string) response { return n.get("EA1", path, kv...) }, "EA1")
	})
}
