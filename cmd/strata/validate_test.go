package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
	"github.com/strata-cdn/strata/internal/testutil"
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
	if code := cmdValidate([]string{"--config", quiet}, &out, &errOut); code != 0 || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if got := out.String(); !strings.HasSuffix(got, "ok (1 distribution(s))\n") {
		t.Errorf("stdout %q", got)
	}

	inert := writeFile(t, "inert.yaml", base+"    priceClass: PriceClass_100\n    isIPv6Enabled: false\n")
	out.Reset()
	errOut.Reset()
	if code := cmdValidate([]string{"--config", inert}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{
		inert + ": warning: distributions[0].priceClass: accepted but not yet acted on (price classes come with the DNS router",
		inert + ": warning: distributions[0].isIPv6Enabled: accepted but not yet acted on (IPv6 comes with the DNS router",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if got := out.String(); !strings.HasSuffix(got, "ok (1 distribution(s), 2 warning(s))\n") {
		t.Errorf("stdout %q", got)
	}
}

// TestRunLogsFieldsNotActedOn: strata run --config logs each field of the
// file that nothing acts on yet, and serves the file anyway.
func TestRunLogsFieldsNotActedOn(t *testing.T) {
	cfg := writeFile(t, "inert.yaml", `pop: {listen: "127.0.0.1:0"}
distributions:
  - id: shop
    isIPv6Enabled: false
    origins: [{id: web, url: "http://127.0.0.1:9"}]
    defaultCacheBehavior: {targetOriginId: web}
`)
	ctx, cancel := context.WithCancel(context.Background())
	log, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runWorld(ctx, runFlags{config: cfg, dataDir: t.TempDir(), httpsPort: -1, noControl: true}, slog.New(slog.NewTextHandler(log, nil)), out)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "shop.strata.localhost") {
		select {
		case err := <-done:
			t.Fatalf("strata run ended: %v\n%s\n%s", err, out.String(), log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata run did not start:\n%s\n%s", out.String(), log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("strata run: %v", err)
	}
	const want = `level=WARN msg="configuration field not yet acted on" source=` // then the file, the field and why
	if !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "field=distributions[0].isIPv6Enabled") {
		t.Errorf("the log does not name the field:\n%s", log.String())
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
