package cli

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
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// placeholderID stands in, while checking, for the id of a distribution
// whose file has none (the control plane makes one up when it is created).
const placeholderID = "ESTRATACLIPLACEHOLDER"

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

// checkResource decodes and validates one resource of kind k with
// config.ParseResourceWithID, the control plane's own check. Two things a
// lone resource may lack are filled in: an id (when the file has none: the id
// being updated, or for a distribution being created a placeholder) and,
// when the first try shows they are missing, the resources it refers to,
// which live in the control plane (fetched from the API). A non-nil error is
// an API failure. The resource returned is a pointer to a config type
// (*config.Distribution, ...).
func checkResource(c *apiClient, k resourceKind, data []byte, id string) (any, config.Errors, error) {
	if !hasContent(strings.TrimPrefix(string(data), "\ufeff")) {
		return nil, config.Errors{{Msg: "the file is empty; it must hold one " + k.what}}, nil
	}
	kind, ok := config.KindByField(k.section)
	if !ok {
		panic("strata: no resource kind " + k.section)
	}
	inject := id
	if inject == "" && k.generatedID {
		inject = placeholderID
	}
	refs := &config.Config{}
	fetched := false
	for {
		v, err := config.ParseResourceWithID(kind, data, refs, inject)
		if err == nil {
			if d, ok := v.(*config.Distribution); ok && id == "" && d.ID == placeholderID {
				// The control plane picks the id, and the domain name
				// that defaults from it.
				d.ID = ""
				if d.DomainName == strings.ToLower(placeholderID)+config.DefaultDomainSuffix {
					d.DomainName = ""
				}
			}
			if got := v.ResourceID(); id != "" && got != id {
				return nil, config.Errors{{Path: "id", Msg: fmt.Sprintf("%q is not the id of the %s being updated (%q): leave it out or make them equal", got, k.what, id)}}, nil
			}
			return v, nil, nil
		}
		var errs config.Errors
		if !errors.As(err, &errs) {
			return nil, config.Errors{{Msg: err.Error()}}, nil
		}
		if fetched || len(k.refs) == 0 || !hasReferenceError(errs) {
			return nil, errs, nil
		}
		if refs, err = referencedResources(c, k.refs); err != nil {
			return nil, nil, err
		}
		fetched = true
	}
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
		for _, suffix := range []string{"cachePolicyId", "originRequestPolicyId", "responseHeadersPolicyId", "webACLId"} {
			if e.Path == suffix || strings.HasSuffix(e.Path, "."+suffix) {
				return true
			}
		}
		if strings.Contains(e.Path, "trustedKeyGroups[") || wafReferenceError(e) {
			return true
		}
	}
	return false
}

// referencedResources fetches the control plane's resources of the given
// sections (policies, public keys, key groups), as a configuration.
func referencedResources(c *apiClient, sections []string) (*config.Config, error) {
	doc := map[string][]json.RawMessage{}
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
			return nil, err
		}
		for _, it := range list.Items {
			if len(it.Resource) > 0 {
				doc[k.section] = append(doc[k.section], it.Resource)
			}
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return config.Parse(data, "the control plane's resources")
}
