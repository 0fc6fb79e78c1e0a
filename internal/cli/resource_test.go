package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cmdOf is the command of a resource kind ("dist", "key-group"), as the
// strata command dispatches to it.
func cmdOf(name string) cmdFunc {
	f, ok := ResourceCommand(name)
	if !ok {
		panic("no resource kind " + name)
	}
	return cmdFunc(f)
}

func wantLines(t *testing.T, what, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s: no match for %s in:\n%s", what, re, out)
		}
	}
}

// TestCLIPoliciesKeysAndKeyGroups drives every kind of resource beside
// distributions through its subcommands against a real control plane.
func TestCLIPoliciesKeysAndKeyGroups(t *testing.T) {
	tc := startTestControl(t)

	// Cache policy: create, list, get, update without an id in the file.
	const cpYAML = "id: cp1\ncomment: short TTLs\nminTTL: 1\ndefaultTTL: 60\nmaxTTL: 600\ncacheKey:\n  queryStrings: {behavior: whitelist, items: [v]}\n  enableAcceptEncodingGzip: true\n"
	out := tc.mustRun(cmdOf("cache-policy"), "create", "--file", writeFile(t, "cp.yaml", cpYAML))
	wantLines(t, "cache-policy create", out, `^created cache policy cp1\n`, `(?m)^Default ttl:\s+60s$`, `(?m)^Query strings:\s+whitelist\(v\)$`, `(?m)^Comment:\s+short TTLs$`)
	out = tc.mustRun(cmdOf("cache-policies"), "list")
	wantLines(t, "cache-policy list", out, `(?m)^ID\s+MIN TTL\s+DEFAULT TTL\s+MAX TTL\s+HEADERS\s+COOKIES\s+QUERY STRINGS\s+ACCEPT-ENCODING\s+ETAG\s+COMMENT$`,
		`(?m)^cp1\s+1s\s+60s\s+600s\s+none\s+none\s+whitelist\(v\)\s+gzip\s+"\d+"\s+short TTLs$`, `(?m)^1 cache policy\(s\)$`)
	out = tc.mustRun(cmdOf("cache-policy"), "update", "cp1", "--file", writeFile(t, "cp2.yaml", strings.Replace(cpYAML, "id: cp1\n", "", 1)+"\n# v2\n"))
	wantLines(t, "cache-policy update", out, `^updated cache policy cp1\n`)
	// A mistake is found locally, with its line.
	code, _, errOut := tc.run(cmdOf("cache-policy"), "create", "--file", writeFile(t, "bad.yaml", "id: cp2\nminTTL: 10\nmaxTTL: 5\n"))
	if code != 1 || !strings.Contains(errOut, "is not a valid cache policy") || !strings.Contains(errOut, "(line ") {
		t.Errorf("bad cache policy: exit %d, stderr %q", code, errOut)
	}

	// Origin request and response headers policies.
	out = tc.mustRun(cmdOf("origin-request-policy"), "create", "--file",
		writeFile(t, "orp.yaml", "id: orp1\nheaders: {behavior: whitelist, items: [X-Tenant]}\ncookies: {behavior: all}\n"))
	wantLines(t, "origin-request-policy create", out, `(?m)^Headers:\s+whitelist\(X-Tenant\)$`, `(?m)^Cookies:\s+all$`)
	out = tc.mustRun(cmdOf("origin-request-policy"), "list")
	wantLines(t, "origin-request-policy list", out, `(?m)^orp1\s+whitelist\(X-Tenant\)\s+all\s+none\s+"\d+"\s+-$`)
	out = tc.mustRun(cmdOf("response-headers-policy"), "create", "--file", writeFile(t, "rhp.yaml",
		"id: rhp1\ncors: {accessControlAllowOrigins: [\"https://a.example\"]}\nsecurityHeaders: {contentTypeOptions: {override: true}}\ncustomHeaders: [{header: X-Served-By, value: strata}]\n"))
	wantLines(t, "response-headers-policy create", out, `(?m)^Cors origins:\s+https://a.example$`, `(?m)^Security headers:\s+X-Content-Type-Options$`, `(?m)^Custom headers:\s+X-Served-By$`)
	out = tc.mustRun(cmdOf("response-headers-policy"), "get", "rhp1", "--json")
	var rhp struct {
		ID   string `json:"id"`
		CORS struct {
			Origins []string `json:"accessControlAllowOrigins"`
		} `json:"cors"`
	}
	if err := json.Unmarshal([]byte(out), &rhp); err != nil || rhp.ID != "rhp1" || len(rhp.CORS.Origins) != 1 {
		t.Errorf("response-headers-policy get --json: %v\n%s", err, out)
	}

	// keys create --register: the public key is in the control plane, the
	// files on disk.
	keyDir := filepath.Join(t.TempDir(), "keys")
	var stdout, stderr bytes.Buffer
	if code := Keys([]string{"create", "--out", keyDir, "--id", "K1", "--name", "signer", "--register", "--data-dir", tc.dataDir}, &stdout, &stderr); code != 0 {
		t.Fatalf("keys create --register: exit %d\n%s", code, stderr.String())
	}
	wantLines(t, "keys create --register", stdout.String(), `^registered public key K1\n`, `(?m)^Key:\s+RSA-2048$`, `(?m)^Name:\s+signer$`)
	for _, f := range []string{"private.pem", "public.pem"} {
		if _, err := os.Stat(filepath.Join(keyDir, f)); err != nil {
			t.Errorf("keys create --register: %v", err)
		}
	}
	out = tc.mustRun(cmdOf("public-key"), "list")
	wantLines(t, "public-key list", out, `(?m)^K1\s+signer\s+RSA-2048\s+"\d+"\s+-$`)
	// The same id again: refused by the control plane, and no file is written.
	otherDir := filepath.Join(t.TempDir(), "keys")
	stdout.Reset()
	stderr.Reset()
	if code := Keys([]string{"create", "--out", otherDir, "--id", "K1", "--register", "--data-dir", tc.dataDir}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "AlreadyExists") {
		t.Errorf("keys create --register of an existing id: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(otherDir, "private.pem")); err == nil {
		t.Error("a refused registration left a private key behind")
	}

	// Key groups refer to public keys that live in the control plane.
	code, _, errOut = tc.run(cmdOf("key-group"), "create", "--file", writeFile(t, "kg-bad.yaml", "id: signers\nitems: [K404]\n"))
	if code != 1 || !strings.Contains(errOut, `items[0] (line 2): "K404" is not a public key`) {
		t.Errorf("key group with an unknown key: exit %d, stderr %q", code, errOut)
	}
	out = tc.mustRun(cmdOf("key-group"), "create", "--file", writeFile(t, "kg.yaml", "id: signers\nname: Signers\nitems: [K1]\n"))
	wantLines(t, "key-group create", out, `(?m)^Public keys:\s+K1$`)
	out = tc.mustRun(cmdOf("key-group"), "update", "signers", "--file", writeFile(t, "kg2.yaml", "name: All signers\nitems: [K1]\n"))
	wantLines(t, "key-group update", out, `(?m)^Name:\s+All signers$`)

	// A distribution that uses them; then they cannot be deleted.
	dist := distYAML + "  cachePolicyId: cp1\n  originRequestPolicyId: orp1\n  responseHeadersPolicyId: rhp1\n  trustedKeyGroups: [signers]\n"
	tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", dist))
	for _, c := range []struct{ cmd, id string }{{"key-group", "signers"}, {"public-key", "K1"}, {"cache-policy", "cp1"}} {
		code, _, errOut := tc.run(cmdOf(c.cmd), "delete", c.id)
		if code != 1 || !strings.Contains(errOut, "ResourceInUse") {
			t.Errorf("%s delete %s in use: exit %d, stderr %q", c.cmd, c.id, code, errOut)
		}
	}
	tc.mustRun(cmdDist, "delete", "ETEST1")
	out = tc.mustRun(cmdOf("key-group"), "delete", "signers")
	if out != "deleted key group signers\n" {
		t.Errorf("key-group delete: %q", out)
	}
	tc.mustRun(cmdOf("public-key"), "delete", "K1")
	out = tc.mustRun(cmdOf("public-key"), "list", "--json")
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 0 {
		t.Errorf("public-key list --json after delete: %v\n%s", err, out)
	}
}

// TestCLIShowsFieldsNotActedOn: a distribution that sets a field nothing
// acts on yet is created, and create, get, list and get --json say so;
// the field is not shown as a setting.
func TestCLIShowsFieldsNotActedOn(t *testing.T) {
	tc := startTestControl(t)
	inert := distYAML + "logging: {enabled: true}\n"
	out := tc.mustRun(cmdDist, "create", "--file", writeFile(t, "dist.yaml", inert))
	const note = "Not yet acted on (accepted, but Strata does nothing with them yet):\n" +
		"  distributions[0].logging: accepted but not yet acted on (access logs come with the logging stage; nothing is written)\n"
	if !strings.HasSuffix(out, note) {
		t.Errorf("create does not end with the fields not acted on:\n%s", out)
	}
	if strings.Contains(out, "Logging") || strings.Contains(out, "Web ACL") {
		t.Errorf("create shows an inert field as a setting:\n%s", out)
	}
	out = tc.mustRun(cmdDist, "get", "ETEST1")
	if !strings.HasSuffix(out, note) {
		t.Errorf("get does not end with the fields not acted on:\n%s", out)
	}
	out = tc.mustRun(cmdDist, "list")
	if !strings.Contains(out, "distribution ETEST1: 1 field(s) not yet acted on (strata dist get ETEST1)\n") {
		t.Errorf("list:\n%s", out)
	}
	code, out, errOut := tc.run(cmdDist, "get", "ETEST1", "--json")
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(errOut, "strata: warning: distributions[0].logging: accepted but not yet acted on") {
		t.Errorf("get --json: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}

	// Without them, nothing is said.
	out = tc.mustRun(cmdDist, "update", "ETEST1", "--file", writeFile(t, "dist2.yaml", distYAML))
	if strings.Contains(out, "not yet acted on") {
		t.Errorf("update without inert fields:\n%s", out)
	}
}

func TestCLIResourceUsage(t *testing.T) {
	dir := t.TempDir()
	for _, k := range resourceKinds {
		for _, args := range [][]string{{}, {"nope"}, {"get"}, {"get", "A", "B"}, {"update", "A"}, {"delete"}, {"list", "extra"}} {
			var out, errOut bytes.Buffer
			if code := cmdOf(k.cmd)(append(args, "--data-dir", dir, "--api", "http://127.0.0.1:1"), &out, &errOut); code != 2 || errOut.Len() == 0 {
				t.Errorf("%s %q: exit %d, stderr %q", k.cmd, args, code, errOut.String())
			}
		}
		var out, errOut bytes.Buffer
		if code := cmdOf(k.cmd)([]string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "strata "+k.cmd+" update ID --file F") {
			t.Errorf("%s help: exit %d\n%s", k.cmd, code, out.String())
		}
		for _, a := range k.aliases {
			if got, ok := kindByCommand(a); !ok || got.cmd != k.cmd {
				t.Errorf("alias %s does not name %s", a, k.cmd)
			}
		}
	}
	var out, errOut bytes.Buffer
	Help(nil, &out, &errOut)
	for _, k := range resourceKinds {
		if !strings.Contains(out.String(), k.cmd) {
			t.Errorf("strata help does not name %s", k.cmd)
		}
	}
}
