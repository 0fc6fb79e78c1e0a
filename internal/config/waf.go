package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/strata-cdn/strata/internal/waf"
)

// Web ACLs, IP sets and regex pattern sets are AWS WAFv2 resources in
// AWS's own JSON shape (field names as `aws wafv2 get-web-acl` prints
// them), plus Strata's resource id: {"id": "shop-acl", "Name": "shop-acl",
// "DefaultAction": {"Allow": {}}, "Rules": [...]}. The AWS part is decoded
// by the waf package, strictly, and opaque to the rest of the model (its
// fields are documented by AWS, see docs/config.md "Web ACLs").

// WebACL is a web ACL (AWS WAFv2 WebACL) with its Strata id.
type WebACL struct {
	ID  string     `json:"id"`
	ACL waf.WebACL `json:"-"`

	undecoded bool // the AWS part failed to decode (reported then; not validated)
}

// IPSet is an AWS WAFv2 IP set with its Strata id.
type IPSet struct {
	ID  string    `json:"id"`
	Set waf.IPSet `json:"-"`

	undecoded bool
}

// RegexPatternSet is an AWS WAFv2 regex pattern set with its Strata id.
type RegexPatternSet struct {
	ID  string              `json:"id"`
	Set waf.RegexPatternSet `json:"-"`

	undecoded bool
}

func (a *WebACL) ResourceID() string          { return a.ID }
func (s *IPSet) ResourceID() string           { return s.ID }
func (s *RegexPatternSet) ResourceID() string { return s.ID }

// UnmarshalJSON reads the id and hands the rest (the bare WebACL or
// get-web-acl's {"WebACL": …, "LockToken": …}) to waf.DecodeWebACL.
func (a *WebACL) UnmarshalJSON(b []byte) error {
	rest, id, err := splitID(b)
	if err != nil {
		return err
	}
	acl, err := waf.DecodeWebACL(rest)
	if err != nil {
		a.ID, a.undecoded = id, true
		return err
	}
	a.ID, a.ACL = id, *acl
	return nil
}

// MarshalJSON writes the id and the bare WebACL.
func (a WebACL) MarshalJSON() ([]byte, error) { return joinID(a.ID, a.ACL) }

// UnmarshalJSON reads the id and an IP set (bare or get-ip-set's output).
func (s *IPSet) UnmarshalJSON(b []byte) error {
	rest, id, err := splitID(b)
	if err != nil {
		return err
	}
	set, err := waf.DecodeIPSet(rest)
	if err != nil {
		s.ID, s.undecoded = id, true
		return err
	}
	s.ID, s.Set = id, *set
	return nil
}

// MarshalJSON writes the id and the bare IP set.
func (s IPSet) MarshalJSON() ([]byte, error) { return joinID(s.ID, s.Set) }

// UnmarshalJSON reads the id and a regex pattern set.
func (s *RegexPatternSet) UnmarshalJSON(b []byte) error {
	rest, id, err := splitID(b)
	if err != nil {
		return err
	}
	set, err := waf.DecodeRegexPatternSet(rest)
	if err != nil {
		s.ID, s.undecoded = id, true
		return err
	}
	s.ID, s.Set = id, *set
	return nil
}

// MarshalJSON writes the id and the bare regex pattern set.
func (s RegexPatternSet) MarshalJSON() ([]byte, error) { return joinID(s.ID, s.Set) }

// splitID takes Strata's "id" out of a JSON object and returns the rest.
func splitID(b []byte) ([]byte, string, error) {
	var obj map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&obj); err != nil || obj == nil {
		return nil, "", errors.New("expected a mapping")
	}
	var id string
	if raw, ok := obj["id"]; ok {
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, "", &waf.DecodeError{Path: "id", Msg: "expected a string"}
		}
		delete(obj, "id")
	}
	rest, err := json.Marshal(obj)
	return rest, id, err
}

func joinID(id string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	idJSON, _ := json.Marshal(id)
	if len(b) <= 2 { // {}
		return []byte(`{"id":` + string(idJSON) + `}`), nil
	}
	return []byte(`{"id":` + string(idJSON) + `,` + string(b[1:])), nil
}

// WebACLResolver resolves the IP sets and regex pattern sets of c for
// waf.Compile: by id, by AWS ARN (whose last part is the AWS Id, or whose
// name part is the set's Name) or by Name.
func (c *Config) WebACLResolver() waf.Resolver {
	r := waf.MapResolver{IPSets: map[string]*waf.IPSet{}, RegexPatternSets: map[string]*waf.RegexPatternSet{}}
	for i := range c.IPSets {
		r.IPSets[c.IPSets[i].ID] = &c.IPSets[i].Set
	}
	for i := range c.RegexPatternSets {
		r.RegexPatternSets[c.RegexPatternSets[i].ID] = &c.RegexPatternSets[i].Set
	}
	return r
}

// FindWebACL returns the web ACL a distribution's webACLId names: its id,
// or its ARN (CloudFront takes a WAFv2 web ACL's ARN).
func (c *Config) FindWebACL(ref string) *WebACL {
	for i := range c.WebACLs {
		a := &c.WebACLs[i]
		if a.ID == ref || (a.ACL.ARN != "" && a.ACL.ARN == ref) {
			return a
		}
	}
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.Split(ref, "/")
		last := parts[len(parts)-1]
		for i := range c.WebACLs {
			if a := &c.WebACLs[i]; a.ID == last || (a.ACL.Id != "" && a.ACL.Id == last) {
				return a
			}
		}
	}
	return nil
}
