package config

import "fmt"

// Resource is one configuration resource: an element of a section of
// [Config] that the control plane stores, one KV key each, and serves as a
// REST collection (a distribution, a policy, a public key, a key group).
type Resource interface {
	// ResourceID is the resource's id, unique in its kind.
	ResourceID() string
}

func (d *Distribution) ResourceID() string          { return d.ID }
func (p *CachePolicy) ResourceID() string           { return p.ID }
func (p *OriginRequestPolicy) ResourceID() string   { return p.ID }
func (p *ResponseHeadersPolicy) ResourceID() string { return p.ID }
func (k *PublicKey) ResourceID() string             { return k.ID }
func (g *KeyGroup) ResourceID() string              { return g.ID }

// The ResourceIDs of web ACLs, IP sets and regex pattern sets are in waf.go.

// Interface guards.
var (
	_ Resource = (*Distribution)(nil)
	_ Resource = (*CachePolicy)(nil)
	_ Resource = (*OriginRequestPolicy)(nil)
	_ Resource = (*ResponseHeadersPolicy)(nil)
	_ Resource = (*PublicKey)(nil)
	_ Resource = (*KeyGroup)(nil)
	_ Resource = (*IPSet)(nil)
	_ Resource = (*RegexPatternSet)(nil)
	_ Resource = (*WebACL)(nil)
)

// Kind is a kind of configuration resource: its section of [Config], its
// names, and how to reach, add and check its resources. Kinds are
// comparable; the zero Kind is no kind.
type Kind struct {
	Field    string // JSON/YAML name of its section of Config: "cachePolicies"
	Name     string // REST collection (and KV bucket, see wire.ConfigBucket): "cache-policies"
	Singular string // one resource, in messages: "cache policy"
	// Managed: ids with ManagedPrefix are reserved (for managed policies).
	Managed bool
	// GeneratedID: the control plane makes up the id of a resource created
	// without one.
	GeneratedID bool

	ops *kindOps
}

type kindOps struct {
	refs     []string        // Fields of the kinds its resources may refer to
	new      func() Resource // a new, zero resource
	len      func(c *Config) int
	item     func(c *Config, i int) Resource
	add      func(c *Config, r Resource) bool   // appends; false: r is not of the kind
	set      func(c *Config, i int, r Resource) // replaces the i-th
	del      func(c *Config, i int)             // removes the i-th
	clear    func(c *Config)                    // empties the section (a new slice; the old one is not written)
	validate func(v *validator, r Resource, path string)
}

// Kinds is the table of resource kinds, each after the kinds it refers to
// (the order they are validated and stored in, so that no PoP sees a
// resource that names one it has not received).
//
// To add a kind (web ACLs, IP sets, ...):
//  1. declare its type, with an ID field and a ResourceID method (above),
//     and its section in Config (types.go);
//  2. write its validator, func (v *validator) x(r *X, path string), in
//     its own validate_x.go;
//  3. add one entry here, after the kinds it refers to.
//
// Everything else follows from the table: the strict decoding of files and
// of the control plane's snapshots, validation, the control plane's KV
// bucket (wire.ConfigBucket) and REST collection, the PoP agent's watch,
// and ParseResource for the API and the CLI.
var Kinds = []Kind{
	kind(Kind{Field: "cachePolicies", Name: "cache-policies", Singular: "cache policy", Managed: true},
		func(c *Config) *[]CachePolicy { return &c.CachePolicies }, (*validator).cachePolicy),
	kind(Kind{Field: "originRequestPolicies", Name: "origin-request-policies", Singular: "origin request policy", Managed: true},
		func(c *Config) *[]OriginRequestPolicy { return &c.OriginRequestPolicies }, (*validator).originRequestPolicy),
	kind(Kind{Field: "responseHeadersPolicies", Name: "response-headers-policies", Singular: "response headers policy", Managed: true},
		func(c *Config) *[]ResponseHeadersPolicy { return &c.ResponseHeadersPolicies }, (*validator).responseHeadersPolicy),
	kind(Kind{Field: "publicKeys", Name: "public-keys", Singular: "public key"},
		func(c *Config) *[]PublicKey { return &c.PublicKeys }, (*validator).publicKey),
	kind(Kind{Field: "keyGroups", Name: "key-groups", Singular: "key group"},
		func(c *Config) *[]KeyGroup { return &c.KeyGroups }, (*validator).keyGroup, "publicKeys"),
	kind(Kind{Field: "ipSets", Name: "ipsets", Singular: "IP set", GeneratedID: true},
		func(c *Config) *[]IPSet { return &c.IPSets }, (*validator).ipSet),
	kind(Kind{Field: "regexPatternSets", Name: "regexpatternsets", Singular: "regex pattern set", GeneratedID: true},
		func(c *Config) *[]RegexPatternSet { return &c.RegexPatternSets }, (*validator).regexPatternSet),
	kind(Kind{Field: "webACLs", Name: "webacls", Singular: "web ACL", GeneratedID: true},
		func(c *Config) *[]WebACL { return &c.WebACLs }, (*validator).webACL, "ipSets", "regexPatternSets"),
	kind(Kind{Field: "distributions", Name: "distributions", Singular: "distribution", GeneratedID: true},
		func(c *Config) *[]Distribution { return &c.Distributions }, (*validator).distribution,
		"cachePolicies", "originRequestPolicies", "responseHeadersPolicies", "publicKeys", "keyGroups", "webACLs"),
}

