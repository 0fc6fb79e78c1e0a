package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/geo"
)

// TestValidateWarnsAboutInertFields: a valid configuration that sets a
// field nothing acts on yet is valid (exit 0), and each such field is named
// on standard error; one that sets none prints no warning.
func TestValidateWarnsAboutInertFields(t *testing.T) {
	const base = `distributions:
  - id: shop
    origins: [{id: web, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: web}
`
	quiet := writeFile(t, "quiet.yaml", base)
	var out, errOut bytes.Buffer
	if code := Validate([]string{"--config", quiet}, &out, &errOut); code != 0 || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if got := out.String(); !strings.HasSuffix(got, "ok (1 distribution(s))\n") {
		t.Errorf("stdout %q", got)
	}

	inert := writeFile(t, "inert.yaml", base+"    logging: {enabled: true}\n")
	out.Reset()
	errOut.Reset()
	if code := Validate([]string{"--config", inert}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{
		inert + ": warning: distributions[0].logging: accepted but not yet acted on (access logs come with the logging stage",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if got := out.String(); !strings.HasSuffix(got, "ok (1 distribution(s), 1 warning(s))\n") {
		t.Errorf("stdout %q", got)
	}
}

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
			code := Validate([]string{"--config", path}, &stdout, &stderr)
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
