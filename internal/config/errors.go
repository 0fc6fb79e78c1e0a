package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem in a configuration.
type FieldError struct {
	Path string // JSON field path, e.g. distributions[0].cacheBehaviors[2].pathPattern; "" for the whole document
	Line int    // line in the source, 0 when unknown
	Msg  string // what is wrong, and what is allowed
}

// Error returns "path (line N): message", leaving out the parts that are unknown.
func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		if e.Path == "" {
			b.WriteString("line ")
		} else {
			b.WriteString(" (line ")
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Path != "" {
			b.WriteString(")")
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration. It is returned as an
// error only when it is not empty.
type Errors []FieldError

// Error returns one "path: message" per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sortByLine orders errors by line, those without a line last, keeping the
// order in which they were found otherwise.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b FieldError) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}
