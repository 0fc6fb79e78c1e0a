package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"K2JCJMDEHXQW5F", true},
		{"signer-2026", true},
		{"a_b", true},
		{"7", true},
		{strings.Repeat("k", 128), true},
		{"", false},
		{strings.Repeat("k", 129), false},
		{"-bad", false},
		{"_bad", false},
		{"has space", false},
		{"dot.ted", false},
		{"ümlaut", false},
		{"trailing\n", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// FuzzValidID: ValidID agrees with validation, which rejects a public key
// whose id breaks the rule at publicKeys[0].id.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"K2JCJMDEHXQW5F", "-bad", "", "a-b_c", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		doc, _ := json.Marshal(map[string]any{"publicKeys": []map[string]string{{"id": id, "encodedKey": "x"}}})
		_, err := Parse(doc, "fuzz.json")
		var errs Errors
		if err != nil && !errors.As(err, &errs) {
			t.Skip("not a document: ", err) // control characters, bad UTF-8
		}
		rejected := false
		for _, e := range errs {
			if e.Path == "" {
				t.Skip("not a document: ", err) // control characters, bad UTF-8
			}
			rejected = rejected || e.Path == "publicKeys[0].id"
		}
		if ValidID(id) == rejected {
			t.Fatalf("ValidID(%q) = %v, but validation says: %v", id, ValidID(id), err)
		}
	})
}
