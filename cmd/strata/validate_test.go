package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
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

	inert := writeFile(t, "inert.yaml", base+"    priceClass: PriceClass_100\n    webACLId: acl-1\n")
	out.Reset()
	errOut.Reset()
	if code := cmdValidate([]string{"--config", inert}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{
		inert + ": warning: distributions[0].priceClass: accepted but not yet acted on (price classes come with the DNS router",
		inert + ": warning: distributions[0].webACLId: accepted but not yet acted on (web ACLs come with the WAF stage",
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
	log, out := &syncBuffer{}, &syncBuffer{}
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
