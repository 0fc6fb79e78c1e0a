package managed

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// CRSVersion is the OWASP Core Rule Set release embedded by
// github.com/corazawaf/coraza-coreruleset/v4 (its version.go).
const CRSVersion = "v4.25.0"

// Vendors and group names accepted by New.
const (
	VendorAWS   = "AWS"
	VendorOWASP = "OWASP"
)

// groupDef maps one managed rule group name to the CRS request rule files
// (by their number, e.g. 942 for REQUEST-942-APPLICATION-ATTACK-SQLI.conf)
// whose detection rules it runs, optionally narrowed to rules carrying one
// of the given CRS tags.
type groupDef struct {
	files []int
	tags  []string // empty: every rule of the files
	// drop lists CRS rules of the files that the AWS group has no
	// counterpart for and that would block ordinary CDN traffic.
	drop  []int
	about string
}

// groups is the honest mapping of AWS managed rule group names to CRS v4.
// AWS groups with no CRS equivalent (IP reputation, anonymous IP lists, bot
// control, account takeover, admin protection, WordPress) are not listed:
// New refuses them by name.
var groups = map[string]map[string]groupDef{
	VendorAWS: {
		// AWS: NoUserAgent, UserAgent_BadBots, SizeRestrictions, EC2MetaDataSSRF,
		// GenericLFI, GenericRFI, RestrictedExtensions, CrossSiteScripting.
		"AWSManagedRulesCommonRuleSet": {
			files: []int{911, 913, 920, 921, 922, 930, 931, 934, 941, 943},
			// 920420: CRS's request Content-Type allow-list (form, multipart,
			// XML, JSON); AWS's group has none, and a CDN carries uploads
			// of any type (PUT of application/octet-stream to S3).
			drop:  []int{920420},
			about: "method and protocol enforcement, scanners, multipart, LFI, RFI, SSRF and generic attacks, XSS, session fixation",
		},
		// AWS: SQLi_QUERYARGUMENTS, SQLi_BODY, SQLi_COOKIE, SQLi_URIPATH.
		"AWSManagedRulesSQLiRuleSet": {files: []int{942}, about: "SQL injection"},
		// AWS: Log4JRCE, JavaDeserializationRCE, Host_localhost, ExploitablePaths.
		"AWSManagedRulesKnownBadInputsRuleSet": {files: []int{944}, about: "Java attacks: Log4Shell (JNDI lookups), deserialization, Spring4Shell"},
		// AWS: LFI_URIPATH, LFI_QUERYSTRING, LFI_HEADER (Linux file paths).
		"AWSManagedRulesLinuxRuleSet": {files: []int{930}, about: "local file inclusion and path traversal (OS file paths)"},
		// AWS: UNIXShellCommandsVariables.
		"AWSManagedRulesUnixRuleSet": {files: []int{932}, tags: []string{"platform-unix", "platform-multi"}, about: "Unix shell command injection"},
		// AWS: WindowsShellCommands, PowerShellCommands.
		"AWSManagedRulesWindowsRuleSet": {files: []int{932}, tags: []string{"platform-windows", "platform-multi"}, about: "Windows cmd and PowerShell command injection"},
		// AWS: PHPHighRiskMethodsVariables.
		"AWSManagedRulesPHPRuleSet": {files: []int{933}, about: "PHP injection"},
	},
	VendorOWASP: {
		"CoreRuleSet": {
			files: []int{911, 913, 920, 921, 922, 930, 931, 932, 933, 934, 941, 942, 943, 944},
			about: "every CRS request rule file",
		},
	},
}

// GroupNames lists the supported vendor/name pairs, sorted, as "Vendor/Name".
func GroupNames() []string {
	var out []string
	for v, m := range groups {
		for n := range m {
			out = append(out, v+"/"+n)
		}
	}
	sort.Strings(out)
	return out
}

// crsRule is one rule (or chain head) read from a CRS file.
type crsRule struct {
	id   int
	file int
	tags []string
	pl   int // paranoia level from its "paranoia-level/N" tag; 0 when untagged
	// quiet: a nolog or skipAfter rule (paranoia-level skips, variable
	// setup), bookkeeping rather than detection.
	quiet bool
}

var (
	catalogOnce sync.Once
	catalog     map[int]crsRule // by id
	catalogErr  error

	fileNumRE = regexp.MustCompile(`^(?:REQUEST|RESPONSE)-(\d{3})-`)
	idRE      = regexp.MustCompile(`\bid:'?(\d+)`)
	tagRE     = regexp.MustCompile(`\btag:'([^']*)'`)
)

// loadCatalog reads the rule ids and tags of every embedded CRS file, once.
// It is what makes "unknown rule name" an error at New rather than a silent
// no-op in the WAF.
func loadCatalog() (map[int]crsRule, error) {
	catalogOnce.Do(func() {
		catalog = map[int]crsRule{}
		entries, err := fs.ReadDir(coreruleset.FS, "@owasp_crs")
		if err != nil {
			catalogErr = fmt.Errorf("managed: read embedded crs: %w", err)
			return
		}
		for _, e := range entries {
			m := fileNumRE.FindStringSubmatch(e.Name())
			if m == nil || !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			num, _ := strconv.Atoi(m[1])
			b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+e.Name())
			if err != nil {
				catalogErr = fmt.Errorf("managed: read %s: %w", e.Name(), err)
				return
			}
			for _, d := range directives(string(b)) {
				im := idRE.FindStringSubmatch(d)
				if im == nil {
					continue
				}
				id, _ := strconv.Atoi(im[1])
				r := crsRule{id: id, file: num,
					quiet: strings.Contains(d, "nolog") || strings.Contains(d, "skipAfter:")}
				for _, tm := range tagRE.FindAllStringSubmatch(d, -1) {
					r.tags = append(r.tags, tm[1])
					if pl, ok := strings.CutPrefix(tm[1], "paranoia-level/"); ok {
						r.pl, _ = strconv.Atoi(pl)
					}
				}
				catalog[id] = r
			}
		}
	})
	return catalog, catalogErr
}

// directives splits a SecLang file into directives: comment lines dropped,
// backslash-continued lines joined.
func directives(s string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if c, ok := strings.CutSuffix(t, "\\"); ok {
			cur.WriteString(c)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(t)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// detection reports whether a rule is a detection rule a user may name: a
// logging rule of a request attack file, not the paranoia-level skips and
// setup rules inside those files, nor the initialisation (901), exception
// (905, 999) and anomaly-score evaluation (949, 959, 980) files.
func (r crsRule) detection() bool {
	if r.quiet {
		return false
	}
	switch r.file {
	case 901, 905, 949, 959, 980, 999:
		return false
	}
	return r.file < 950 // request rules only
}

// groupRules returns the ids of the detection rules that a group runs (at
// every paranoia level) and the ids of the rules of its files that it does
// not (removed with SecRuleRemoveById).
func groupRules(def groupDef) (in, out []int, err error) {
	cat, err := loadCatalog()
	if err != nil {
		return nil, nil, err
	}
	for id, r := range cat {
		if !r.detection() || !slices.Contains(def.files, r.file) {
			continue
		}
		if slices.Contains(def.drop, id) || len(def.tags) > 0 && !slices.ContainsFunc(r.tags, func(t string) bool { return slices.Contains(def.tags, t) }) {
			out = append(out, id)
			continue
		}
		in = append(in, id)
	}
	slices.Sort(in)
	slices.Sort(out)
	return in, out, nil
}
