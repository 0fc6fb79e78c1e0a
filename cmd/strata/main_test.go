package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/cli"
)

// writeFile writes content to a file name in a temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDispatch: the table and the resource kinds answer their names, the help
// text names every command of the table, and an unknown or missing command is
// a usage error that prints the help.
func TestDispatch(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"help"}, &out, &errOut); code != 0 || out.String() != cli.Usage {
		t.Fatalf("help: exit %d, %q", code, out.String())
	}
	for name := range commands {
		if !strings.HasPrefix(name, "-") && !strings.Contains(cli.Usage, "strata "+name+" ") && !strings.Contains(cli.Usage, "strata "+name+"\n") {
			t.Errorf("the help text does not name %q", name)
		}
	}
	for _, name := range []string{"dist", "cache-policy", "key-group", "public-key"} {
		if _, ok := commands[name]; ok {
			t.Errorf("%s is in the table and a resource kind", name)
		}
		out.Reset()
		if code := run([]string{name, "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "strata "+name+" create") {
			t.Errorf("%s help: exit %d, %q", name, code, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"waf", "acl", "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "strata waf acl create --file F") {
		t.Errorf("waf acl help: exit %d, %q", code, out.String())
	}
	for _, args := range [][]string{nil, {"nope"}} {
		errOut.Reset()
		if code := run(args, &out, &errOut); code != 2 || !strings.HasSuffix(errOut.String(), cli.Usage) {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
