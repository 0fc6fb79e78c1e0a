package cli

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/topology"
)

// runLocations runs Locations and returns its exit code and output.
func runLocations(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Locations(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// tableRows splits a table into its rows, without the header and the final
// count line, each row split into its fields.
func tableRows(t *testing.T, out string) (header []string, rows [][]string, count string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("table too short:\n%s", out)
	}
	for _, l := range lines[1 : len(lines)-1] {
		rows = append(rows, strings.Fields(l))
	}
	return strings.Fields(lines[0]), rows, lines[len(lines)-1]
}

func TestLocationsTable(t *testing.T) {
	code, out, errOut := runLocations(t)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	header, rows, count := tableRows(t, out)
	if want := "ID CITY COUNTRY REGION REGIONAL CACHE LAT LON"; strings.Join(header, " ") != want {
		t.Errorf("header %q, want %q", strings.Join(header, " "), want)
	}
	if len(rows) < 200 {
		t.Errorf("%d rows, want at least 200", len(rows))
	}
	if want := "location(s)"; !strings.HasSuffix(count, want) || !strings.HasPrefix(count, strconv.Itoa(len(rows))+" ") {
		t.Errorf("count line %q for %d rows", count, len(rows))
	}
	// The columns are aligned (in characters, as a terminal shows them):
	// every line has a field starting where the header has REGION.
	lines := strings.Split(out, "\n")
	col := len([]rune(lines[0][:strings.Index(lines[0], "REGION")]))
	for _, l := range lines[1 : len(lines)-2] {
		r := []rune(l)
		if len(r) <= col || r[col-1] != ' ' || r[col] == ' ' {
			t.Fatalf("column REGION not aligned in %q", l)
		}
	}
}

func TestLocationsRegionFilter(t *testing.T) {
	for _, region := range []string{"jp", "eu", "AU"} {
		t.Run(region, func(t *testing.T) {
			code, out, errOut := runLocations(t, "--region", region)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			_, rows, count := tableRows(t, out)
			if len(rows) < 5 {
				t.Errorf("%d rows in region %s", len(rows), region)
			}
			for _, r := range rows {
				// City names may have spaces; REGION is the fourth field from the end.
				if got := r[len(r)-4]; got != strings.ToLower(region) {
					t.Errorf("row %v is in region %s", r, got)
				}
			}
			if !strings.HasSuffix(count, "in region "+strings.ToLower(region)) {
				t.Errorf("count line %q", count)
			}
		})
	}
}

func TestLocationsUnknownRegion(t *testing.T) {
	code, out, errOut := runLocations(t, "--region", "xx")
	if code != 2 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, `"xx"`) || !strings.Contains(errOut, "na, eu, me, sa, jp, au, ap, in") {
		t.Errorf("stderr %q does not name the region and the valid ones", errOut)
	}
}

func TestLocationsBadUsage(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nope"}} {
		if code, _, errOut := runLocations(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestLocationsJSON(t *testing.T) {
	code, out, errOut := runLocations(t, "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var locs []topology.Location
	if err := json.Unmarshal([]byte(out), &locs); err != nil {
		t.Fatalf("output is not a JSON array of locations: %v", err)
	}
	if len(locs) < 200 || len(locs) != len(topology.Locations()) {
		t.Errorf("%d locations in JSON", len(locs))
	}
	if locs[0] != topology.Locations()[0] {
		t.Errorf("first location %+v, want %+v", locs[0], topology.Locations()[0])
	}

	code, out, _ = runLocations(t, "--json", "--region", "in")
	if err := json.Unmarshal([]byte(out), &locs); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	for _, l := range locs {
		if l.Region != "in" {
			t.Errorf("%s in region %s", l.ID, l.Region)
		}
	}
}

func TestLocationsRegional(t *testing.T) {
	code, out, errOut := runLocations(t, "--regional")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	header, rows, count := tableRows(t, out)
	if header[0] != "ID" || len(rows) < 13 || !strings.HasSuffix(count, "regional cache(s)") {
		t.Errorf("header %v, %d rows, count %q", header, len(rows), count)
	}
	for _, r := range rows {
		if !strings.HasSuffix(r[0], "-R") {
			t.Errorf("row %v is not a regional cache", r)
		}
	}

	code, out, _ = runLocations(t, "--regional", "--json", "--region", "na")
	var caches []topology.RegionalCache
	if err := json.Unmarshal([]byte(out), &caches); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	if len(caches) < 4 {
		t.Errorf("%d regional caches in na", len(caches))
	}
	for _, rc := range caches {
		if rc.Region != "na" {
			t.Errorf("%s in region %s", rc.ID, rc.Region)
		}
	}
}
