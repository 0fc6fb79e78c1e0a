package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-cdn/strata/internal/waf"
)

// Load reads the configuration file at path and parses it with [Parse],
// then reads and checks the files it names ([Config.CheckFiles]).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, path, true)
}

// Parse decodes a YAML or JSON configuration strictly, fills in the defaults
// and validates it. name (usually the file name) prefixes the error message.
// On failure the error wraps [Errors] (use errors.As), listing every problem
// found, each with its field path and line.
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name, false)
}

// parse is Parse; with files, it also reads the files the configuration
// names (see CheckFiles) once the rest is valid.
func parse(data []byte, name string, files bool) (*Config, error) {
	cfg := &Config{}
	errs, lines, readable := decodeInto(data, cfg)
	if readable {
		// Validate what could be decoded, leaving out fields whose value
		// already failed to decode: what they hold is not what was written.
		bad := make([]string, 0, len(errs))
		for _, e := range errs {
			bad = append(bad, e.Path)
		}
		for _, e := range cfg.validate() {
			if !shadowed(e.Path, bad) {
				e.Line = lineOf(e.Path, lines)
				errs = append(errs, e)
			}
		}
	}
	if len(errs) == 0 && files {
		for _, e := range cfg.checkFiles() {
			e.Line = lineOf(e.Path, lines)
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	errs.sortByLine()
	if name == "" {
		name = "config"
	}
	if len(errs) == 1 {
		return nil, fmt.Errorf("%s: %w", name, errs)
	}
	return nil, fmt.Errorf("%s: %d problems:\n%w", name, len(errs), errs)
}

// shadowed reports whether path is at or under a path that already failed to
// decode: its value is not what the user wrote, so validating it is noise.
func shadowed(path string, bad []string) bool {
	for _, b := range bad {
		if under(path, b) {
			return true
		}
	}
	return false
}

func under(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := path[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// lineOf returns the line of path or of its nearest ancestor that has one.
func lineOf(path string, lines map[string]int) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return lines[""]
		}
		path = path[:i]
	}
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxAliasSteps bounds the nodes decoded through aliases, so that a small
// document cannot expand into a huge one ("billion laughs"). Nodes outside
// aliases are bounded by the size of the document itself.
const maxAliasSteps = 100_000

// decodeInto decodes data into cfg, returning the decoding errors, the line
// of every path that was set, and whether the document could be read at all
// (false for a syntax error or a document that is not a mapping).
func decodeInto(data []byte, cfg *Config) (errs Errors, lines map[string]int, readable bool) {
	return decodeValue(data, reflect.ValueOf(cfg).Elem(), "a configuration is a mapping (pop:, distributions:, ...)", "a configuration")
}

// decodeValue decodes data into v (a struct), as decodeInto does; what
// starts the message for a document that is not a mapping, whole in the one
// for a second document.
func decodeValue(data []byte, v reflect.Value, notMapping, whole string) (errs Errors, lines map[string]int, readable bool) {
	lines = map[string]int{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, lines, true // empty document: the empty configuration
		}
		return Errors{yamlError(err)}, lines, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return Errors{yamlError(err)}, lines, false
		}
		return Errors{{Line: extra.Line, Msg: whole + " is a single YAML document; remove the second document (after \"---\")"}}, lines, false
	}
	if len(doc.Content) == 0 {
		return nil, lines, true
	}
	root := doc.Content[0]
	for root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode && !(root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		return Errors{{Line: root.Line, Msg: notMapping + ", got " + describe(root)}}, lines, false
	}
	d := &decoder{lines: lines, fields: map[reflect.Type]*structInfo{}, merging: map[*yaml.Node]bool{}}
	lines[""] = root.Line
	d.decode(root, v, "")
	return d.errs, lines, !d.tooBig
}

