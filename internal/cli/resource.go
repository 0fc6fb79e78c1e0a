package cli

// The control plane's configuration resources on the command line:
// distributions, cache policies, origin request policies, response headers
// policies, public keys and key groups. Every kind has the same five
// subcommands (create, list, get, update, delete) over its REST collection
// (internal/control/API.md); a kind only says how its resources look in a
// table (resourceKind).

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/client"
)

// resourceKind is a kind of configuration resource, as the CLI shows it.
type resourceKind struct {
	cmd     string   // the command: "dist", "cache-policy"
	aliases []string // other names of the command
	what    string   // one resource, for messages: "distribution", "cache policy"
	path    string   // REST collection: "/distributions"
	section string   // its section of a configuration file: "distributions"
	// generatedID: the control plane makes up the id of a resource created
	// without one.
	generatedID bool
	// refs are the sections of the control plane that a resource of this
	// kind may refer to: fetched to check a file locally.
	refs []string
	// columns of "list" after ID (ETAG and COMMENT come last), and the cells
	// of one resource.
	columns []string
	row     func(raw json.RawMessage) (cells []string, comment string, err error)
	// show prints one resource for "get", "create" and "update"; nil: its
	// columns, one per line.
	show func(w io.Writer, raw json.RawMessage, etag string) error
	// item returns the first resource of the kind's section of c, and how
	// many there are; idOf the id of such a resource.
	item func(c *config.Config) (any, int)
	idOf func(v any) string
}

// kindOf makes the row and item functions of a kind whose resources are T.
func kindOf[T any](k resourceKind, section func(c *config.Config) []T, id func(*T) string, row func(*T) (cells []string, comment string)) resourceKind {
	k.row = func(raw json.RawMessage) ([]string, string, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, "", err
		}
		cells, comment := row(&v)
		return append([]string{id(&v)}, cells...), comment, nil
	}
	k.idOf = func(v any) string { return id(v.(*T)) }
	k.item = func(c *config.Config) (any, int) {
		s := section(c)
		if len(s) == 0 {
			return nil, 0
		}
		return &s[0], len(s)
	}
	return k
}

// resourceKinds are the kinds, in the order of the configuration.
var resourceKinds = []resourceKind{distKind, cachePolicyKind, originRequestPolicyKind, responseHeadersPolicyKind, publicKeyKind, keyGroupKind,
	ipSetKind, regexSetKind, webACLKind}

// kindByCommand returns the kind whose command (or alias) is name.
func kindByCommand(name string) (resourceKind, bool) {
	for _, k := range resourceKinds {
		if k.cmd == name {
			return k, true
		}
		for _, a := range k.aliases {
			if a == name {
				return k, true
			}
		}
	}
	return resourceKind{}, false
}

// ResourceCommand returns the command of the resource kind named name
// ("dist", "cache-policy", or an alias of one): create, list, get, update
// and delete.
func ResourceCommand(name string) (Func, bool) {
	k, ok := kindByCommand(name)
	if !ok {
		return nil, false
	}
	return func(args []string, stdout, stderr io.Writer) int { return cmdResource(k, args, stdout, stderr) }, true
}

func (k resourceKind) itemPath(id string) string { return k.path + "/" + url.PathEscape(id) }

// collection is the kind's collection of the API (client.Distributions, …).
func (k resourceKind) collection() string { return strings.TrimPrefix(k.path, "/") }

// plural names several resources: "cache policies".
func (k resourceKind) plural() string {
	if m, ok := strings.CutSuffix(k.what, "y"); ok {
		return m + "ies"
	}
	return k.what + "s"
}

func (k resourceKind) usage() string {
	idNote := ""
	if k.generatedID {
		idNote = "; without an id, the control plane makes one"
	}
	var b strings.Builder
	b.WriteString("Usage:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, l := range [][2]string{
		{"create --file F", "create a " + k.what + " from a YAML or JSON file" + idNote},
		{"list", "list the " + k.plural()},
		{"get ID", "show a " + k.what + " (--json: all of it, as the API stores it)"},
		{"update ID --file F [--if-match ETAG]", "replace a " + k.what + " (without --if-match: the current one)"},
		{"delete ID [--if-match ETAG]", "delete a " + k.what},
	} {
		fmt.Fprintf(tw, "  strata %s %s\t%s\n", k.cmd, l[0], l[1])
	}
	tw.Flush()
	fmt.Fprintf(&b, `
A file holds one %[2]s, with the field names of the %[3]s section of a
configuration file (what "strata %[1]s get ID --json" prints). Every
subcommand also takes --api URL, --token T, --data-dir DIR and --json; see
"strata %[1]s create -h".
`, k.cmd, k.what, k.section)
	return b.String()
}

