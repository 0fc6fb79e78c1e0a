package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
)

// strata validate reads the files a configuration names: a missing geo
// database is refused with its field path (it used to pass validate and
// fail run), as are numbers out of range; a database that loads passes.
func TestValidateChecksFilesAndBounds(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "country.mmdb")
	if err := geo.WriteTestDB(db, geo.LoopbackTestRanges()); err != nil {
		t.Fatal(err)
	}
	const dist = `
distributions:
  - id: shop
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o}
`
	for _, tc := range []struct {
		name, doc string
		code      int
		want      string // in stderr (code 1) or stdout (code 0)
	}{
		{"missing geo database", "pop: {geoDatabase: " + filepath.Join(dir, "missing.mmdb") + "}\n" + dist,
			1, "pop.geoDatabase (line 1): geo: open " + filepath.Join(dir, "missing.mmdb")},
		{"geo database", "pop: {geoDatabase: " + db + "}\n" + dist, 0, "ok (1 distribution(s))"},
		{"TTL past a duration", "cachePolicies: [{id: p, maxTTL: 10000000000}]\n" + dist,
			1, "cachePolicies[0].maxTTL (line 1): 10000000000 is out of range 0..3153600000"},
		{"memory cache size", "pop: {memoryCacheSize: 4TiB}\n" + dist, 1, "pop.memoryCacheSize (line 1): 4TiB is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "strata.yaml")
			if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := cmdValidate([]string{"--config", path}, &stdout, &stderr)
			out := stdout.String()
			if tc.code != 0 {
				out = stderr.String()
			}
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q; want %q", code, tc.code, stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}

// strata run --origin --default-ttl is bounded as defaultTTL is, and says
// so naming the flag.
func TestQuickModeDefaultTTLBounds(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want string // "" = accepted
	}{
		{24 * time.Hour, ""},
		{0, ""},
		{time.Duration(config.MaxSeconds) * time.Second, ""},
		{time.Duration(config.MaxSeconds+1) * time.Second, "--default-ttl: 876000h0m1s is out of range 0..876000h0m0s"},
		{-time.Second, "--default-ttl: -1s is out of range"},
	} {
		_, err := quickConfig("http://127.0.0.1:9000", tc.ttl)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("--default-ttl %s: err %v, want %q", tc.ttl, err, tc.want)
		}
	}
}
