package managed

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"

	"github.com/strata-cdn/strata/internal/waf/managed/ftw"
)

// crsTestingDirectives is the setup CRS's regression tests expect (rule
// 900005 of CRS's tests/regression README, as coraza's own runner has it):
// every rule at paranoia level 4, detection only, the argument and file
// size limits the tests are written for, and CRS's default allowed
// methods (a managed group allows CloudFront's seven).
const crsTestingDirectives = `SecAction "id:900005,phase:1,nolog,pass,ctl:ruleEngine=DetectionOnly,ctl:ruleRemoveById=910000,setvar:tx.blocking_paranoia_level=4,setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS'"
`

// outcome of one stage.
type outcome int

const (
	passed  outcome = iota
	failed          // the WAF saw the request and matched other rules than expected
	refused         // Strata's HTTP/1 server refused the request before the WAF
	skipped
)

type stageResult struct {
	name    string
	outcome outcome
	why     string
	dur     time.Duration
}

type crsRun struct {
	results []stageResult
	counts  [4]int
	skips   map[string]int // reason → stages
}

// runCRS replays the CRS regression tests through a managed group behind
// Strata's HTTP/1 server. keep selects the tests to run (by file path and
// test index); nil runs all.
func runCRS(t *testing.T, keep func(path string, i int) bool) *crsRun {
	t.Helper()
	files, err := ftw.Load(crstests.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	g := mustNew(t, Options{Vendor: VendorOWASP, Name: "CoreRuleSet", ParanoiaLevel: 4,
		BodyLimit: MaxBodyLimit, detectionOnly: true, extra: crsTestingDirectives})
	addr := serve(t, wafHandler(t, g))

	run := &crsRun{skips: map[string]int{}}
	for _, f := range files {
		for i, tc := range f.Tests {
			if keep != nil && !keep(f.Path, i) {
				continue
			}
			for j, st := range tc.Stages {
				name := fmt.Sprintf("%s#%d", strings.TrimSuffix(f.Path[strings.LastIndexByte(f.Path, '/')+1:], ".yaml"), tc.TestID)
				if len(tc.Stages) > 1 {
					name += fmt.Sprintf("/%d", j+1)
				}
				r := stageResult{name: name}
				if strings.HasPrefix(f.Path, "RESPONSE-") {
					r.outcome, r.why = skipped, "response rule (managed groups inspect requests, as AWS WAF does)"
				} else {
					t0 := time.Now()
					r.outcome, r.why = replay(t, addr, st)
					r.dur = time.Since(t0)
				}
				run.results = append(run.results, r)
				run.counts[r.outcome]++
				if r.outcome == skipped {
					run.skips[r.why]++
				}
			}
		}
	}
	return run
}

// replay sends one stage's bytes on a new connection and checks the
// answer.
func replay(t *testing.T, addr string, st ftw.Stage) (outcome, string) {
	raw, err := st.Input.Request()
	if err != nil {
		return failed, err.Error()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang guard: under -race on a loaded machine a 64 KiB body at paranoia level 4 takes tens of seconds
	_, werr := c.Write(raw)
	method, _, _ := strings.Cut(string(raw), " ")
	resp, rerr := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if rerr != nil {
		if st.Output.ExpectError {
			return passed, ""
		}
		return refused, fmt.Sprintf("no response (write: %v, read: %v)", werr, rerr)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	matchedHdr, reached := resp.Header["X-Matched-Rules"]
	if st.Output.Status != 0 && resp.StatusCode != st.Output.Status {
		if !reached {
			return refused, fmt.Sprintf("listener answered %d, want %d", resp.StatusCode, st.Output.Status)
		}
		return failed, fmt.Sprintf("status %d, want %d", resp.StatusCode, st.Output.Status)
	}
	if !reached {
		if st.Output.ExpectError || st.Output.Status == resp.StatusCode {
			return passed, ""
		}
		return refused, fmt.Sprintf("listener answered %d before the WAF", resp.StatusCode)
	}
	var matched []int
	for f := range strings.FieldsSeq(strings.Join(matchedHdr, " ")) {
		id, _ := strconv.Atoi(f)
		matched = append(matched, id)
	}
	var why []string
	for _, id := range st.Output.Log.ExpectIDs {
		if !slices.Contains(matched, id) {
			why = append(why, fmt.Sprintf("%d did not match", id))
		}
	}
	for _, id := range st.Output.Log.NoExpectIDs {
		if slices.Contains(matched, id) {
			why = append(why, fmt.Sprintf("%d matched", id))
		}
	}
	// match_regex is checked against the log lines of the rules, which
	// carry [id "…"] [msg "…"] [data "…"] as ModSecurity's do.
	logText := string(body)
	if re := st.Output.Log.MatchRegex; re != "" && !regexp.MustCompile(re).MatchString(logText) {
		why = append(why, fmt.Sprintf("log does not match %q", re))
	}
	if re := st.Output.Log.NoMatchRegex; re != "" && regexp.MustCompile(re).MatchString(logText) {
		why = append(why, fmt.Sprintf("log matches %q", re))
	}
	if len(why) > 0 {
		return failed, strings.Join(why, "; ") + fmt.Sprintf(" (matched: %v)", matched)
	}
	return passed, ""
}

// recordedRate reads the figure docs/conformance.md records for a run
// ("full" or "short"): its line "<!-- crs-regression-<run>: P/N -->".
func recordedRate(t *testing.T, run string) (pass, total int) {
	t.Helper()
	b, err := os.ReadFile("../../../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<!-- crs-regression-` + run + `: (\d+)/(\d+) -->`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("docs/conformance.md has no crs-regression-%s figure", run)
	}
	pass, _ = strconv.Atoi(string(m[1]))
	total, _ = strconv.Atoi(string(m[2]))
	return pass, total
}

// shortSubset is the fixed representative subset run under -short and
// -race: the first test of every file (one per CRS rule tested).
func shortSubset(_ string, i int) bool { return i == 0 }

// TestCRSRegression replays CRS's own regression tests (go-ftw YAML)
// through the whole CRS at paranoia level 4 behind Strata's HTTP/1 server
// and holds the pass rate at or above the figure in docs/conformance.md.
// STRATA_CRS_REPORT=path writes every stage's outcome there.
func TestCRSRegression(t *testing.T) {
	runName, keep := "full", (func(string, int) bool)(nil)
	if testing.Short() || raceEnabled {
		runName, keep = "short", shortSubset
	}
	start := time.Now()
	run := runCRS(t, keep)
	c := run.counts
	ran := c[passed] + c[failed] + c[refused]
	t.Logf("%s run: %d stages in %v: %d passed, %d failed, %d refused by the listener, %d skipped %v",
		runName, len(run.results), time.Since(start).Round(time.Millisecond), c[passed], c[failed], c[refused], c[skipped], run.skips)
	if p := os.Getenv("STRATA_CRS_REPORT"); p != "" {
		var b strings.Builder
		names := [...]string{"pass", "FAIL", "REFUSED", "skip"}
		for _, r := range run.results {
			fmt.Fprintf(&b, "%-7s %-16s %6.3fs %s\n", names[r.outcome], r.name, r.dur.Seconds(), r.why)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantPass, wantTotal := recordedRate(t, runName)
	if ran != wantTotal {
		t.Errorf("%d stages ran, docs/conformance.md records %d: update the figure", ran, wantTotal)
	}
	if c[passed]*wantTotal < wantPass*ran {
		for _, r := range run.results {
			if r.outcome == failed || r.outcome == refused {
				t.Logf("%s: %s", r.name, r.why)
			}
		}
		t.Errorf("pass rate %d/%d is below the recorded %d/%d", c[passed], ran, wantPass, wantTotal)
	}
}
