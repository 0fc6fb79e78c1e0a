package pop

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
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
		"/small.html": {ctype: "text/html", body: testutil.TextBody(500), kv: []string{"Vary", odd}},
		"/img.png":    {ctype: "image/png", body: testutil.TextBody(20_000), kv: []string{"Vary", odd}},
		"/big.html":   {ctype: "text/html", body: testutil.TextBody(20_000), kv: []string{"Vary", odd}},
		"/ae.html":    {ctype: "text/html", body: testutil.TextBody(20_000), kv: []string{"Vary", "accept-encoding"}},
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

// ageOrigin answers max-age=60 with the Age value the path names (after
// "/age/"; "none" for no Age).
func ageOrigin(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "max-age=60")
	rw.Header().Set("ETag", `"a"`)
	if v := strings.TrimPrefix(r.URL.Path, "/age/"); v != "none" {
		rw.Header()["Age"] = strings.Split(v, "|")
	}
	io.WriteString(rw, "aged")
}

// ttlOf reads the remaining freshness a hit reports in Cache-Status.
func ttlOf(r response) string {
	cs := r.header.Values("Cache-Status")
	last := cs[len(cs)-1]
	_, ttl, ok := strings.Cut(last, "ttl=")
	if !ok {
		return ""
	}
	ttl, _, _ = strings.Cut(ttl, ";")
	return ttl
}

// Age from upstream: a valid one shortens the stored lifetime, an invalid
// one (a sign, a letter, a list) is ignored, a huge one clamps and leaves
// nothing fresh — through one PoP, and through the tiers, where the edge
// takes the parent's Age.
func TestAgeFromUpstream(t *testing.T) {
	cases := []struct {
		path string
		ttl  string // remaining freshness of the hit, "" when the second request is not a hit
	}{
		{"/age/none", "60"},
		{"/age/50", "10"},
		{"/age/+5", "60"},
		{"/age/5s", "60"},
		{"/age/5|6", "60"},
		{"/age/99999999999999999999", ""},
	}
	w := newWorld(t, ageOrigin, nil)
	n := newNetwork(t, 2, 0, ageOrigin, nil)
	for _, tc := range cases {
		w.get(tc.path)
		r := w.get(tc.path)
		got := ""
		if r.header.Get("X-Cache") == "Hit from strata" {
			got = ttlOf(r)
		}
		if got != tc.ttl && !(tc.ttl != "" && got == itoa(mustAtoi(tc.ttl)-1)) { // a second may pass
			t.Fatalf("one PoP, %s: ttl %q, want %q (%v)", tc.path, got, tc.ttl, r.header.Values("Cache-Status"))
		}
		// Through the tiers: EA1 fills the regional cache, EA2 gets the
		// parent's copy with the parent's Age, then hits its own.
		n.get("EA1", tc.path)
		n.get("EA2", tc.path)
		r = n.get("EA2", tc.path)
		got = ""
		if r.header.Get("X-Cache") == "Hit from strata" {
			got = ttlOf(r)
		}
		if got != tc.ttl && !(tc.ttl != "" && got == itoa(mustAtoi(tc.ttl)-1)) {
			t.Fatalf("tiers, %s: ttl %q, want %q (%v)", tc.path, got, tc.ttl, r.header.Values("Cache-Status"))
		}
	}
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Expires as origins really send it: an invalid one (0) means already
// expired — stored with its validator, revalidated on the next request;
// an RFC 850 date and a "UTC" zone are read as dates.
func TestExpiresFromOrigin(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		exp := time.Now().Add(10 * time.Minute).UTC() // the test's clock is not moved
		switch r.URL.Path {
		case "/zero":
			rw.Header().Set("Expires", "0")
		case "/rfc850":
			rw.Header().Set("Expires", exp.Format(time.RFC850))
		case "/utc":
			rw.Header().Set("Expires", strings.Replace(exp.Format(http.TimeFormat), "GMT", "UTC", 1))
		}
		rw.Header().Set("ETag", `"e"`)
		if r.Header.Get("If-None-Match") == `"e"` {
			rw.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(rw, "x")
	}, nil)
	for _, tc := range []struct {
		path, second string
	}{{"/zero", "RefreshHit"}, {"/rfc850", "Hit"}, {"/utc", "Hit"}} {
		w.get(tc.path)
		r := w.get(tc.path)
		expectXCache(t, r, tc.second)
		if tc.second == "Hit" && ttlOf(r) != "600" && ttlOf(r) != "599" {
			t.Fatalf("%s: ttl %q, want 600", tc.path, ttlOf(r))
		}
	}
}