func yamlError(err error) FieldError {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		return FieldError{Line: l, Msg: "invalid YAML: " + m[2]}
	}
	return FieldError{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decoder turns a yaml.Node tree into Go values using the json tags of the
// struct fields, refusing unknown fields, duplicate keys and wrong types.
type decoder struct {
	errs    Errors
	lines   map[string]int
	fields  map[reflect.Type]*structInfo
	aliases int                 // depth of aliases being expanded
	steps   int                 // nodes decoded through aliases
	tooBig  bool                // steps ran out
	merging map[*yaml.Node]bool // mappings being merged, to stop "<<" cycles
}

type structInfo struct {
	byName map[string]int // json name -> field index
	names  []string       // json names in declaration order
}

func (d *decoder) info(t reflect.Type) *structInfo {
	if si, ok := d.fields[t]; ok {
		return si
	}
	si := &structInfo{byName: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := jsonName(f)
		if name == "-" {
			continue
		}
		si.byName[name] = i
		si.names = append(si.names, name)
	}
	d.fields[t] = si
	return si
}

// jsonName is the name of a field in a configuration: its json tag, or its Go
// name when there is none.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

var jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodeJSON decodes a value whose type decodes itself from JSON (the AWS
// WAFv2 resources, which the waf package reads strictly): the node is
// turned into JSON and handed over; a waf.DecodeError's path is put under
// the node's.
// nodeLines records the line of every path under n, so that errors found
// inside a self-decoding value point at their own line.
// Aliases are not followed (their lines are the anchor's; and an alias may
// contain itself).
func (d *decoder) nodeLines(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode {
		return
	}
	if _, seen := d.lines[path]; !seen {
		d.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			kp := joinPath(path, k.Value)
			d.lines[kp] = k.Line
			d.nodeLines(n.Content[i+1], kp)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d.nodeLines(item, path+"["+strconv.Itoa(i)+"]")
		}
	}
}

// joinPath joins a path and a field path under it ("" is the top).
func joinPath(path, sub string) string {
	if path == "" {
		return sub
	}
	return path + "." + sub
}

func (d *decoder) decodeJSON(n *yaml.Node, v reflect.Value, path string) {
	d.nodeLines(n, path)
	var generic any
	if err := n.Decode(&generic); err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	b, err := json.Marshal(generic)
	if err != nil {
		d.fail(n, path, "cannot be read as JSON: %v", err)
		return
	}
	if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
		var de *waf.DecodeError
		if errors.As(err, &de) {
			p := path
			if de.Path != "" {
				p = joinPath(path, de.Path)
			}
			d.errs = append(d.errs, FieldError{Path: p, Line: lineOf(p, d.lines), Msg: de.Msg})
			return
		}
		d.fail(n, path, "%v", err)
	}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.tooBig {
		return
	}
	if d.aliases > 0 {
		if d.steps++; d.steps > maxAliasSteps {
			d.tooBig = true
			d.fail(n, path, "aliases expand to more than %d values; write the document out instead", maxAliasSteps)
			return
		}
	}
	if n.Kind == yaml.AliasNode {
		d.aliases++
		d.decode(n.Alias, v, path)
		d.aliases--
		return
	}
	if _, seen := d.lines[path]; !seen {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if !strings.HasPrefix(n.ShortTag(), "!!") {
		d.fail(n, path, "unsupported YAML tag %s", n.Tag)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(jsonUnmarshalerType) && !v.Addr().Type().Implements(textUnmarshalerType) {
		d.decodeJSON(n, v, path)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!bool" {
			d.fail(n, path, "expected %s, got %s", describeType(v.Type()), describe(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!bool" || n.ShortTag() == "!!binary" {
			d.fail(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n, path, "expected a boolean (true or false), got %s", describe(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.fail(n, path, "expected a boolean (true or false), got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.fail(n, path, "expected an integer, got %s", describe(n))
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			d.fail(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			d.fail(n, path, "expected a number, got %s", describe(n))
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			d.fail(n, path, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if a field of an unsupported kind is added to the model.
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	si := d.info(v.Type())
	seen := map[string]int{} // key -> line
	for _, kv := range d.pairs(n, path) {
		k, val := kv[0], kv[1]
		fpath := k.Value
		if path != "" {
			fpath = path + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a mapping key must be a string, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, fpath, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		i, ok := si.byName[k.Value]
		if !ok {
			msg := "unknown field"
			if s := suggest(k.Value, si.names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if s := d.suggestNested(k.Value, v.Type()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(k, fpath, "%s", msg)
			continue
		}
		d.lines[fpath] = k.Line
		d.decode(val, v.Field(i), fpath)
	}
}

// pairs returns the key/value pairs of a mapping with YAML merge keys ("<<")
// applied: explicit keys first, then merged keys that are not set explicitly.
func (d *decoder) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var out, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(val, path)...)
			continue
		}
		out = append(out, [2]*yaml.Node{k, val})
	}
	if len(merged) == 0 {
		return out
	}
	explicit := map[string]bool{}
	for _, kv := range out {
		explicit[kv[0].Value] = true
	}
	for _, kv := range merged {
		if !explicit[kv[0].Value] {
			explicit[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

func (d *decoder) mergeSources(val *yaml.Node, path string) [][2]*yaml.Node {
	if d.steps++; d.steps > maxAliasSteps {
		return nil
	}
	for val.Kind == yaml.AliasNode {
		val = val.Alias
	}
	switch val.Kind {
	case yaml.MappingNode:
		if d.merging[val] {
			d.fail(val, path, "a merge key (<<) refers to the mapping that contains it")
			return nil
		}
		d.merging[val] = true
		defer delete(d.merging, val)
		return d.pairs(val, path)
	case yaml.SequenceNode:
		var out [][2]*yaml.Node
		for _, s := range val.Content {
			out = append(out, d.mergeSources(s, path)...)
		}
		return out
	}
	d.fail(val, path, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(val))
	return nil
}

// suggestNested finds name among the fields of the struct-valued fields of
// t, for a field written one level too high ("signingBehavior" directly under
// s3OriginConfig), and returns it with its parent ("originAccessControl.signingBehavior").
func (d *decoder) suggestNested(name string, t reflect.Type) string {
	si := d.info(t)
	for _, parent := range si.names {
		ft := t.Field(si.byName[parent]).Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || ft.Implements(textUnmarshalerType) {
			continue
		}
		for _, child := range d.info(ft).names {
			if strings.EqualFold(child, name) {
				return parent + "." + child
			}
		}
	}
	return ""
}

// describe names the kind of a node for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("a string (%q)", truncate(n.Value))
		case "!!int":
			return "an integer (" + truncate(n.Value) + ")"
		case "!!float":
			return "a number (" + truncate(n.Value) + ")"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp (" + truncate(n.Value) + ")"
		case "!!binary":
			return "binary data"
		}
		return "a " + n.ShortTag() + " value"
	}
	return "nothing"
}

func describeType(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[ByteSize]():
		return "a size (bytes, or a string such as \"256MiB\")"
	case reflect.TypeFor[Duration]():
		return "a duration (such as \"10s\", or whole seconds)"
	}
	return "a string"
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// suggest returns the candidate that name most likely meant: the same name in
// another case, else the nearest by edit distance when it is close enough.
func suggest(name string, candidates []string) string {
	best, bestDist := "", 0
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if strings.ToLower(c) == lname {
			return c
		}
		dist := editDistance(lname, strings.ToLower(c))
		if best == "" || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := max(1, min(3, len(name)/3))
	if best != "" && bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