// cmdResource is "strata <kind> create|list|get|update|delete ...".
func cmdResource(k resourceKind, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, k.usage())
		return 2
	}
	switch args[0] {
	case "create":
		return k.create(args[1:], stdout, stderr)
	case "list", "ls":
		return k.list(args[1:], stdout, stderr)
	case "get", "show":
		return k.get(args[1:], stdout, stderr)
	case "update":
		return k.update(args[1:], stdout, stderr)
	case "delete", "rm":
		return k.delete(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, k.usage())
		return 0
	default:
		fmt.Fprintf(stderr, "strata %s: unknown subcommand %q\n\n%s", k.cmd, args[0], k.usage())
		return 2
	}
}

// command is what every control-plane command starts with: a flag set that
// has the client flags (--api, --token, --data-dir, --json).
type command struct {
	name   string // "dist get", "status"
	fs     *flag.FlagSet
	cf     *clientFlags
	stderr io.Writer
}

// readFile reads the --file a command requires; nil and the exit code
// when it is missing or cannot be read (said on stderr).
func (c *command) readFile(file string) ([]byte, int) {
	if file == "" {
		fmt.Fprintf(c.stderr, "strata %s: --file F is required\n", c.name)
		return nil, 2
	}
	data, err := readInputFile(file)
	if err != nil {
		fmt.Fprintf(c.stderr, "strata %s: %v\n", c.name, err)
		return nil, 1
	}
	if data == nil {
		data = []byte{}
	}
	return data, 0
}

func newCommand(name string, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &command{name: name, fs: fs, stderr: stderr}
}

// parse adds the client flags and parses args, allowing at most max
// positional arguments, of which min are required and not empty: what and
// synopsis describe them for the message when they are missing ("the
// distribution id", "ID"). ok false means: exit 2.
func (c *command) parse(args []string, min, max int, what, synopsis string) (pos []string, ok bool) {
	c.cf = addClientFlags(c.fs)
	pos, err := parseArgs(c.fs, args)
	if err != nil {
		return nil, false
	}
	switch {
	case len(pos) < min:
		fmt.Fprintf(c.stderr, "strata %s: %s is required (strata %s %s)\n", c.name, what, c.name, synopsis)
		return nil, false
	case len(pos) > max:
		fmt.Fprintf(c.stderr, "strata %s: unexpected argument %q\n", c.name, pos[max])
		return nil, false
	}
	for _, p := range pos[:min] {
		if strings.TrimSpace(p) == "" {
			fmt.Fprintf(c.stderr, "strata %s: %s is empty\n", c.name, what)
			return nil, false
		}
	}
	return pos, true
}

// client returns the API client of the parsed flags; ok false means: exit 2.
func (c *command) client() (*apiClient, bool) { return c.cf.client(c.name, c.stderr) }

// oneID parses args, which must hold exactly one positional argument, the
// id of a resource, and returns it with the client.
func (k resourceKind) oneID(c *command, args []string) (string, *apiClient, bool) {
	pos, ok := c.parse(args, 1, 1, "the "+k.what+" id", "ID")
	if !ok {
		return "", nil, false
	}
	cl, ok := c.client()
	return pos[0], cl, ok
}

func (k resourceKind) create(args []string, stdout, stderr io.Writer) int {
	c := newCommand(k.cmd+" create", stderr)
	file := c.fs.String("file", "", "the "+k.what+", a YAML or JSON file (- for standard input)")
	pos, ok := c.parse(args, 0, 1, "", "")
	if !ok {
		return 2
	}
	if *file == "" && len(pos) == 1 {
		*file, pos = pos[0], nil
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "strata %s: unexpected argument %q\n", c.name, pos[0])
		return 2
	}
	data, code := c.readFile(*file)
	if data == nil {
		return code
	}
	cl, ok := c.client()
	if !ok {
		return 2
	}
	v, code := checkResourceFile(cl, k, c.name, *file, data, "", stderr)
	if v == nil {
		return code
	}
	res, err := cl.Create(k.collection(), v)
	if err != nil {
		return printError(stderr, cl, err)
	}
	return k.printChanged(stdout, stderr, c.cf.asJSON, "created", res)
}

