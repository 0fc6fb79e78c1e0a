package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse. Properties: it never
// panics; what it accepts re-validates cleanly and unchanged, and survives a
// JSON round trip; what it refuses comes with at least one FieldError.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	json, _ := filepath.Glob("testdata/*.json")
	for _, name := range append(files, json...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		dist,
		dist + "    cacheBehaviors: [{pathPattern: '*.jpg', targetOriginId: o}]\n",
		"pop: &a {<<: *a}\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\n",
		"distributions: [{origins: [{url: 'http://[::1]:0/'}]}]\n",
		"pop: {memoryCacheSize: 9223372036854775807, maxObjectSize: 99999999999TiB}\n",
		"responseHeadersPolicies: [{id: r, serverTiming: {samplingRate: .nan}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") {
				t.Fatalf("error without the name: %v", err)
			}
			return
		}
		checkRoundTrip(t, c)
	})
}

// TestParseHostileDocuments makes sure alias bombs and deep nesting are
// refused quickly, not a crash, a hang or a huge allocation.
func TestParseHostileDocuments(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-header: &h {name: X-A, value: v}\n")
	b.WriteString("x-origin: &o {id: o, domainName: example.com, customHeaders: [" + strings.TrimSuffix(strings.Repeat("*h, ", 1000), ", ") + "]}\n")
	b.WriteString("x-dist: &d {id: d, origins: [" + strings.TrimSuffix(strings.Repeat("*o, ", 1000), ", ") + "]}\n")
	b.WriteString("distributions: [" + strings.TrimSuffix(strings.Repeat("*d, ", 1000), ", ") + "]\n")
	_, err := Parse([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("alias bomb: %v", err)
	}
	c, err := Parse([]byte(strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), "deep.yaml")
	if err == nil || c != nil {
		t.Fatal("deep nesting accepted")
	}
}
