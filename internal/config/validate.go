package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate fills in the defaults and checks the whole configuration,
// including the references between its parts. It returns [Errors] listing
// every problem found, or nil. Validate is idempotent: a configuration it
// accepted (and filled in) passes again unchanged. It writes to c, so it must
// not run while c is being read; once validated, a Config is only read and
// may be shared between goroutines.
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *Config) validate() Errors {
	v := &validator{cfg: c, hosts: map[string]string{}}
	v.pop(&c.PoP, "pop")
	v.topology(&c.Topology, "topology")
	for _, k := range Kinds {
		n := k.Len(c)
		v.ids(k.Field, n, func(i int) string { return k.Item(c, i).ResourceID() }, k.Managed)
		for i := range n {
			k.ops.validate(v, k.Item(c, i), k.path(i))
		}
	}
	return v.errs
}

type validator struct {
	cfg  *Config
	errs Errors
	// hosts are the hostnames claimed by the distributions so far, with
	// the path of the field that claimed each one first.
	hosts map[string]string
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func at(path, field string) string  { return path + "." + field }
func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// ids checks the ids of a list: present, well-formed, unique, and (for
// policies) clear of the managed prefix.
func (v *validator) ids(path string, n int, id func(int) string, policy bool) {
	seen := map[string]int{}
	for i := range n {
		p := at(idx(path, i), "id")
		s := id(i)
		switch {
		case s == "":
			v.add(p, "required")
			continue
		case len(s) > 128:
			v.add(p, "is longer than 128 characters")
		case !idPattern.MatchString(s):
			v.add(p, "%q is not a valid id (letters, digits, '_' and '-', starting with a letter or digit)", s)
		case policy && isManaged(s):
			v.add(p, "%q uses the prefix %q, which is reserved for managed policies", s, ManagedPrefix)
		}
		if first, dup := seen[s]; dup {
			v.add(p, "duplicate id %q (also %s)", s, idx(path, first))
			continue
		}
		seen[s] = i
	}
}

// enum fills in def when *val is empty, then checks that *val is allowed.
func (v *validator) enum(path string, val *string, def string, allowed ...string) bool {
	if *val == "" {
		*val = def
	}
	if *val == "" || slices.Contains(allowed, *val) {
		return true
	}
	v.add(path, "%s", notOneOf(*val, allowed))
	return false
}

func notOneOf(val string, allowed []string) string {
	msg := fmt.Sprintf("%q is not one of %s", val, strings.Join(allowed, ", "))
	for _, a := range allowed {
		if strings.EqualFold(a, val) {
			return msg + fmt.Sprintf(" (did you mean %q?)", a)
		}
	}
	return msg
}

func (v *validator) pop(p *PoP, path string) {
	if p.ID == "" {
		p.ID = DefaultPoPID
	} else if !idPattern.MatchString(p.ID) {
		v.add(at(path, "id"), "%q is not a valid PoP id (letters, digits, '_' and '-')", p.ID)
	}
	if p.Listen == "" {
		p.Listen = DefaultListen
	} else {
		v.hostPort(at(path, "listen"), p.Listen)
	}
	if p.HTTPSListen != "" && v.hostPort(at(path, "httpsListen"), p.HTTPSListen) &&
		p.HTTPSListen == p.Listen && !strings.HasSuffix(p.Listen, ":0") {
		v.add(at(path, "httpsListen"), "%s is also pop.listen; HTTP and HTTPS need their own ports", p.HTTPSListen)
	}
	switch {
	case p.TLSCertificateFile != "" && p.TLSKeyFile == "":
		v.add(at(path, "tlsKeyFile"), "required with tlsCertificateFile")
	case p.TLSCertificateFile == "" && p.TLSKeyFile != "":
		v.add(at(path, "tlsCertificateFile"), "required with tlsKeyFile")
	}
	v.size(at(path, "memoryCacheSize"), &p.MemoryCacheSize, DefaultMemoryCacheSize, 1*MiB, MaxMemoryCacheSize)
	v.size(at(path, "maxObjectSize"), &p.MaxObjectSize, DefaultMaxObjectSize, 1, MaxMemoryCacheSize)
	v.size(at(path, "maxHeaderBytes"), &p.MaxHeaderBytes, DefaultMaxHeaderBytes, 1*KiB, 1*MiB)
	if p.MaxObjectSize > p.MemoryCacheSize && p.MemoryCacheSize > 0 {
		v.add(at(path, "maxObjectSize"), "%s is larger than memoryCacheSize (%s)", p.MaxObjectSize, p.MemoryCacheSize)
	}
	v.duration(at(path, "readHeaderTimeout"), &p.ReadHeaderTimeout, DefaultReadHeaderTimeout, time.Millisecond, 10*time.Minute)
	v.duration(at(path, "idleTimeout"), &p.IdleTimeout, DefaultIdleTimeout, time.Millisecond, 24*time.Hour)
	v.duration(at(path, "webSocketIdleTimeout"), &p.WebSocketIdleTimeout, DefaultWebSocketIdleTimeout, time.Millisecond, 24*time.Hour)
	v.duration(at(path, "requestBodyTimeout"), &p.RequestBodyTimeout, DefaultRequestBodyTimeout, time.Millisecond, time.Hour)
	v.duration(at(path, "viewerWriteTimeout"), &p.ViewerWriteTimeout, DefaultViewerWriteTimeout, 100*time.Millisecond, 10*time.Minute)
	for _, c := range []struct {
		name    string
		n       *int
		def, hi int
	}{{"maxConnectionsPerAddress", &p.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress, 1_000_000}, {"maxConnections", &p.MaxConnections, DefaultMaxConnections, 10_000_000},
		{"newConnectionsPerAddress", &p.NewConnectionsPerAddress, DefaultNewConnectionsPerAddress, 1_000_000}} {
		if *c.n == 0 {
			*c.n = c.def
		}
		if *c.n < 1 || *c.n > c.hi {
			v.add(at(path, c.name), "%d is out of range 1..%d", *c.n, c.hi)
		}
	}
	if p.MaxConnectionsPerAddress > p.MaxConnections {
		v.add(at(path, "maxConnectionsPerAddress"), "%d is larger than maxConnections (%d)", p.MaxConnectionsPerAddress, p.MaxConnections)
	}
	v.size(at(path, "diskCacheSize"), &p.DiskCacheSize, DefaultDiskCacheSize, 1*MiB, MaxDiskCacheSize)
}

// hostPort checks a listen address, host:port (the host may be empty).
func (v *validator) hostPort(path, addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "%q is not host:port (for example 127.0.0.1:8080 or :443)", addr)
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "port %q is not a number 0..65535", port)
		return false
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// stringSet checks that every item is allowed and none repeats.
func (v *validator) stringSet(p string, items, allowed []string) bool {
	ok := true
	seen := map[string]int{}
	for i, s := range items {
		ip := idx(p, i)
		if !slices.Contains(allowed, s) {
			v.add(ip, "%s", notOneOf(s, allowed))
			ok = false
		}
		if first, dup := seen[s]; dup {
			v.add(ip, "duplicate %q (also %s)", s, idx(p, first))
			ok = false
		}
		seen[s] = i
	}
	return ok
}

