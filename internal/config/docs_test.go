package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const docsPath = "../../docs/config.md"

var backticked = regexp.MustCompile("`([^`]+)`")

// docSections reads docs/config.md: for each heading, the backticked names
// in it (a field path such as distributions[].origins[], or a type name such
// as KeyList), and the field names in the first column of the tables below it.
func docSections(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string][]string{}
	var keys []string
	inCode := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		if strings.HasPrefix(line, "#") {
			keys = nil
			for _, m := range backticked.FindAllStringSubmatch(line, -1) {
				keys = append(keys, m[1])
				if _, ok := sections[m[1]]; !ok {
					sections[m[1]] = []string{}
				}
			}
			continue
		}
		if len(keys) > 0 && strings.HasPrefix(line, "| `") {
			cell, _, _ := strings.Cut(line[1:], "|")
			if m := backticked.FindStringSubmatch(cell); m != nil {
				for _, k := range keys {
					sections[k] = append(sections[k], m[1])
				}
			}
		}
	}
	return sections
}

// TestDocsCoverEveryField keeps docs/config.md and the model in step: every
// field of every type reachable from Config has a row in the section of its
// path or of its type, and every documented row is a real field.
func TestDocsCoverEveryField(t *testing.T) {
	sections := docSections(t)
	// The struct types of the model, by path and by name.
	structs := map[string]reflect.Type{"Config": reflect.TypeFor[Config]()}
	for _, p := range modelPaths() {
		ft := fieldType(p)
		path := p.path
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				path += "[]"
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshalerType) {
			structs[path] = ft
			structs[ft.Name()] = ft
		}
	}
	for _, p := range modelPaths() {
		parentPath := "Config"
		if i := strings.LastIndex(p.path, "."); i >= 0 {
			parentPath = p.path[:i]
		}
		if !contains(sections[parentPath], p.field) && !contains(sections[p.parent.Name()], p.field) {
			t.Errorf("docs/config.md does not document %s (add a row for `%s` under a heading naming `%s` or `%s`)",
				p.path, p.field, parentPath, p.parent.Name())
		}
	}
	for key, fields := range sections {
		st, ok := structs[key]
		if !ok {
			t.Errorf("docs/config.md: heading names `%s`, which is neither a field path nor a type of the model", key)
			continue
		}
		names := map[string]bool{}
		for i := range st.NumField() {
			names[jsonName(st.Field(i))] = true
		}
		for _, f := range fields {
			if !names[f] {
				t.Errorf("docs/config.md: section `%s` documents `%s`, which %s does not have", key, f, st.Name())
			}
		}
	}
}

func fieldType(p modelPath) reflect.Type {
	for i := range p.parent.NumField() {
		if jsonName(p.parent.Field(i)) == p.field {
			return p.parent.Field(i).Type
		}
	}
	panic("no field " + p.path)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDocsExample parses the example at the top of docs/config.md.
func TestDocsExample(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "```yaml\n")
	if !ok {
		t.Fatal("docs/config.md has no ```yaml block")
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated ```yaml block")
	}
	c, err := Parse([]byte(example), "docs/config.md example")
	if err != nil {
		t.Fatal(err)
	}
	d := &c.Distributions[0]
	if d.Behavior("/videos/a.mp4").TrustedKeyGroups[0] != "video-signers" || d.Origin("app").DomainName != "10.0.0.5" {
		t.Errorf("example parsed to unexpected values: %+v", d)
	}
	checkRoundTrip(t, c)
}
