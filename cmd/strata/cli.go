package main

// The command-line client of the control plane: what the commands share.
// Each command finds the control plane's REST API (internal/control/API.md)
// with --api, or from <data dir>/control.json, which `strata run` writes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// controlFileName is the file in the data directory that tells the CLI where
// the control plane's API listens and which token to send.
const controlFileName = "control.json"

// controlFile is the content of <data dir>/control.json.
type controlFile struct {
	API   string `json:"api"`   // base URL of the REST API, e.g. http://127.0.0.1:8081
	Token string `json:"token"` // API token (the secret)
}

// controlFilePath returns the path of control.json in dataDir.
func controlFilePath(dataDir string) string { return filepath.Join(dataDir, controlFileName) }

// readControlFile reads <dataDir>/control.json; it returns an error wrapping
// fs.ErrNotExist when there is none.
func readControlFile(dataDir string) (controlFile, error) {
	var cf controlFile
	data, err := os.ReadFile(controlFilePath(dataDir))
	if err != nil {
		return cf, err
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		return cf, fmt.Errorf("%s: %v", controlFilePath(dataDir), err)
	}
	return cf, nil
}

// clientFlags are the flags every control-plane command takes.
type clientFlags struct {
	api     string
	token   string
	dataDir string
	asJSON  bool
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{}
	fs.StringVar(&f.api, "api", "", "control plane API URL (default: from <data-dir>/"+controlFileName+", written by strata run)")
	fs.StringVar(&f.token, "token", "", "API token (default: $STRATA_TOKEN, else the token in <data-dir>/"+controlFileName+")")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "data directory of strata run, where "+controlFileName+" is")
	fs.BoolVar(&f.asJSON, "json", false, "print the JSON the API returned instead of a table")
	return f
}

// client builds the API client from the flags, the environment and
// control.json. On failure it prints why, prefixed by the command name, and
// returns false: the command exits 2.
func (f *clientFlags) client(cmd string, stderr io.Writer) (*apiClient, bool) {
	api, token := strings.TrimSpace(f.api), f.token
	if token == "" {
		token = os.Getenv("STRATA_TOKEN")
	}
	if api == "" || token == "" {
		cf, err := readControlFile(f.dataDir)
		switch {
		case err == nil:
			// The file's token goes only to the API the file names.
			if api == "" {
				api = cf.API
			}
			if token == "" && sameAPI(api, cf.API) {
				token = cf.Token
			}
		case errors.Is(err, fs.ErrNotExist):
			if api == "" {
				fmt.Fprintf(stderr, "strata %s: no control plane to talk to: %s does not exist; start one with \"strata run\" (it writes that file), or pass --api URL (and --data-dir if strata run uses another data directory)\n",
					cmd, controlFilePath(f.dataDir))
				return nil, false
			}
		default:
			if api == "" {
				fmt.Fprintf(stderr, "strata %s: %v\n", cmd, err)
				return nil, false
			}
		}
	}
	if api == "" {
		fmt.Fprintf(stderr, "strata %s: %s has no \"api\"; pass --api URL\n", cmd, controlFilePath(f.dataDir))
		return nil, false
	}
	if !strings.Contains(api, "://") {
		api = "http://" + api
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "strata %s: API URL %q is not an http:// or https:// URL\n", cmd, api)
		return nil, false
	}
	return newAPIClient(api, token), true
}

func sameAPI(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// apiClient speaks the control plane's REST API.
type apiClient struct {
	base  string // e.g. http://127.0.0.1:8081, without a trailing "/"
	token string
	hc    *http.Client
}

func newAPIClient(base, token string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// maxResponse bounds the body of a response the client reads.
const maxResponse = 64 << 20

// do sends a request and returns the response's status, header and body. body
// is nil, raw JSON ([]byte or json.RawMessage) or a value to encode as JSON;
// ifMatch, when not empty, is sent as If-Match. A response with a status of
// 400 or more is returned with an *apiError; a request that got no response,
// with an *unreachableError.
func (c *apiClient) do(method, path string, body any, ifMatch string) (status int, h http.Header, data []byte, err error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, &unreachableError{base: c.base, err: err}
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, &unreachableError{base: c.base, err: err}
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, resp.Header, data, decodeAPIError(resp.StatusCode, data)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// warnings returns the texts of a response's Warning headers
// (`299 - "text"`): the fields set but not yet acted on.
func warnings(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Warning") {
		if i := strings.IndexByte(v, '"'); i >= 0 {
			if t, err := strconv.Unquote(v[i:]); err == nil {
				v = t
			}
		}
		out = append(out, v)
	}
	return out
}

// getJSON GETs path and decodes the body into v; it returns the raw body and
// the ETag too.
func (c *apiClient) getJSON(path string, v any) (data []byte, etag string, err error) {
	_, h, data, err := c.do(http.MethodGet, path, nil, "")
	if err != nil {
		return nil, "", err
	}
	etag = h.Get("ETag")
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return nil, "", fmt.Errorf("GET %s: unexpected response: %v", path, err)
		}
	}
	return data, etag, nil
}

// apiError is an error response of the API:
// {"code": "...", "message": "...", "errors": [{"path": "...", "message": "..."}]}.
type apiError struct {
	Status  int          `json:"-"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors"`
}

type fieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// decodeAPIError makes an *apiError of an error response, also of one that
// is not the API's JSON (a proxy's error page, say).
func decodeAPIError(status int, body []byte) *apiError {
	e := &apiError{}
	if err := json.Unmarshal(body, e); err != nil || e.Code == "" {
		e = &apiError{Code: fmt.Sprintf("HTTP %d", status), Message: http.StatusText(status)}
		if s := strings.TrimSpace(string(body)); s != "" && len(s) <= 200 && !strings.ContainsAny(s, "\n<") {
			e.Message = s
		}
	}
	e.Status = status
	return e
}

// unreachableError is a request that got no (complete) response.
type unreachableError struct {
	base string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the control plane at %s: %v", e.base, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// printError prints err as the CLI reports failures and returns the exit
// code 1. API errors are "strata: <code>: <message>", then one
// "  <path>: <message>" line per field error.
func printError(stderr io.Writer, c *apiClient, err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "strata: %s\n", ae.Error())
		for _, fe := range ae.Errors {
			if fe.Path == "" {
				fmt.Fprintf(stderr, "  %s\n", fe.Message)
			} else {
				fmt.Fprintf(stderr, "  %s: %s\n", fe.Path, fe.Message)
			}
		}
		if ae.Code == "MissingToken" && c != nil && c.token == "" {
			fmt.Fprintln(stderr, "  (pass --token, set STRATA_TOKEN, or use the "+controlFileName+" that strata run wrote)")
		}
		return 1
	}
	fmt.Fprintf(stderr, "strata: %v\n", err)
	return 1
}

// parseArgs parses args with fs, letting flags and positional arguments
// mix ("dist get E123 --json"); it returns the positional arguments. After
// "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printRawJSON prints an API response body as indented JSON.
func printRawJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		buf.Reset()
		buf.Write(bytes.TrimSpace(data))
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// normalizeETag quotes a bare revision ("12" becomes "\"12\"").
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "W/") {
		return s
	}
	return `"` + s + `"`
}

// ago renders how long ago t was: "0.4s ago", "12s ago", "3m12s ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < 24*time.Hour:
		return d.Truncate(time.Second).String() + " ago"
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// orDash returns s, or "-" when it is empty (a table cell must not be empty).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