// isToken reports whether s is an RFC 9110 token (a valid header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Header names that cannot be set as origin custom headers (CloudFront's
// list: hop-by-hop, framing, conditional and CDN-owned headers).
var forbiddenOriginHeaders = []string{
	"Cache-Control", "Connection", "Content-Length", "Cookie", "Host", "If-Match", "If-Modified-Since",
	"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Max-Forwards", "Pragma",
	"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range", "Request-Range", "TE",
	"Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Forwarded-Proto", "X-Real-IP",
	"X-Amz-Cf-*", "X-Edge-*", "X-Cache",
}

// Header names a response headers policy can neither add nor remove.
// CloudFront's list ("Headers that you can't remove"), plus Strata's own
// X-Strata-* headers, its counterpart of X-Amz-Cf-*.
var forbiddenResponseHeaders = []string{
	"Connection", "Content-Encoding", "Content-Length", "Expect", "Host", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Trailer", "Transfer-Encoding",
	"Upgrade", "Via", "Warning", "X-Accel-*", "X-Amz-Cf-*", "X-Amzn-Auth", "X-Amzn-Cf-Billing", "X-Amzn-Cf-Id",
	"X-Amzn-Cf-Xff", "X-Amzn-ErrorType", "X-Amzn-Fle-Profile", "X-Amzn-Header-Count", "X-Amzn-Header-Order",
	"X-Amzn-Lambda-Integration-Tag", "X-Amzn-RequestId", "X-Cache", "X-Edge-*", "X-Forwarded-Proto", "X-Real-IP",
	"X-Strata-*",
}

func isForbidden(name string, forbidden []string) bool {
	name = strings.ReplaceAll(name, "_", "-") // as CGI origins read it
	for _, f := range forbidden {
		if prefix, ok := strings.CutSuffix(f, "*"); ok {
			if len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
				return true
			}
		} else if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}

// headerName checks a header name: present, a token, allowed, not repeated
// (seen maps lower-cased names to the path that used them).
func (v *validator) headerName(name, p string, forbidden []string, seen map[string]string) {
	switch {
	case name == "":
		v.add(p, "required")
		return
	case !isToken(name):
		v.add(p, "%q is not a valid header name", name)
		return
	case isForbidden(name, forbidden):
		v.add(p, "%s cannot be set here (it is hop-by-hop or owned by the CDN)", name)
		return
	}
	key := headerKey(name)
	if first, dup := seen[key]; dup {
		v.add(p, "duplicate header %q (also %s)", name, first)
		return
	}
	seen[key] = p
}

var (
	corsMethods      = []string{"GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD", "ALL"}
	referrerPolicies = []string{"no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
		"same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"}
)
