package cache

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want func(d Directives) bool
	}{
		{"max-age", []string{"max-age=60"}, func(d Directives) bool { return d.MaxAge == 60*time.Second && d.SMaxAge == -1 }},
		{"s-maxage and public", []string{"public, s-maxage=10, max-age=5"}, func(d Directives) bool {
			return d.Public && d.SMaxAge == 10*time.Second && d.MaxAge == 5*time.Second
		}},
		{"first duplicate wins", []string{"max-age=5", "max-age=100"}, func(d Directives) bool { return d.MaxAge == 5*time.Second }},
		{"invalid is zero", []string{"max-age=abc"}, func(d Directives) bool { return d.MaxAge == 0 }},
		{"quoted", []string{`max-age="30"`}, func(d Directives) bool { return d.MaxAge == 30*time.Second }},
		{"qualified private", []string{`private="Set-Cookie, X-Foo", max-age=3`}, func(d Directives) bool {
			return !d.Private && len(d.PrivateFields) == 2 && d.PrivateFields[1] == "X-Foo" && d.MaxAge == 3*time.Second
		}},
		{"no-cache bare", []string{"no-cache"}, func(d Directives) bool { return d.NoCache }},
		{"case", []string{"No-Store, MUST-REVALIDATE"}, func(d Directives) bool { return d.NoStore && d.MustRevalidate }},
		{"stale", []string{"stale-while-revalidate=30, stale-if-error=60"}, func(d Directives) bool {
			return d.StaleWhileRevalidate == 30*time.Second && d.StaleIfError == 60*time.Second
		}},
		{"overflow clamps", []string{"max-age=99999999999999"}, func(d Directives) bool { return d.MaxAge == (1<<31)*time.Second }},
		{"no-transform", []string{"public, No-Transform"}, func(d Directives) bool { return d.NoTransform && d.Public }},
		{"empty", nil, func(d Directives) bool { return !d.Present && d.MaxAge == -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := ParseCacheControl(tt.in); !tt.want(d) {
				t.Errorf("ParseCacheControl(%q) = %+v", tt.in, d)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	ttl := TTLs{Min: 10 * time.Second, Default: time.Hour, Max: 2 * time.Hour}
	h := func(kv ...string) http.Header {
		out := http.Header{"Date": {date}}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name     string
		req      http.Header
		status   int
		resp     http.Header
		ttl      TTLs
		store    bool
		lifetime time.Duration
		reason   string
	}{
		{"default ttl", nil, 200, h(), ttl, true, time.Hour, ""},
		{"max-age", nil, 200, h("Cache-Control", "max-age=100"), ttl, true, 100 * time.Second, ""},
		{"s-maxage wins", nil, 200, h("Cache-Control", "max-age=100, s-maxage=200"), ttl, true, 200 * time.Second, ""},
		{"clamped up to min", nil, 200, h("Cache-Control", "max-age=1"), ttl, true, 10 * time.Second, ""},
		{"clamped down to max", nil, 200, h("Cache-Control", "max-age=99999"), ttl, true, 2 * time.Hour, ""},
		{"expires", nil, 200, h("Expires", now.Add(30*time.Minute).Format(http.TimeFormat)), ttl, true, 30 * time.Minute, ""},
		{"invalid expires is stale", nil, 200, h("Expires", "0", "Etag", `"x"`), TTLs{Max: time.Hour, Default: time.Hour}, true, 0, ""},
		{"no-store", nil, 200, h("Cache-Control", "no-store, max-age=100"), ttl, false, 0, "no-store"},
		{"private", nil, 200, h("Cache-Control", "private, max-age=100"), ttl, false, 0, "private"},
		{"no-cache stored, lifetime 0", nil, 200, h("Cache-Control", "no-cache", "Etag", `"a"`), ttl, true, 0, ""},
		{"vary star", nil, 200, h("Vary", "Accept, *"), ttl, false, 0, "vary *"},
		{"authorization", http.Header{"Authorization": {"x"}}, 200, h("Cache-Control", "max-age=100"), ttl, false, 0, "authorization"},
		{"authorization public", http.Header{"Authorization": {"x"}}, 200, h("Cache-Control", "public, max-age=100"), ttl, true, 100 * time.Second, ""},
		{"authorization s-maxage", http.Header{"Authorization": {"x"}}, 200, h("Cache-Control", "s-maxage=100"), ttl, true, 100 * time.Second, ""},
		{"cookie", http.Header{"Cookie": {"a=b"}}, 200, h(), ttl, false, 0, "cookie"},
		{"cookie public", http.Header{"Cookie": {"a=b"}}, 200, h("Cache-Control", "public"), ttl, true, time.Hour, ""},
		{"set-cookie", nil, 200, h("Set-Cookie", "a=b"), ttl, false, 0, "set-cookie"},
		{"set-cookie private-qualified", nil, 200, h("Set-Cookie", "a=b", "Cache-Control", `private="Set-Cookie"`), ttl, true, time.Hour, ""},
		{"500 not cached", nil, 500, h("Cache-Control", "max-age=100"), ttl, false, 0, "status"},
		{"400 not cached", nil, 400, h(), ttl, false, 0, "status"},
		{"404 needs explicit", nil, 404, h(), ttl, false, 0, "status"},
		{"404 explicit", nil, 404, h("Cache-Control", "max-age=30"), ttl, true, 30 * time.Second, ""},
		{"301 default", nil, 301, h(), ttl, true, time.Hour, ""},
		{"206 never", nil, 206, h("Cache-Control", "max-age=30"), ttl, false, 0, "status"},
		{"targeted wins", nil, 200, h("Cache-Control", "no-store", "Cdn-Cache-Control", "max-age=50"), ttl, true, 50 * time.Second, ""},
		{"strata targeted wins over cdn", nil, 200, h("Cdn-Cache-Control", "max-age=50", "Strata-Cdn-Cache-Control", "max-age=70"), ttl, true, 70 * time.Second, ""},
		{"targeted no-store", nil, 200, h("Cache-Control", "max-age=100", "Cdn-Cache-Control", "no-store"), ttl, false, 0, "no-store"},
		{"targeted ignores expires", nil, 200, h("Cdn-Cache-Control", "public", "Expires", now.Add(time.Minute).Format(http.TimeFormat)), ttl, true, time.Hour, ""},
		{"ttl 0 without validators", nil, 200, h(), TTLs{Max: time.Hour}, false, 0, "stale on arrival"},
		{"ttl 0 with validators", nil, 200, h("Etag", `"a"`), TTLs{Max: time.Hour}, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = http.Header{}
			}
			v := Evaluate(req, tt.status, tt.resp, tt.ttl, now, -1)
			if v.Store != tt.store || v.Lifetime != tt.lifetime || v.Reason != tt.reason {
				t.Errorf("got store=%v lifetime=%v reason=%q; want %v %v %q", v.Store, v.Lifetime, v.Reason, tt.store, tt.lifetime, tt.reason)
			}
		})
	}
}

func TestErrorTTL(t *testing.T) {
	v := Evaluate(http.Header{}, 503, http.Header{}, TTLs{Max: time.Hour, Default: time.Hour}, time.Now(), 10*time.Second)
	if !v.Store || v.Lifetime != 10*time.Second {
		t.Fatalf("configured error caching: %+v", v)
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{"Date": {now.Add(-3 * time.Second).Format(http.TimeFormat)}, "Age": {"100"}}
	// corrected age: 100 s from upstream + 1 s of response delay beats 3 s apparent.
	got := InitialAge(h, now.Add(-time.Second), now)
	if got != 101*time.Second {
		t.Fatalf("InitialAge = %v, want 101s", got)
	}
	o := NewObject(200, h, BodyFrom([]byte("x")), now.Add(-time.Second), now, Verdict{Lifetime: 200 * time.Second})
	if a := o.Age(now.Add(50 * time.Second)); a != 151*time.Second {
		t.Fatalf("Age after 50s = %v", a)
	}
	if !o.Fresh(now.Add(98*time.Second)) || o.Fresh(now.Add(100*time.Second)) {
		t.Fatal("freshness boundary wrong")
	}
	if o.Header.Get("Age") != "" {
		t.Fatal("Age must not be stored")
	}
}

func TestStaleWindows(t *testing.T) {
	now := time.Now()
	o := &Object{ResponseTime: now, Lifetime: 10 * time.Second, StaleWhileRevalidate: 5 * time.Second, StaleIfError: 20 * time.Second}
	if !o.StaleWhileRevalidateOK(now.Add(14*time.Second)) || o.StaleWhileRevalidateOK(now.Add(16*time.Second)) {
		t.Error("stale-while-revalidate window wrong")
	}
	// The origin's stale-if-error wins over the policy's default.
	for _, dflt := range []time.Duration{-1, 0, time.Hour} {
		if !o.StaleIfErrorOK(now.Add(29*time.Second), dflt) || o.StaleIfErrorOK(now.Add(31*time.Second), dflt) {
			t.Errorf("stale-if-error window wrong (default %v)", dflt)
		}
	}
	// Without one, the default decides: negative is without limit, 0 never.
	o.StaleIfError = -1
	if !o.StaleIfErrorOK(now.Add(1000*time.Hour), -1) {
		t.Error("no stale-if-error, no limit: stale refused")
	}
	if o.StaleIfErrorOK(now.Add(11*time.Second), 0) {
		t.Error("no stale-if-error, default 0: stale served")
	}
	if !o.StaleIfErrorOK(now.Add(69*time.Second), time.Minute) || o.StaleIfErrorOK(now.Add(71*time.Second), time.Minute) {
		t.Error("default window wrong")
	}
	// stale-if-error=0 from the origin forbids it whatever the default.
	o.StaleIfError = 0
	if o.StaleIfErrorOK(now.Add(11*time.Second), -1) {
		t.Error("stale-if-error=0 ignored")
	}
	o.StaleIfError = -1
	o.MustRevalidate = true
	if o.StaleIfErrorOK(now.Add(11*time.Second), -1) {
		t.Error("must-revalidate forbids stale")
	}
}

// Evaluate keeps an absent stale-if-error apart from stale-if-error=0.
func TestStaleIfErrorAbsentOrZero(t *testing.T) {
	now := time.Now()
	for cc, want := range map[string]time.Duration{"max-age=60": -1, "max-age=60, stale-if-error=0": 0, "max-age=60, stale-if-error=30": 30 * time.Second} {
		v := Evaluate(http.Header{}, 200, http.Header{"Cache-Control": {cc}}, TTLs{Max: time.Hour}, now, -1)
		if v.StaleIfError != want {
			t.Errorf("%q: StaleIfError %v, want %v", cc, v.StaleIfError, want)
		}
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `private="a,b", no-cache`, "s-maxage=-1", `no-cache="`, ",,,=", "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseCacheControl([]string{s})
		if d.MaxAge < -1 || d.SMaxAge < -1 || d.MaxAge > (1<<31)*time.Second {
			t.Fatalf("out of range: %+v", d)
		}
	})
}

// The disk tier keeps an absent stale-if-error apart from stale-if-error=0.
func TestDiskMetaStaleIfError(t *testing.T) {
	for _, sie := range []time.Duration{-1, 0, 30 * time.Second} {
		var m diskMeta
		if err := json.Unmarshal(encodeMeta(&Object{Status: 200, Header: http.Header{}, StaleIfError: sie}), &m); err != nil {
			t.Fatal(err)
		}
		if got := m.object(nil).StaleIfError; got != sie {
			t.Errorf("stale-if-error %v read back as %v", sie, got)
		}
	}
}
