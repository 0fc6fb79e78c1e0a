package waf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// awsOnly are AWS WAFv2 field names that Strata knows and does not support;
// the decoder says so rather than calling them unknown.
var awsOnly = map[string]string{
	"RuleGroupReferenceStatement":  "rule groups of your own are not supported; put the rules in the web ACL",
	"AsnMatchStatement":            "ASN matching needs an ASN database, which Strata does not have",
	"JsonBody":                     "JSON body inspection is not supported; inspect Body",
	"HeaderOrder":                  "header order is not kept by Strata",
	"JA4Fingerprint":               "TLS fingerprints are not computed by Strata",
	"UriFragment":                  "viewers do not send URI fragments to a CDN",
	"DataProtectionConfig":         "log data protection is not supported",
	"OnSourceDDoSProtectionConfig": "Strata's DDoS defence is always on and has no per-ACL setting",
	"ApplicationConfig":            "application attributes are not supported",
}

// DecodeError is a decoding error at a JSON path of the document.
type DecodeError struct {
	Path string // e.g. Rules[2].Statement.AndStatement.Statements[0]
	Msg  string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "waf: " + e.Msg
	}
	return "waf: " + e.Path + ": " + e.Msg
}

// DecodeWebACL decodes a web ACL as `aws wafv2 get-web-acl` prints it (the
// {"WebACL": …, "LockToken": …} wrapper) or the bare WebACL object,
// strictly: a field that is not in the model is an error naming its path.
// It checks the shape only; Compile checks the values.
func DecodeWebACL(data []byte) (*WebACL, error) {
	var acl WebACL
	if err := decodeWrapped(data, "WebACL", []string{"LockToken", "ApplicationIntegrationURL"}, &acl); err != nil {
		return nil, err
	}
	return &acl, nil
}

// DecodeIPSet decodes an IP set, bare or in get-ip-set's {"IPSet": …} wrapper.
func DecodeIPSet(data []byte) (*IPSet, error) {
	var s IPSet
	if err := decodeWrapped(data, "IPSet", []string{"LockToken"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeRegexPatternSet decodes a regex pattern set, bare or in
// get-regex-pattern-set's {"RegexPatternSet": …} wrapper.
func DecodeRegexPatternSet(data []byte) (*RegexPatternSet, error) {
	var s RegexPatternSet
	if err := decodeWrapped(data, "RegexPatternSet", []string{"LockToken"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeWrapped(data []byte, wrapper string, extra []string, v any) error {
	var top any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&top); err != nil {
		return &DecodeError{Msg: "invalid JSON: " + err.Error()}
	}
	if d.More() {
		return &DecodeError{Msg: "invalid JSON: data after the top-level value"}
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return &DecodeError{Msg: "expected a JSON object"}
	}
	path := ""
	if inner, ok := obj[wrapper]; ok {
		for k := range obj {
			if k != wrapper && !contains(extra, k) {
				return &DecodeError{Path: k, Msg: "unknown field"}
			}
		}
		path = wrapper
		obj, ok = inner.(map[string]any)
		if !ok {
			return &DecodeError{Path: wrapper, Msg: "expected a JSON object"}
		}
		data, _ = json.Marshal(obj)
	}
	if err := checkFields(obj, reflect.TypeOf(v).Elem(), path); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			p := te.Field
			if path != "" {
				p = path + "." + p
			}
			return &DecodeError{Path: p, Msg: "expected " + jsonKind(te.Type) + ", got " + te.Value}
		}
		return &DecodeError{Path: path, Msg: err.Error()}
	}
	return nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkFields walks v (decoded JSON) against the Go type t and reports the
// first key that is not a field of the model, with its path. Keys must
// match exactly (encoding/json alone would accept any case).
func checkFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // a type mismatch: json.Unmarshal reports it
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := join(path, k)
			f, ok := fields[k]
			if !ok {
				if why, known := awsOnly[k]; known {
					return &DecodeError{Path: p, Msg: "not supported by Strata (" + why + ")"}
				}
				if t.NumField() == 0 {
					return &DecodeError{Path: path, Msg: "not supported by Strata unless empty"}
				}
				if alt := caseFold(fields, k); alt != "" {
					return &DecodeError{Path: p, Msg: "unknown field (did you mean " + alt + "?)"}
				}
				return &DecodeError{Path: p, Msg: "unknown field"}
			}
			if err := checkFields(obj[k], f.Type, p); err != nil {
				return err
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range list {
			if err := checkFields(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, e := range obj {
			if err := checkFields(e, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func caseFold(fields map[string]reflect.StructField, k string) string {
	for name := range fields {
		if strings.EqualFold(name, k) {
			return name
		}
	}
	return ""
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f
	}
	return m
}

// errorf builds a compile error at a path.
func errorf(path, format string, args ...any) error {
	return &DecodeError{Path: path, Msg: fmt.Sprintf(format, args...)}
}