// kind fills in the operations of k, whose resources are T held in the
// section of a Config that section returns.
func kind[T any, PT interface {
	*T
	Resource
}](k Kind, section func(*Config) *[]T, validate func(*validator, PT, string), refs ...string) Kind {
	k.ops = &kindOps{
		refs: refs,
		new:  func() Resource { return PT(new(T)) },
		len:  func(c *Config) int { return len(*section(c)) },
		item: func(c *Config, i int) Resource { return PT(&(*section(c))[i]) },
		add: func(c *Config, r Resource) bool {
			p, ok := r.(PT)
			if ok {
				s := section(c)
				*s = append(*s, *p)
			}
			return ok
		},
		set:   func(c *Config, i int, r Resource) { (*section(c))[i] = *r.(PT) },
		clear: func(c *Config) { *section(c) = nil },
		del: func(c *Config, i int) {
			s := section(c)
			*s = append((*s)[:i:i], (*s)[i+1:]...)
		},
		validate: func(v *validator, r Resource, path string) { validate(v, r.(PT), path) },
	}
	return k
}

// KindByName returns the kind whose REST collection is name.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// KindByField returns the kind whose section of Config is field.
func KindByField(field string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Field == field {
			return k, true
		}
	}
	return Kind{}, false
}

// KindOf returns the kind of r.
func KindOf(r Resource) (Kind, bool) {
	for _, k := range Kinds {
		if k.ops.add(&Config{}, r) {
			return k, true
		}
	}
	return Kind{}, false
}

// Refs are the sections (Fields) of the kinds that resources of k may refer
// to.
func (k Kind) Refs() []string { return k.ops.refs }

// Len is the number of resources of kind k in c.
func (k Kind) Len(c *Config) int { return k.ops.len(c) }

// Item returns the i-th resource of kind k in c (a pointer into c).
func (k Kind) Item(c *Config, i int) Resource { return k.ops.item(c, i) }

// Append appends r, a resource of kind k, to its section of c.
func (k Kind) Append(c *Config, r Resource) {
	if !k.ops.add(c, r) {
		panic(fmt.Sprintf("config: %T is not a %s", r, k.Singular))
	}
}

// Index returns the index of the resource id of kind k in c, or -1.
func (k Kind) Index(c *Config, id string) int {
	for i := range k.Len(c) {
		if k.Item(c, i).ResourceID() == id {
			return i
		}
	}
	return -1
}

// Put replaces the resource of kind k in c that has r's id, or appends r.
// It returns r's index.
func (k Kind) Put(c *Config, r Resource) int {
	if i := k.Index(c, r.ResourceID()); i >= 0 {
		k.ops.set(c, i, r)
		return i
	}
	k.Append(c, r)
	return k.Len(c) - 1
}

// Remove removes the resource id of kind k from c; it reports whether there
// was one.
func (k Kind) Remove(c *Config, id string) bool {
	i := k.Index(c, id)
	if i >= 0 {
		k.ops.del(c, i)
	}
	return i >= 0
}

// Merge returns a copy of base whose resources are add's, replacing those of
// base with the same id, then those of base that add has not. The pop and
// topology sections are base's. The resources are shared, not copied.
func Merge(base, add *Config) *Config {
	out := *base
	for _, k := range Kinds {
		k.ops.clear(&out)
		for i := range k.Len(add) {
			k.Append(&out, k.Item(add, i))
		}
		for i := range k.Len(base) {
			if r := k.Item(base, i); k.Index(add, r.ResourceID()) < 0 {
				k.Append(&out, r)
			}
		}
	}
	return &out
}

// path is the field path of the i-th resource of kind k: "cachePolicies[2]".
func (k Kind) path(i int) string { return idx(k.Field, i) }