// Targeted cache control through the tiers (RFC 9213): the regional parent
// passes both fields to its edges, which apply them too; an invalid field
// is ignored at every tier (Cache-Control applies); only CDN-Cache-Control
// reaches the viewer.
func TestTargetedFieldsThroughTiers(t *testing.T) {
	n := newNetwork(t, 2, 0, func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		switch r.URL.Path {
		case "/strata":
			h.Set("Cache-Control", "no-store")
			h.Set("Strata-CDN-Cache-Control", "max-age=600")
		case "/invalid":
			h.Set("Cache-Control", "max-age=30")
			h.Set("CDN-Cache-Control", "max-age=6 0")
		case "/no-store":
			h.Set("Cache-Control", "max-age=600")
			h.Set("CDN-Cache-Control", "no-store")
		}
		io.WriteString(rw, "t")
	}, nil)
	for _, id := range []string{"EA1", "EA1", "EA2", "EA2"} {
		r := n.get(id, "/strata")
		if r.header.Get(strataTargeted) != "" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: viewer headers %v", id, r.header)
		}
	}
	if r := n.get("EA2", "/strata"); r.header.Get("X-Cache") != "Hit from strata" || mustAtoi(ttlOf(r)) < 590 {
		t.Fatalf("EA2 did not apply Strata-CDN-Cache-Control from its parent: %v", r.header.Values("Cache-Status"))
	}
	if c := n.origin.count("/strata"); c != 1 {
		t.Fatalf("/strata: origin asked %d times", c)
	}

	n.get("EA1", "/invalid")
	r := n.get("EA1", "/invalid")
	if ttl := ttlOf(r); r.header.Get("X-Cache") != "Hit from strata" || (ttl != "30" && ttl != "29") {
		t.Fatalf("invalid CDN-Cache-Control: %q ttl %q, want Cache-Control's 30 s", r.header.Get("X-Cache"), ttl)
	}
	if r.header.Get("Cdn-Cache-Control") != "max-age=6 0" {
		t.Fatalf("CDN-Cache-Control to the viewer: %q", r.header.Get("Cdn-Cache-Control"))
	}

	n.get("EA1", "/no-store")
	n.get("EA1", "/no-store")
	if c := n.origin.count("/no-store"); c != 2 {
		t.Fatalf("CDN-Cache-Control: no-store: origin asked %d times, want 2", c)
	}
}

// A viewer collapsed into the fetch another viewer started gets the stored
// copy: none of the fields a qualified no-cache or private keeps for the
// first response.
func TestQualifiedFieldsNotForCollapsedViewers(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		<-release
		qualifiedOrigin(rw, r)
	}, nil)
	results := make(chan response, 2)
	get := func() {
		resp, err := w.client.Get(w.url + "/c")
		if err != nil {
			results <- response{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		results <- response{resp.StatusCode, resp.Header, string(b)}
	}
	go get()
	waitFor(t, 5*time.Second, func() bool { return w.pop.flights.Users() == 2 }) // the fetch and its leader
	go get()
	waitFor(t, 5*time.Second, func() bool { return w.pop.flights.Users() == 3 }) // and one waiter
	open()
	first, withFields := 0, 0
	for i := 0; i < 2; i++ {
		r := <-results
		if r.status != 200 || r.body != "body" {
			t.Fatalf("response %d: %d %q", i, r.status, r.body)
		}
		switch k := hasQualifiedFields(r); {
		case k == 3 && !strings.Contains(r.header.Get("Cache-Status"), "collapsed"):
			first++
		case k == 0 && strings.Contains(r.header.Get("Cache-Status"), "collapsed"):
		default:
			withFields++
			t.Errorf("%d qualified fields, Cache-Status %q", k, r.header.Get("Cache-Status"))
		}
	}
	if first != 1 || withFields != 0 {
		t.Fatalf("%d first responses with the fields, %d other responses with some", first, withFields)
	}
}
