// Package ftw reads the OWASP CRS regression tests (YAML in go-ftw's
// format, shipped in coraza-coreruleset's tests/ directory) and builds each
// stage's request as the bytes go-ftw would put on the wire, so that a test
// can replay them through a real server.
//
// Only what the CRS tests use is modelled: a stage's input (request line,
// headers, data, encoded_request, autocomplete_headers) and output (status,
// log expect_ids / no_expect_ids / match_regex / no_match_regex,
// expect_error). go-ftw's semantics are followed where they shape the
// bytes: defaults GET / HTTP/1.1; headers written sorted by name; with
// autocomplete_headers (the default) a request with data gets
// Content-Type: application/x-www-form-urlencoded unless it has one, form
// data that is not already escaped is escaped key by key, and Connection:
// close and Content-Length are added unless present; multipart bodies get
// CRLF line ends; data templates of the form {{ "x" | repeat N }} (the only
// go-ftw template the CRS tests use) are expanded.
package ftw

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is one YAML test file: the tests of one CRS rule.
type File struct {
	// Path is the file's path in the test tree, e.g.
	// "REQUEST-942-APPLICATION-ATTACK-SQLI/942100.yaml".
	Path   string `yaml:"-"`
	RuleID int    `yaml:"rule_id"`
	Tests  []Test `yaml:"tests"`
}

// Test is one test case: one or more requests.
type Test struct {
	TestID int     `yaml:"test_id"`
	Desc   string  `yaml:"desc"`
	Stages []Stage `yaml:"stages"`
}

// Stage is one request and what is expected of it.
type Stage struct {
	Input  Input  `yaml:"input"`
	Output Output `yaml:"output"`
}

// Input is the request of a stage.
type Input struct {
	DestAddr            *string           `yaml:"dest_addr"`
	Port                *int              `yaml:"port"`
	Method              *string           `yaml:"method"`
	URI                 *string           `yaml:"uri"`
	Version             *string           `yaml:"version"`
	Headers             map[string]string `yaml:"headers"`
	Data                *string           `yaml:"data"`
	EncodedRequest      string            `yaml:"encoded_request"`
	AutocompleteHeaders *bool             `yaml:"autocomplete_headers"`
}

// Output is what a stage expects.
type Output struct {
	Status      int  `yaml:"status"`
	ExpectError bool `yaml:"expect_error"`
	Log         Log  `yaml:"log"`
}

// Log is what a stage expects in the WAF's log.
type Log struct {
	ExpectIDs    []int  `yaml:"expect_ids"`
	NoExpectIDs  []int  `yaml:"no_expect_ids"`
	MatchRegex   string `yaml:"match_regex"`
	NoMatchRegex string `yaml:"no_match_regex"`
}

// Parse decodes one test file.
func Parse(name string, b []byte) (*File, error) {
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("ftw: %s: %w", name, err)
	}
	f.Path = name
	for i, t := range f.Tests {
		for j, s := range t.Stages {
			if s.Input.EncodedRequest != "" {
				if _, err := s.Input.raw(); err != nil {
					return nil, fmt.Errorf("ftw: %s: test %d stage %d: encoded_request: %w", name, t.TestID, j, err)
				}
			}
			for _, re := range []string{s.Output.Log.MatchRegex, s.Output.Log.NoMatchRegex} {
				if _, err := regexp.Compile(re); err != nil {
					return nil, fmt.Errorf("ftw: %s: test %d stage %d: %w", name, t.TestID, j, err)
				}
			}
		}
		if t.TestID == 0 {
			f.Tests[i].TestID = i + 1
		}
	}
	return &f, nil
}

// Load reads every *.yaml file under root in fsys, sorted by path.
func Load(fsys fs.FS, root string) ([]*File, error) {
	var files []*File
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".yaml" {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := Parse(p, b)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

func (in Input) raw() ([]byte, error) {
	// The YAML folds long base64 lines with "\n".
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' {
			return -1
		}
		return r
	}, in.EncodedRequest)
	return base64.StdEncoding.DecodeString(s)
}

// methodsWithBody is go-ftw's test for a method whose request gets a
// Content-Length even when empty (its regexp, unanchored alternatives
// included, so that the same requests get one).
var methodsWithBody = regexp.MustCompile(`^POST|PUT|PATCH|DELETE$`)

// Request returns the bytes of the stage's request as go-ftw sends them.
func (in Input) Request() ([]byte, error) {
	if in.EncodedRequest != "" {
		return in.raw()
	}
	method, uri, version := "GET", "/", "HTTP/1.1"
	if in.Method != nil {
		method = *in.Method
	}
	if in.URI != nil {
		uri = *in.URI
	}
	if in.Version != nil {
		version = *in.Version
	}
	h := make(map[string]string, len(in.Headers)+3)
	for k, v := range in.Headers {
		h[k] = v
	}
	add := func(k, v string) { // go-ftw's Header.Add: only if unset (exact key)
		if h[k] == "" {
			h[k] = v
		}
	}
	auto := in.AutocompleteHeaders == nil || *in.AutocompleteHeaders
	var data []byte
	if in.Data != nil {
		data = []byte(expand(*in.Data))
	}
	if len(data) > 0 && auto {
		add("Content-Type", "application/x-www-form-urlencoded")
		if h["Content-Type"] == "application/x-www-form-urlencoded" {
			data = escapeForm(data)
		}
	}
	if strings.HasPrefix(h["Content-Type"], "multipart/form-data;") {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	if auto {
		add("Connection", "close")
		if len(data) > 0 || methodsWithBody.MatchString(method) {
			add("Content-Length", strconv.Itoa(len(data)))
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, uri, version)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, h[k])
	}
	b.WriteString("\r\n")
	b.Write(data)
	return b.Bytes(), nil
}

// escapeForm escapes form data key by key, as go-ftw does, unless it is
// already escaped (unescaping changes it or fails).
func escapeForm(data []byte) []byte {
	s := string(data)
	if u, err := url.QueryUnescape(s); err != nil || u != s {
		return data
	}
	toks := strings.Split(s, "&")
	if len(toks) > 1 && toks[len(toks)-1] == "" {
		toks = toks[:len(toks)-1] // go-ftw drops one trailing "&"
	}
	var out []string
	for _, tok := range toks {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			out = append(out, url.QueryEscape(tok))
			continue
		}
		out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return []byte(strings.Join(out, "&"))
}

// repeatRE is the one template go-ftw's data templating is used for in the
// CRS tests: {{ "x" | repeat N }} (sprig's repeat).
var repeatRE = regexp.MustCompile(`\{\{\s*"([^"]*)"\s*\|\s*repeat\s+(\d+)\s*\}\}`)

// maxRepeat bounds an expanded template (a test file is trusted, but a
// typo must not take the machine's memory).
const maxRepeat = 1 << 20

func expand(s string) string {
	return repeatRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := repeatRE.FindStringSubmatch(m)
		n, err := strconv.Atoi(sm[2])
		if err != nil || n*len(sm[1]) > maxRepeat {
			return m
		}
		return strings.Repeat(sm[1], n)
	})
}
