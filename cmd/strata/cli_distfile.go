package main

// Local checking of a resource file (a distribution, a policy, a key, a key
// group), before it is sent: the same strict decoder and validator as
// configuration files, so that mistakes come back with field paths and line
// numbers without a round trip.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// placeholderID stands in, while checking, for the id of a distribution
// whose file has none (the control plane makes one up when it is created).
const placeholderID = "ESTRATACLIPLACEHOLDER"

// wrapLines is how many lines the wrapper puts before the file's first line.
const wrapLines = 2

// checkResourceFile checks the resource of kind k in data (the content of
// file) and returns it with its defaults filled, ready to send. id is the id
// it must have (an update), or "" (a create). On failure it prints the
// problems and returns nil with the exit code.
func checkResourceFile(c *apiClient, k resourceKind, cmd, file string, data []byte, id string, stderr io.Writer) (any, int) {
	d, problems, err := checkResource(c, k, data, id)
	if err != nil {
		return nil, printError(stderr, c, err)
	}
	if len(problems) > 0 {
		name := file
		if name == "-" {
			name = "standard input"
		}
		if len(problems) == 1 {
			fmt.Fprintf(stderr, "strata %s: %s is not a valid %s:\n", cmd, name, k.what)
		} else {
			fmt.Fprintf(stderr, "strata %s: %s is not a valid %s (%d problems):\n", cmd, name, k.what, len(problems))
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "  %s\n", p.Error())
		}
		return nil, 1
	}
	return d, 0
}

// checkDistribution is checkResource for a distribution.
func checkDistribution(c *apiClient, data []byte, id string) (*config.Distribution, config.Errors, error) {
	v, errs, err := checkResource(c, distKind, data, id)
	if v == nil {
		return nil, errs, err
	}
	return v.(*config.Distribution), nil, nil
}

// checkResource decodes and validates one resource of kind k. The file is
// wrapped as the one element of its section of a configuration and parsed
// with config.Parse. Two things a lone resource may lack are filled in when
// the first try shows they are missing: an id (when the file has none: the
// id being updated, or for a distribution being created a placeholder) and
// the resources it refers to, which live in the control plane (fetched from
// the API). A non-nil error is an API failure. The resource returned is a
// pointer to a config type (*config.Distribution, ...).
func checkResource(c *apiClient, k resourceKind, data []byte, id string) (any, config.Errors, error) {
	content := plainYAML(string(data))
	if !hasContent(content) {
		return nil, config.Errors{{Msg: "the file is empty; it must hold one " + k.what}}, nil
	}
	var inject, extras string
	fetched := false
	for {
		v, errs := parseResource(k, content, inject, extras)
		if len(errs) == 0 {
			if d, ok := v.(*config.Distribution); ok && inject != "" && d.ID == inject && id == "" {
				// The control plane picks the id, and the domain name
				// that defaults from it.
				d.ID = ""
				if d.DomainName == strings.ToLower(inject)+config.DefaultDomainSuffix {
					d.DomainName = ""
				}
			}
			if got := k.idOf(v); id != "" && got != id {
				return nil, config.Errors{{Path: "id", Msg: fmt.Sprintf("%q is not the id of the %s being updated (%q): leave it out or make them equal", got, k.what, id)}}, nil
			}
			return v, nil, nil
		}
		retry := false
		if inject == "" && hasError(errs, "id", "required") && (id != "" || k.generatedID) {
			inject = id
			if inject == "" {
				inject = placeholderID
			}
			retry = true
		}
		if !fetched && len(k.refs) > 0 && hasReferenceError(errs) {
			var err error
			if extras, err = referencedResources(c, k.refs); err != nil {
				return nil, nil, err
			}
			fetched, retry = true, true
		}
		if !retry {
			return nil, errs, nil
		}
	}
}

// plainYAML blanks a leading document start ("---") and directives and a
// trailing document end ("..."), which cannot be nested in the wrapper;
// blanking keeps the line numbers.
func plainYAML(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasPrefix(l, "%") {
			lines[i] = ""
			continue
		}
		if l == "---" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "---\t") {
			lines[i] = strings.TrimSpace(strings.TrimPrefix(l, "---"))
		}
		break
	}
	for i := len(lines) - 1; i >= 0; i-- {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.TrimRight(lines[i], " \t\r") == "..." {
			lines[i] = ""
		}
		break
	}
	return strings.Join(lines, "\n")
}

