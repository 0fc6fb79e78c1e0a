package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ParseResource decodes data, one resource of kind k in YAML or JSON,
// strictly (as [Parse] decodes a file: unknown fields are refused), and
// validates it in the context of refs, the configuration it joins, where it
// replaces the resource of the same id. refs is not written, and its
// resources should be valid (a validated configuration); nil is the empty
// one. It returns the resource with its defaults filled in.
//
// On failure the error wraps [Errors]. Problems in the resource have paths
// relative to it ("" for the whole, "origins[0].url") and lines of data.
// A path of another resource in a message is followed by that resource's
// name. Problems the change causes in other resources of refs (a distribution
// that names a policy the new version of which refuses it) have their path
// in the configuration, no line, and a message that names that resource:
// ` (distribution "shop")`.
func ParseResource(k Kind, data []byte, refs *Config) (Resource, error) {
	return ParseResourceWithID(k, data, refs, "")
}

// ParseResourceWithID is [ParseResource]; id, when not empty, is the id of
// the resource when data has none (the id of the resource being updated,
// or a placeholder for one whose id the control plane makes up).
func ParseResourceWithID(k Kind, data []byte, refs *Config, id string) (Resource, error) {
	r := k.ops.new()
	errs, lines, readable := decodeValue(data, reflect.ValueOf(r).Elem(),
		"expected a mapping (the fields of a "+k.Singular+")", "a "+k.Singular)
	if readable && len(errs) == 0 && len(lines) == 0 { // no document, or comments only
		errs = append(errs, FieldError{Msg: "empty: expected a mapping (the fields of a " + k.Singular + ")"})
		readable = false
	}
	if readable {
		if id != "" && r.ResourceID() == "" {
			reflect.ValueOf(r).Elem().FieldByName("ID").SetString(id)
		}
		c := copySections(refs)
		i := k.Put(c, r)
		prefix := k.path(i)
		bad := make([]string, 0, len(errs))
		for _, e := range errs {
			bad = append(bad, e.Path)
		}
		for _, e := range c.validate() {
			if rel, ok := relative(e.Path, prefix); ok {
				if !shadowed(rel, bad) {
					e.Path, e.Line = rel, lineOf(rel, lines)
					e.Msg = c.namePaths(e.Msg)
					errs = append(errs, e)
				}
				continue
			}
			e.Msg += c.nameAt(e.Path)
			errs = append(errs, e)
		}
		r = k.Item(c, i)
	}
	if len(errs) == 0 {
		return r, nil
	}
	errs.sortByLine()
	return nil, wrapErrors(k.Singular, errs)
}

// CheckRemoval validates refs without the resource id of kind k: the
// problems are those of the resources that need it, each with its path in
// refs and a message that names it (` (distribution "shop")`). refs is not
// written.
func CheckRemoval(k Kind, id string, refs *Config) error {
	c := copySections(refs)
	k.Remove(c, id)
	errs := c.validate()
	if len(errs) == 0 {
		return nil
	}
	for i := range errs {
		errs[i].Msg += c.nameAt(errs[i].Path)
	}
	return wrapErrors("configuration", errs)
}

func wrapErrors(name string, errs Errors) error {
	if len(errs) == 1 {
		return fmt.Errorf("%s: %w", name, errs)
	}
	return fmt.Errorf("%s: %d problems:\n%w", name, len(errs), errs)
}

// copySections returns a copy of c whose sections are new slices, so that
// validating it does not write to c's resources (nil: the empty one).
func copySections(c *Config) *Config {
	if c == nil {
		return &Config{}
	}
	out := Merge(c, &Config{})
	out.Topology.PoPs = slices.Clone(c.Topology.PoPs)
	return out
}

// relative returns path relative to prefix ("" for prefix itself), if it is
// at or under it.
func relative(path, prefix string) (string, bool) {
	if !under(path, prefix) {
		return "", false
	}
	rel := path[len(prefix):]
	return strings.TrimPrefix(rel, "."), true
}

// pathInMessage is a field path in a message ("already used by
// distributions[0].aliases[2]").
var pathInMessage = regexp.MustCompile(`\b[A-Za-z]+\[\d+\](?:[.\[][A-Za-z0-9\]]+)*`)

// namePaths names, in a message about one resource, the resource of c that
// each path of the message points into: the indices of the configuration it
// joined mean nothing to the one who wrote the resource.
func (c *Config) namePaths(msg string) string {
	return pathInMessage.ReplaceAllStringFunc(msg, func(p string) string { return p + c.nameAt(p) })
}

// nameAt names the resource of c that path points into,
// ` (distribution "shop")`, or returns "".
func (c *Config) nameAt(path string) string {
	field, rest, ok := strings.Cut(path, "[")
	if !ok {
		return ""
	}
	k, ok := KindByField(field)
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(rest, "]")
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= k.Len(c) {
		return ""
	}
	return fmt.Sprintf(" (%s %q)", k.Singular, k.Item(c, i).ResourceID())
}
