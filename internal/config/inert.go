package config

import (
	"reflect"
	"slices"
	"strconv"
)

// The configuration never lies: a field that is accepted (so that a
// CloudFront-style configuration loads) but that nothing acts on yet is
// listed in inert, with the reason. Every path a configuration comes in by
// (strata validate, strata run and strata pop, the control API, a PoP
// applying a snapshot) reports a Warning for each such field that is set to
// something other than its default. When a later stage implements a field,
// its entry leaves this list, and its path goes to the "acted on" list of
// inert_test.go.

// NotActedOn starts the message of every warning about an inert field.
const NotActedOn = "accepted but not yet acted on"

// inertField is a field of the model that nothing acts on yet.
type inertField struct {
	path   string // field path with "[]" for list indexes, e.g. distributions[].priceClass
	reason string // why, or what brings it, e.g. "edge functions are not executed yet"
	// isDefault reports whether a value has no effect to claim (nil: the
	// zero value, or an empty list).
	isDefault func(v reflect.Value) bool
}

// inert is the one list of fields that are accepted but not acted on yet.
var inert = []inertField{
	{path: "distributions[].logging", reason: "access logs come with the logging stage; nothing is written",
		isDefault: func(v reflect.Value) bool { return !v.Interface().(Logging).Enabled }},
	{path: "distributions[].defaultCacheBehavior.functionAssociations", reason: "edge functions are not executed yet"},
	{path: "distributions[].cacheBehaviors[].functionAssociations", reason: "edge functions are not executed yet"},
	{path: "distributions[].origins[].customOriginConfig.originSslProtocols", reason: "connections to origins use TLS 1.2 or later",
		isDefault: isStrings("TLSv1.2")},
}

// Warning is a field that is set but has no effect.
type Warning struct {
	Path string // field path, e.g. distributions[0].priceClass
	Msg  string // "accepted but not yet acted on (why)"
}

// String returns "path: message".
func (w Warning) String() string { return w.Path + ": " + w.Msg }

// Warnings lists the fields of c that are set to something other than
// their default but that nothing acts on yet, in the order of the model.
// It reads c as it is (before or after Validate fills the defaults).
func (c *Config) Warnings() []Warning {
	byPath := make(map[string]*inertField, len(inert))
	for i := range inert {
		byPath[inert[i].path] = &inert[i]
	}
	var ws []Warning
	walkFields(reflect.ValueOf(c).Elem(), "", "", func(v reflect.Value, path, pattern string) bool {
		f := byPath[pattern]
		if f == nil {
			return true
		}
		def := f.isDefault
		if def == nil {
			def = isEmpty
		}
		if !def(v) {
			ws = append(ws, Warning{Path: path, Msg: NotActedOn + " (" + f.reason + ")"})
		}
		return false
	})
	return ws
}

// walkFields calls visit for every field of the struct v, depth first, with
// the field's path (distributions[0].priceClass) and its pattern
// (distributions[].priceClass); it descends into structs, set pointers
// and lists when visit returns true.
func walkFields(v reflect.Value, path, pattern string, visit func(v reflect.Value, path, pattern string) bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			continue
		}
		name := jsonName(t.Field(i))
		p, pp := name, name
		if path != "" || pattern != "" {
			p, pp = path+"."+name, pattern+"."+name
		}
		fv := v.Field(i)
		if !visit(fv, p, pp) {
			continue
		}
		walkValue(fv, p, pp, visit)
	}
}

func walkValue(v reflect.Value, path, pattern string, visit func(v reflect.Value, path, pattern string) bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkValue(v.Elem(), path, pattern, visit)
		}
	case reflect.Struct:
		walkFields(v, path, pattern, visit)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkValue(v.Index(i), path+"["+strconv.Itoa(i)+"]", pattern+"[]", visit)
		}
	}
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

func isString(def string) func(reflect.Value) bool {
	return func(v reflect.Value) bool { return v.String() == "" || v.String() == def }
}

func isBoolPtr(def bool) func(reflect.Value) bool {
	return func(v reflect.Value) bool { return v.IsNil() || v.Elem().Bool() == def }
}

func isStrings(def ...string) func(reflect.Value) bool {
	return func(v reflect.Value) bool {
		if v.Len() == 0 {
			return true
		}
		got := make([]string, v.Len())
		for i := range got {
			got[i] = v.Index(i).String()
		}
		return slices.Equal(got, def)
	}
}