// parseResource parses content as the one resource of kind k of a
// configuration. inject, when not empty, is the id to use if content has
// none; extras is YAML appended to the configuration (the referenced
// resources). The errors' paths and lines are made relative to the file.
func parseResource(k resourceKind, content, inject, extras string) (any, config.Errors) {
	var b strings.Builder
	b.WriteString(k.section + ":\n  -\n")
	flow, start := flowMapping(content)
	if inject != "" && flow {
		// A JSON object (or YAML flow mapping): the id goes first.
		i := start
		rest := content[i+1:]
		sep := ", "
		if strings.HasPrefix(strings.TrimSpace(rest), "}") {
			sep = " "
		}
		content = content[:i+1] + ` "id": ` + strconv.Quote(inject) + sep + rest
	}
	lines := strings.Split(strings.TrimRight(content, "\n"), "\n")
	for _, l := range lines {
		b.WriteString("    ")
		b.WriteString(strings.TrimRight(l, "\r"))
		b.WriteByte('\n')
	}
	if inject != "" && !flow {
		// A YAML merge key fills in the id only where the file has none;
		// at the end, so that no line moves.
		b.WriteString("    " + keyIndent(content) + "<<: {id: " + strconv.Quote(inject) + "}\n")
	}
	b.WriteString(extras)
	cfg, err := config.Parse([]byte(b.String()), "")
	if err == nil {
		v, n := k.item(cfg)
		if n != 1 {
			return nil, config.Errors{{Msg: "the file must hold one " + k.what + " (a mapping of its fields)"}}
		}
		return v, nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil, config.Errors{{Msg: err.Error()}}
	}
	out := make(config.Errors, 0, len(errs))
	for _, e := range errs {
		switch {
		case e.Path == k.section+"[0]":
			e.Path = ""
		case strings.HasPrefix(e.Path, k.section+"[0]."):
			e.Path = strings.TrimPrefix(e.Path, k.section+"[0].")
		case e.Path == k.section:
			e.Path = ""
		}
		e.Line -= wrapLines
		if e.Line <= 0 || e.Line > len(lines) {
			e.Line = 0
		}
		out = append(out, e)
	}
	return nil, out
}

// flowMapping reports whether content is a JSON object or a YAML flow
// mapping (its first significant character is "{"), and where that "{" is.
func flowMapping(content string) (bool, int) {
	off := 0
	for _, l := range strings.SplitAfter(content, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			off += len(l)
			continue
		}
		if strings.HasPrefix(t, "{") {
			return true, off + strings.IndexByte(l, '{')
		}
		return false, 0
	}
	return false, 0
}

// hasContent reports whether content has a line that is not blank or a
// comment.
func hasContent(content string) bool {
	for _, l := range strings.Split(content, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// keyIndent returns the indentation of the first key of a block mapping.
func keyIndent(content string) string {
	for _, l := range strings.Split(content, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return l[:len(l)-len(strings.TrimLeft(l, " "))]
	}
	return ""
}

// hasError reports whether errs has an error at path whose message is msg.
func hasError(errs config.Errors, path, msg string) bool {
	for _, e := range errs {
		if e.Path == path && e.Msg == msg {
			return true
		}
	}
	return false
}

// hasReferenceError reports whether an error is about a policy, key group
// or public key the resource refers to: those live in the control plane, not
// in the file.
func hasReferenceError(errs config.Errors) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Path, "items[") { // a key group's public keys
			return true
		}
		for _, suffix := range []string{"cachePolicyId", "originRequestPolicyId", "responseHeadersPolicyId"} {
			if e.Path == suffix || strings.HasSuffix(e.Path, "."+suffix) {
				return true
			}
		}
		if strings.Contains(e.Path, "trustedKeyGroups[") {
			return true
		}
	}
	return false
}

// referencedResources fetches the control plane's resources of the given
// sections (policies, public keys, key groups), as configuration YAML (one
// JSON list per section) to append to the checked configuration.
func referencedResources(c *apiClient, sections []string) (string, error) {
	var b strings.Builder
	for _, k := range resourceKinds {
		if !slices.Contains(sections, k.section) {
			continue
		}
		var list struct {
			Items []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"items"`
		}
		if _, _, err := c.GetJSON(k.path, &list); err != nil {
			return "", err
		}
		res := make([]json.RawMessage, 0, len(list.Items))
		for _, it := range list.Items {
			if len(it.Resource) > 0 {
				res = append(res, it.Resource)
			}
		}
		if len(res) == 0 {
			continue
		}
		data, err := json.Marshal(res)
		if err != nil {
			return "", err
		}
		b.WriteString(k.section + ": ")
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