func (k resourceKind) update(args []string, stdout, stderr io.Writer) int {
	c := newCommand(k.cmd+" update", stderr)
	file := c.fs.String("file", "", "the new "+k.what+", a YAML or JSON file (- for standard input); its id may be left out")
	ifMatch := c.fs.String("if-match", "", "the ETag of the version being replaced (default: the current one)")
	id, cl, ok := k.oneID(c, args)
	if !ok {
		return 2
	}
	data, code := c.readFile(*file)
	if data == nil {
		return code
	}
	v, code := checkResourceFile(cl, k, c.name, *file, data, id, stderr)
	if v == nil {
		return code
	}
	etag, err := k.currentETag(cl, id, *ifMatch)
	if err != nil {
		return printError(stderr, cl, err)
	}
	res, err := cl.Update(k.collection(), id, v, etag)
	if err != nil {
		return k.printConflict(stderr, cl, err, id, etag)
	}
	return k.printChanged(stdout, stderr, c.cf.asJSON, "updated", res)
}

func (k resourceKind) delete(args []string, stdout, stderr io.Writer) int {
	c := newCommand(k.cmd+" delete", stderr)
	ifMatch := c.fs.String("if-match", "", "the ETag of the version being deleted (default: the current one)")
	id, cl, ok := k.oneID(c, args)
	if !ok {
		return 2
	}
	etag, err := k.currentETag(cl, id, *ifMatch)
	if err != nil {
		return printError(stderr, cl, err)
	}
	_, _, body, err := cl.Do(http.MethodDelete, k.itemPath(id), nil, etag)
	if err != nil {
		return k.printConflict(stderr, cl, err, id, etag)
	}
	if c.cf.asJSON {
		if len(strings.TrimSpace(string(body))) == 0 {
			body, _ = json.Marshal(map[string]string{"id": id, "deleted": "true"})
		}
		return printJSONResult(stdout, stderr, body)
	}
	fmt.Fprintf(stdout, "deleted %s %s\n", k.what, id)
	return 0
}

func (k resourceKind) get(args []string, stdout, stderr io.Writer) int {
	c := newCommand(k.cmd+" get", stderr)
	id, cl, ok := k.oneID(c, args)
	if !ok {
		return 2
	}
	_, h, body, err := cl.Do(http.MethodGet, k.itemPath(id), nil, "")
	if err != nil {
		return printError(stderr, cl, err)
	}
	if c.cf.asJSON {
		printWarnings(stderr, client.Warnings(h))
		return printJSONResult(stdout, stderr, body)
	}
	if err := k.print(stdout, body, h.Get("ETag")); err != nil {
		return printError(stderr, cl, fmt.Errorf("unexpected response to GET %s: %v", k.itemPath(id), err))
	}
	printNotActedOn(stdout, client.Warnings(h))
	return 0
}

func (k resourceKind) list(args []string, stdout, stderr io.Writer) int {
	c := newCommand(k.cmd+" list", stderr)
	if _, ok := c.parse(args, 0, 0, "", ""); !ok {
		return 2
	}
	cl, ok := c.client()
	if !ok {
		return 2
	}
	var list struct {
		Items []struct {
			ID       string          `json:"id"`
			ETag     string          `json:"etag"`
			Resource json.RawMessage `json:"resource"`
			Warnings []string        `json:"warnings"`
		} `json:"items"`
	}
	body, _, err := cl.GetJSON(k.path, &list)
	if err != nil {
		return printError(stderr, cl, err)
	}
	if c.cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	t := newTable(stdout, append(append([]string{"ID"}, k.columns...), "ETAG", "COMMENT")...)
	var notes []string
	for _, it := range list.Items {
		cells, comment, err := k.row(it.Resource)
		if err != nil {
			return printError(stderr, cl, fmt.Errorf("unexpected response to GET %s: %v", k.path, err))
		}
		if it.ID != "" {
			cells[0] = it.ID
		}
		t.row(append(cells, it.ETag, oneLine(comment, 48))...)
		if len(it.Warnings) > 0 {
			notes = append(notes, fmt.Sprintf("%s %s: %d field(s) not yet acted on (strata %s get %s)", k.what, cells[0], len(it.Warnings), k.cmd, cells[0]))
		}
	}
	if err := t.flush(); err != nil {
		return printError(stderr, cl, err)
	}
	fmt.Fprintf(stdout, "%d %s(s)\n", len(list.Items), k.what)
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	return 0
}

