package main

import (
	"bytes"
	"strings"
	"testing"
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
