package cli

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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/control/client"
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
	fs.StringVar(&f.dataDir, "data-dir", DefaultDataDir(), "data directory of strata run, where "+controlFileName+" is")
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
	return client.New(api, token), true
}

func sameAPI(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// apiClient speaks the control plane's REST API.
type apiClient = client.Client

// printError prints err as the CLI reports failures and returns the exit
// code 1. API errors are "strata: <code>: <message>", then one
// "  <path>: <message>" line per field error.
func printError(stderr io.Writer, c *apiClient, err error) int {
	var ae *client.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "strata: %s\n", ae.Error())
		for _, fe := range ae.Errors {
			if fe.Path == "" {
				fmt.Fprintf(stderr, "  %s\n", fe.Message)
			} else {
				fmt.Fprintf(stderr, "  %s: %s\n", fe.Path, fe.Message)
			}
		}
		if ae.Code == "MissingToken" && c != nil && c.Token == "" {
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

// DefaultDataDir is $STRATA_DATA_DIR, else $XDG_DATA_HOME/strata, else
// ~/.local/share/strata.
func DefaultDataDir() string {
	if d := os.Getenv("STRATA_DATA_DIR"); d != "" {
		return d
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "strata")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "strata")
	}
	return "strata-data"
}
