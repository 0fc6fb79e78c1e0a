package ftw

import (
	"bytes"
	"testing"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
)

func TestRequest(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "defaults and autocompleted headers",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          headers:
            Host: localhost
        output:
          log:
            expect_ids: [1]
`,
			want: "GET / HTTP/1.1\r\nConnection: close\r\nHost: localhost\r\n\r\n",
		},
		{
			name: "form data is escaped key by key, headers sorted",
			yaml: `
rule_id: 942100
tests:
  - test_id: 1
    stages:
      - input:
          method: POST
          uri: /post
          headers:
            User-Agent: "OWASP CRS test agent"
            Host: localhost
          data: "var=1234 OR 1=1&b=<x>"
        output:
          log:
            expect_ids: [942100]
`,
			want: "POST /post HTTP/1.1\r\nConnection: close\r\nContent-Length: 27\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: localhost\r\nUser-Agent: OWASP CRS test agent\r\n\r\nvar=1234+OR+1%3D1&b=%3Cx%3E",
		},
		{
			name: "already escaped data is sent as is, a trailing & dropped",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          method: POST
          headers: {Host: localhost}
          data: "a=%27x%27&"
        output: {}
`,
			want: "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 10\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: localhost\r\n\r\na=%27x%27&",
		},
		{
			name: "no autocomplete, raw version",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          version: "HTTP/0.9"
          autocomplete_headers: false
          headers: {Host: localhost}
          data: "x=1"
        output: {status: 400}
`,
			want: "GET / HTTP/0.9\r\nHost: localhost\r\n\r\nx=1",
		},
		{
			name: "multipart gets CRLF",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          method: POST
          headers:
            Host: localhost
            Content-Type: "multipart/form-data; boundary=b"
          data: |
            --b
            Content-Disposition: form-data; name="f"

            v
            --b--
        output: {}
`,
			want: "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 59\r\nContent-Type: multipart/form-data; boundary=b\r\nHost: localhost\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b--\r\n",
		},
		{
			name: "repeat template",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          method: POST
          headers: {Host: localhost, Content-Type: text/plain}
          data: 'a{{ "xy" | repeat 3 }}b'
        output: {}
`,
			want: "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 8\r\nContent-Type: text/plain\r\nHost: localhost\r\n\r\naxyxyxyb",
		},
		{
			name: "encoded request is decoded and sent alone",
			yaml: `
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input:
          uri: /ignored
          encoded_request: "R0VUIC8gSFRUUC8xLjANCkhvc3Q6DQoNCg=="
        output: {}
`,
			want: "GET / HTTP/1.0\r\nHost:\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Tests[0].Stages[0].Input.Request()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for name, y := range map[string]string{
		"not yaml":       "rule_id: [",
		"bad base64":     "rule_id: 1\ntests:\n  - stages:\n      - input: {encoded_request: '!!!'}\n",
		"bad regexp":     "rule_id: 1\ntests:\n  - stages:\n      - output: {log: {match_regex: '('}}\n",
		"wrong id types": "rule_id: 1\ntests:\n  - stages:\n      - output: {log: {expect_ids: [abc]}}\n",
	} {
		if _, err := Parse(name, []byte(y)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestLoadCRS reads every file CRS ships (one is all comments) and builds
// every request.
func TestLoadCRS(t *testing.T) {
	files, err := Load(crstests.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	stages := 0
	for _, f := range files {
		if len(f.Tests) == 0 {
			continue
		}
		if f.RuleID == 0 {
			t.Errorf("%s: no rule id", f.Path)
		}
		for _, tc := range f.Tests {
			for _, st := range tc.Stages {
				stages++
				raw, err := st.Input.Request()
				if err != nil {
					t.Fatalf("%s #%d: %v", f.Path, tc.TestID, err)
				}
				method := "GET"
				if st.Input.Method != nil {
					method = *st.Input.Method
				}
				if st.Input.EncodedRequest == "" && !bytes.HasPrefix(raw, []byte(method+" ")) {
					t.Errorf("%s #%d: request starts %q", f.Path, tc.TestID, raw[:min(len(raw), 20)])
				}
			}
		}
	}
	if len(files) != 318 || stages != 4680 {
		t.Errorf("%d files, %d stages: want the whole CRS v4.25.0 suite (318, 4680)", len(files), stages)
	}
}

// FuzzParse: any input parses or fails cleanly, and every stage of what
// parses builds a request that starts with a request line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"rule_id: 1\ntests:\n  - stages:\n      - input: {method: POST, data: 'a=b&c'}\n",
		"rule_id: 2\ntests:\n  - stages:\n      - input: {data: '{{ \"a\" | repeat 5 }}', headers: {Content-Type: 'multipart/form-data; b'}}\n",
		"rule_id: 3\ntests:\n  - stages:\n      - input: {encoded_request: 'R0VUIC8gSFRUUC8xLjANCg0K'}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.yaml", b)
		if err != nil {
			return
		}
		for _, tc := range file.Tests {
			for _, st := range tc.Stages {
				raw, err := st.Input.Request()
				if err != nil {
					t.Fatalf("parsed but does not build: %v", err)
				}
				if st.Input.EncodedRequest == "" && !bytes.Contains(raw, []byte("\r\n\r\n")) {
					t.Fatalf("no end of head in %q", raw)
				}
			}
		}
	})
}
