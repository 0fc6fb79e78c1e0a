package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/strata-cdn/strata", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionText(bi, ""), "strata v0.3.0\nrevision: 0123abcd (2026-12-01T10:00:00Z), modified\ngo: go1.26.0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi.Settings = nil
	if got, want := versionText(bi, "v9"), "strata v9\nrevision: unknown (built without VCS information)\ngo: go1.26.0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// The test binary has build information too.
	var out, errOut bytes.Buffer
	if code := Version("")(nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "strata ") || !strings.Contains(out.String(), "\ngo: go") {
		t.Errorf("strata version: exit %d, %q", code, out.String())
	}
}
