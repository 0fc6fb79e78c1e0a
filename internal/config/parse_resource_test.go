package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseResource(t *testing.T) {
	refs, err := Parse([]byte(`
cachePolicies:
  - {id: short, defaultTTL: 60}
distributions:
  - id: shop
    aliases: [www.example.com]
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: short}
`), "refs")
	if err != nil {
		t.Fatal(err)
	}
	dist, _ := KindByField("distributions")
	cp, _ := KindByField("cachePolicies")
	for _, c := range []struct {
		name string
		k    Kind
		data string
		id   string
		want []string // error lines (FieldError.Error()); none: valid
	}{
		{name: "valid yaml", k: dist, data: "id: blog\norigins: [{id: o, url: \"https://o.example\"}]\ndefaultCacheBehavior: {targetOriginId: o, cachePolicyId: short}\n"},
		{name: "valid json", k: dist, data: `{"id":"blog","origins":[{"id":"o","url":"https://o.example"}],"defaultCacheBehavior":{"targetOriginId":"o"}}`},
		{name: "unknown field, with its line", k: dist, data: "id: blog\norigins: [{id: o, url: \"https://o.example\"}]\ndefaultCacheBehavior: {targetOriginId: o}\ncolour: red\n",
			want: []string{"colour (line 4): unknown field"}},
		{name: "reference to refs", k: dist, data: "id: blog\norigins: [{id: o, url: \"https://o.example\"}]\ndefaultCacheBehavior: {targetOriginId: o, cachePolicyId: nope}\n",
			want: []string{"defaultCacheBehavior.cachePolicyId (line 3)"}},
		{name: "host of another resource", k: dist, data: "id: blog\naliases: [www.example.com]\norigins: [{id: o, url: \"https://o.example\"}]\ndefaultCacheBehavior: {targetOriginId: o}\n",
			want: []string{`aliases[0] (line 2): "www.example.com" is already used by distributions[0].aliases[0] (distribution "shop")`}},
		{name: "byte order mark, document markers", k: cp, data: "\ufeff---\nid: bom\n...\n"},
		{name: "no id", k: cp, data: "defaultTTL: 5\n", want: []string{"id (line 1): required"}},
		{name: "no id, given", k: cp, data: "defaultTTL: 5\n", id: "new"},
		{name: "not a mapping", k: cp, data: "- a\n- b\n", want: []string{"line 1: expected a mapping (the fields of a cache policy), got a list"}},
		{name: "empty", k: cp, data: "# nothing\n", want: []string{"empty"}},
		{name: "two documents", k: cp, data: "id: a\n---\nid: b\n", want: []string{"a cache policy is a single YAML document"}},
		// A new version of a policy that breaks a distribution using it.
		{name: "breaks another", k: cp, data: "{id: short, cacheKey: {headers: {behavior: whitelist, items: [X_Thing]}}}\n",
			want: []string{`distributions[0].defaultCacheBehavior.cachePolicyId: cache policy "short" names header "X_Thing"`, `(distribution "shop")`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseResourceWithID(c.k, []byte(c.data), refs, c.id)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got, ok := KindOf(r); !ok || got != c.k {
					t.Errorf("the resource is a %T", r)
				}
				if c.id != "" && r.ResourceID() != c.id {
					t.Errorf("id %q, want %q", r.ResourceID(), c.id)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %v, want Errors", err)
			}
			for _, w := range c.want {
				if !strings.Contains(es.Error(), w) {
					t.Errorf("errors %q lack %q", es.Error(), w)
				}
			}
		})
	}
	// Defaults are filled in, and refs is not written.
	r, err := ParseResource(dist, []byte("{id: shop, origins: [{id: o, url: \"http://127.0.0.1:9001\"}], defaultCacheBehavior: {targetOriginId: o}}"), refs)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.(*Distribution); d.DomainName != "shop.strata.localhost" || d.DefaultCacheBehavior.CachePolicyID == "" {
		t.Errorf("defaults not filled in: %+v", d)
	}
	if refs.Distributions[0].Origins[0].URL != "http://127.0.0.1:9000" || len(refs.Distributions) != 1 {
		t.Errorf("refs was written: %+v", refs.Distributions)
	}
}

func TestCheckRemoval(t *testing.T) {
	refs, err := Parse([]byte(`
cachePolicies:
  - {id: short, defaultTTL: 60}
  - {id: unused}
distributions:
  - id: shop
    origins: [{id: o, url: "http://127.0.0.1:9000"}]
    defaultCacheBehavior: {targetOriginId: o, cachePolicyId: short}
`), "refs")
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := KindByField("cachePolicies")
	if err := CheckRemoval(cp, "unused", refs); err != nil {
		t.Errorf("removing an unused policy: %v", err)
	}
	err = CheckRemoval(cp, "short", refs)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Path != "distributions[0].defaultCacheBehavior.cachePolicyId" || !strings.HasSuffix(es[0].Msg, `(distribution "shop")`) {
		t.Errorf("removing a policy in use: %v", err)
	}
	if len(refs.CachePolicies) != 2 {
		t.Error("refs was written")
	}
}

func FuzzParseResource(f *testing.F) {
	f.Add("id: a\ndefaultTTL: 5\n")
	f.Add(`{"id":"x","origins":[{"id":"o","url":"https://o.example"}],"defaultCacheBehavior":{"targetOriginId":"o"}}`)
	f.Add("- a\n")
	f.Add("a: &x [*x]\n")
	f.Fuzz(func(t *testing.T, data string) {
		for _, k := range Kinds {
			r, err := ParseResource(k, []byte(data), nil)
			if (r == nil) == (err == nil) {
				t.Fatalf("%s: resource %v and error %v", k.Field, r, err)
			}
			if err == nil {
				// What it accepted is valid: it passes again.
				c := &Config{}
				k.Append(c, r)
				if err := c.Validate(); err != nil {
					t.Fatalf("%s: accepted %q, then: %v", k.Field, data, err)
				}
			}
		}
	})
}