// print prints one resource for people.
func (k resourceKind) print(w io.Writer, raw json.RawMessage, etag string) error {
	if k.show != nil {
		return k.show(w, raw, etag)
	}
	cells, comment, err := k.row(raw)
	if err != nil {
		return err
	}
	kv := newKV(w)
	kv.add("ID", cells[0])
	kv.add("ETag", etag)
	for i, col := range k.columns {
		kv.add(col[:1]+strings.ToLower(col[1:]), cells[i+1])
	}
	kv.add("Comment", oneLine(comment, 200))
	return kv.flush()
}

// printChanged prints the resource a create or update returned.
func (k resourceKind) printChanged(stdout, stderr io.Writer, asJSON bool, verb string, res client.Result) int {
	ws, body := res.Warnings, res.Body
	if asJSON {
		printWarnings(stderr, ws)
		return printJSONResult(stdout, stderr, body)
	}
	// The kind's own decoding finds the id: an AWS WAF resource also has
	// "Id", which encoding/json would take for "id".
	cells, _, err := k.row(body)
	if err != nil {
		return printError(stderr, nil, fmt.Errorf("unexpected response: %v", err))
	}
	fmt.Fprintf(stdout, "%s %s %s\n\n", verb, k.what, cells[0])
	if err := k.print(stdout, body, res.ETag); err != nil {
		return printError(stderr, nil, fmt.Errorf("unexpected response: %v", err))
	}
	printNotActedOn(stdout, ws)
	return 0
}

// currentETag returns ifMatch as an ETag, or the current ETag of the
// resource when it is empty.
func (k resourceKind) currentETag(cl *apiClient, id, ifMatch string) (string, error) {
	if etag := normalizeETag(ifMatch); etag != "" {
		return etag, nil
	}
	_, etag, err := cl.GetJSON(k.itemPath(id), nil)
	if err != nil {
		return "", err
	}
	if etag == "" {
		return "", fmt.Errorf("GET %s: the response has no ETag; pass --if-match", k.itemPath(id))
	}
	return etag, nil
}

// printConflict reports a failed PUT or DELETE, explaining a 412.
func (k resourceKind) printConflict(stderr io.Writer, c *apiClient, err error, id, etag string) int {
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
		fmt.Fprintf(stderr, "strata: %s: %s %s changed since you read it (ETag %s is no longer its current one); get it again and retry\n",
			orDefault(ae.Code, "PreconditionFailed"), k.what, id, etag)
		return 1
	}
	return printError(stderr, c, err)
}

// printNotActedOn ends a resource's display with the fields it sets that
// nothing acts on yet.
func printNotActedOn(w io.Writer, ws []string) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(w, "\nNot yet acted on (accepted, but Strata does nothing with them yet):")
	for _, s := range ws {
		fmt.Fprintf(w, "  %s\n", s)
	}
}

// printWarnings prints the same, as warnings on standard error (with --json,
// whose standard output is the API's JSON).
func printWarnings(stderr io.Writer, ws []string) {
	for _, s := range ws {
		fmt.Fprintf(stderr, "strata: warning: %s\n", s)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readInputFile reads a file, or standard input for "-".
func readInputFile(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, client.MaxResponse))
	}
	return os.ReadFile(path)
}

// printJSONResult prints an API response as JSON (--json).
func printJSONResult(stdout, stderr io.Writer, body []byte) int {
	if err := printRawJSON(stdout, body); err != nil {
		fmt.Fprintf(stderr, "strata: %v\n", err)
		return 1
	}
	return 0
}

// table is the CLI's table: columns aligned with two spaces, an empty cell
// shown as "-".
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = orDash(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// kvTable is a table of "Key:  value" lines.
type kvTable struct{ tw *tabwriter.Writer }

func newKV(w io.Writer) *kvTable { return &kvTable{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)} }

func (t *kvTable) add(k, v string) { fmt.Fprintf(t.tw, "%s:\t%s\n", k, orDash(v)) }

func (t *kvTable) flush() error { return t.tw.Flush() }
