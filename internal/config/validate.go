package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/viewertls"
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
	}{{"maxConnectionsPerAddress", &p.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress, 1_000_000}, {"maxConnections", &p.MaxConnections, DefaultMaxConnections, 10_000_000}} {
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

func (v *validator) distribution(d *Distribution, p string) {
	hosts := v.hosts
	// claim records that the field at path serves host; note explains
	// where a default value came from.
	claim := func(host, path, note string) {
		if first, ok := hosts[host]; ok {
			v.add(path, "%q%s is already used by %s", host, note, first)
			return
		}
		hosts[host] = path
	}
	if d.DomainName == "" {
		if d.ID != "" && idPattern.MatchString(d.ID) {
			d.DomainName = strings.ToLower(d.ID) + DefaultDomainSuffix
			claim(d.DomainName, at(p, "domainName"), " (the default domain name, from id)")
		}
	} else {
		d.DomainName = strings.ToLower(d.DomainName)
		if err := checkHostname(d.DomainName, false); err != nil {
			v.add(at(p, "domainName"), "%v", err)
		} else {
			claim(d.DomainName, at(p, "domainName"), "")
		}
	}
	for i := range d.Aliases {
		ap := idx(at(p, "aliases"), i)
		d.Aliases[i] = strings.ToLower(d.Aliases[i])
		if err := checkHostname(d.Aliases[i], true); err != nil {
			v.add(ap, "%v", err)
			continue
		}
		claim(d.Aliases[i], ap, "")
	}
	if d.Enabled == nil {
		d.Enabled = ptr(true)
	}
	if d.IsIPv6Enabled == nil {
		d.IsIPv6Enabled = ptr(true)
	}

	// Origins and origin groups share one namespace: targetOriginId names either.
	if len(d.Origins) == 0 {
		v.add(at(p, "origins"), "at least one origin is required")
	}
	names := map[string]string{}
	for i := range d.Origins {
		o := &d.Origins[i]
		op := idx(at(p, "origins"), i)
		v.originID(o.ID, at(op, "id"), names)
		v.origin(o, op)
	}
	for i := range d.OriginGroups {
		g := &d.OriginGroups[i]
		gp := idx(at(p, "originGroups"), i)
		v.originID(g.ID, at(gp, "id"), names)
		v.originGroup(d, g, gp)
	}

	dp := at(p, "defaultCacheBehavior")
	if isZeroBehavior(&d.DefaultCacheBehavior) {
		v.add(dp, "required (at least targetOriginId)")
	} else {
		if d.DefaultCacheBehavior.PathPattern != "" {
			v.add(at(dp, "pathPattern"), "must not be set on the default cache behavior, which matches every path not matched by cacheBehaviors")
		}
		v.behavior(d, &d.DefaultCacheBehavior, dp)
	}
	patterns := map[string]string{}
	for i := range d.CacheBehaviors {
		b := &d.CacheBehaviors[i]
		bp := idx(at(p, "cacheBehaviors"), i)
		if v.pathPattern(b.PathPattern, at(bp, "pathPattern")) {
			norm := "/" + strings.TrimPrefix(b.PathPattern, "/")
			if first, dup := patterns[norm]; dup {
				v.add(at(bp, "pathPattern"), "duplicate path pattern %q (also %s)", b.PathPattern, first)
			} else {
				patterns[norm] = bp
			}
		}
		v.behavior(d, b, bp)
	}

	codes := map[int]string{}
	for i := range d.CustomErrorResponses {
		e := &d.CustomErrorResponses[i]
		ep := idx(at(p, "customErrorResponses"), i)
		v.customErrorResponse(e, ep)
		if first, dup := codes[e.ErrorCode]; dup && e.ErrorCode != 0 {
			v.add(at(ep, "errorCode"), "duplicate error code %d (also %s)", e.ErrorCode, first)
		} else {
			codes[e.ErrorCode] = ep
		}
	}
	v.geo(&d.Restrictions.GeoRestriction, at(at(p, "restrictions"), "geoRestriction"))
	v.enum(at(p, "priceClass"), &d.PriceClass, PriceClassAll, PriceClassAll, PriceClass200, PriceClass100)
	v.viewerCertificate(&d.ViewerCertificate, at(p, "viewerCertificate"))
	if r := d.DefaultRootObject; r != "" {
		switch {
		case strings.HasPrefix(r, "/"):
			v.add(at(p, "defaultRootObject"), "%q must not start with \"/\" (write %q)", r, strings.TrimLeft(r, "/"))
		case len(r) > 255:
			v.add(at(p, "defaultRootObject"), "is longer than 255 characters")
		case strings.ContainsAny(r, "?# \t\r\n"):
			v.add(at(p, "defaultRootObject"), "%q must be an object name, without spaces, query or fragment", r)
		}
	}
	v.logging(&d.Logging, at(p, "logging"))
	v.enum(at(p, "httpVersion"), &d.HTTPVersion, HTTPVersion2, HTTPVersion11, HTTPVersion2, HTTPVersion2And3, HTTPVersion3)
}

func ptr[T any](v T) *T { return &v }

func isZeroBehavior(b *CacheBehavior) bool { return reflect.ValueOf(b).Elem().IsZero() }

func (v *validator) originID(id, p string, names map[string]string) {
	switch {
	case id == "":
		v.add(p, "required")
		return
	case len(id) > 128:
		v.add(p, "is longer than 128 characters")
	case strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0:
		v.add(p, "%q must be printable ASCII without spaces", id)
	}
	if first, dup := names[id]; dup {
		v.add(p, "duplicate id %q (also %s; origins and origin groups share ids)", id, first)
		return
	}
	names[id] = strings.TrimSuffix(p, ".id")
}

// checkHostname checks a lower-case DNS name; with wildcard, "*." may start it.
func checkHostname(h string, wildcard bool) error {
	name := h
	if wildcard && strings.HasPrefix(h, "*.") {
		name = h[2:]
	}
	switch {
	case h == "":
		return fmt.Errorf("empty hostname")
	case len(h) > 253:
		return fmt.Errorf("hostname is longer than 253 characters")
	case strings.HasSuffix(h, "."):
		return fmt.Errorf("%q must not end with \".\"", h)
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/:"):
		return fmt.Errorf("%q must be a hostname only, without scheme, port or path", h)
	case strings.Contains(name, "*"):
		if wildcard {
			return fmt.Errorf("%q: a wildcard is allowed only as the whole first label (*.example.com)", h)
		}
		return fmt.Errorf("%q: a wildcard is not allowed here", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q has an empty label or one longer than 63 characters", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q has a label that starts or ends with '-'", h)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q contains %q, which a hostname cannot hold (letters, digits, '-')", h, rune(c))
			}
		}
	}
	return nil
}

// checkOriginHost accepts a hostname (any case) or an IP address.
func checkOriginHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 && !strings.Contains(h, "://") {
		return fmt.Errorf("%q must not contain a port (use customOriginConfig.httpPort / httpsPort, or url)", h)
	}
	return checkHostname(strings.ToLower(h), false)
}

func (v *validator) origin(o *Origin, p string) {
	if o.URL != "" {
		v.originURL(o, p)
	}
	if o.CustomOriginConfig != nil && o.S3OriginConfig != nil {
		v.add(p, "customOriginConfig and s3OriginConfig are mutually exclusive; an origin is one or the other")
	}
	if o.S3OriginConfig != nil {
		v.s3(o.S3OriginConfig, at(p, "s3OriginConfig"))
		if o.DomainName == "" && o.S3OriginConfig.Bucket != "" {
			if u, err := url.Parse(o.S3OriginConfig.endpoint()); err == nil && u.Hostname() != "" {
				o.DomainName = u.Hostname()
				if !o.S3OriginConfig.PathStyle {
					o.DomainName = o.S3OriginConfig.Bucket + "." + o.DomainName
				}
			}
		}
	} else {
		if o.CustomOriginConfig == nil {
			o.CustomOriginConfig = &CustomOriginConfig{}
		}
		v.customOrigin(o.CustomOriginConfig, at(p, "customOriginConfig"))
		if o.DomainName == "" && o.URL == "" {
			v.add(at(p, "domainName"), "required (or give url)")
		}
	}
	if o.DomainName != "" {
		if err := checkOriginHost(o.DomainName); err != nil {
			v.add(at(p, "domainName"), "%v", err)
		}
	}
	if op := o.OriginPath; op != "" {
		switch {
		case !strings.HasPrefix(op, "/"):
			v.add(at(p, "originPath"), "%q must start with \"/\"", op)
		case strings.HasSuffix(op, "/"):
			v.add(at(p, "originPath"), "%q must not end with \"/\" (write %q)", op, strings.TrimRight(op, "/"))
		case len(op) > 255:
			v.add(at(p, "originPath"), "is longer than 255 characters")
		case strings.ContainsAny(op, "?#\\ \t\r\n") || strings.Contains(op, "//"):
			v.add(at(p, "originPath"), "%q must be a plain path, without spaces, \"//\", query or fragment", op)
		}
	}
	seen := map[string]string{}
	for i := range o.CustomHeaders {
		h := &o.CustomHeaders[i]
		hp := idx(at(p, "customHeaders"), i)
		v.headerName(h.Name, at(hp, "name"), forbiddenOriginHeaders, seen)
		if !validHeaderValue(h.Value) {
			v.add(at(hp, "value"), "must not contain control characters such as CR or LF")
		}
	}
	v.duration(at(p, "connectionTimeout"), &o.ConnectionTimeout, 10*time.Second, time.Second, 10*time.Second)
	if o.ConnectionAttempts == 0 {
		o.ConnectionAttempts = 3
	}
	if o.ConnectionAttempts < 1 || o.ConnectionAttempts > 3 {
		v.add(at(p, "connectionAttempts"), "%d is out of range 1..3", o.ConnectionAttempts)
	}
	if s := &o.OriginShield; s.Enabled || s.Region != "" {
		if s.Region == "" {
			v.add(at(at(p, "originShield"), "region"), "required when originShield is enabled")
		} else if !regionPattern.MatchString(s.Region) {
			v.add(at(at(p, "originShield"), "region"), "%q is not a region name (letters, digits and '-')", s.Region)
		}
	}
}

var regionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// originURL expands the url shorthand into the fields it stands for,
// refusing values given explicitly that disagree with it.
func (v *validator) originURL(o *Origin, p string) {
	up := at(p, "url")
	if o.S3OriginConfig != nil {
		v.add(up, "url is for custom origins; for S3 set s3OriginConfig.endpoint")
		return
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(up, "%q is not an http:// or https:// URL with a host", o.URL)
		return
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		v.add(up, "%q must not have user info, a query or a fragment", o.URL)
		return
	}
	conflict := func(field, given, fromURL string) {
		v.add(at(p, field), "%q disagrees with url (which says %q); give one or the other", given, fromURL)
	}
	host := u.Hostname()
	switch {
	case o.DomainName == "":
		o.DomainName = host
	case !strings.EqualFold(o.DomainName, host):
		conflict("domainName", o.DomainName, host)
	}
	if path := strings.TrimSuffix(u.EscapedPath(), "/"); path != "" {
		switch {
		case o.OriginPath == "":
			o.OriginPath = path
		case o.OriginPath != path:
			conflict("originPath", o.OriginPath, path)
		}
	}
	if o.CustomOriginConfig == nil {
		o.CustomOriginConfig = &CustomOriginConfig{}
	}
	c := o.CustomOriginConfig
	cp := at(p, "customOriginConfig")
	policy := OriginProtocolHTTPOnly
	if u.Scheme == "https" {
		policy = OriginProtocolHTTPSOnly
	}
	switch c.OriginProtocolPolicy {
	case "":
		c.OriginProtocolPolicy = policy
	case policy, OriginProtocolMatchViewer:
	default:
		v.add(at(cp, "originProtocolPolicy"), "%q disagrees with url (%s:// means %s)", c.OriginProtocolPolicy, u.Scheme, policy)
	}
	if ps := u.Port(); ps != "" {
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			v.add(up, "port %q is not a number 1..65535", ps)
			return
		}
		field, target := "httpPort", &c.HTTPPort
		if u.Scheme == "https" {
			field, target = "httpsPort", &c.HTTPSPort
		}
		switch *target {
		case 0:
			*target = port
		case port:
		default:
			v.add(at(cp, field), "%d disagrees with url (port %d)", *target, port)
		}
	}
}

func (v *validator) customOrigin(c *CustomOriginConfig, p string) {
	port := func(field string, n *int, def int) {
		if *n == 0 {
			*n = def
		}
		if *n < 1 || *n > 65535 {
			v.add(at(p, field), "%d is out of range 1..65535", *n)
		}
	}
	port("httpPort", &c.HTTPPort, 80)
	port("httpsPort", &c.HTTPSPort, 443)
	v.enum(at(p, "originProtocolPolicy"), &c.OriginProtocolPolicy, OriginProtocolHTTPOnly,
		OriginProtocolHTTPOnly, OriginProtocolHTTPSOnly, OriginProtocolMatchViewer)
	v.duration(at(p, "originReadTimeout"), &c.OriginReadTimeout, 30*time.Second, time.Second, 180*time.Second)
	v.duration(at(p, "originKeepaliveTimeout"), &c.OriginKeepaliveTimeout, 5*time.Second, time.Second, 180*time.Second)
	if len(c.OriginSSLProtocols) == 0 {
		c.OriginSSLProtocols = []string{"TLSv1.2"}
	}
	v.stringSet(at(p, "originSslProtocols"), c.OriginSSLProtocols, []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"})
	if c.OriginAccessControl != nil {
		v.originAccessControl(c.OriginAccessControl, at(p, "originAccessControl"), false)
	}
}

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

var (
	bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	envPattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (v *validator) s3(s *S3OriginConfig, p string) {
	switch {
	case s.Bucket == "":
		v.add(at(p, "bucket"), "required")
	case !bucketPattern.MatchString(s.Bucket) || strings.Contains(s.Bucket, ".."):
		v.add(at(p, "bucket"), "%q is not a bucket name (3 to 63 lower-case letters, digits, '.' and '-')", s.Bucket)
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	} else if !regionPattern.MatchString(s.Region) {
		v.add(at(p, "region"), "%q is not a region name (letters, digits and '-')", s.Region)
	}
	if s.Endpoint == "" {
		s.Endpoint = "https://s3." + s.Region + ".amazonaws.com"
	} else if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.add(at(p, "endpoint"), "%q is not an http:// or https:// URL of a host (no path or query)", s.Endpoint)
	} else if !s.PathStyle && (net.ParseIP(u.Hostname()) != nil || u.Hostname() == "localhost") {
		// Virtual-hosted addressing puts the bucket in the host name.
		v.add(at(p, "pathStyle"), "must be true for endpoint %q: a bucket cannot be addressed as %s.%s (virtual-hosted style needs a DNS name)", s.Endpoint, s.Bucket, u.Hostname())
	}
	v.originAccessControl(&s.OriginAccessControl, at(p, "originAccessControl"), true)
}

// originAccessControl checks the signing settings of an S3 (s3 true) or a
// custom origin.
func (v *validator) originAccessControl(a *OriginAccessControl, ap string, s3 bool) {
	v.enum(at(ap, "signingBehavior"), &a.SigningBehavior, SigningNever, SigningAlways, SigningNever, SigningNoOverride)
	v.enum(at(ap, "signingProtocol"), &a.SigningProtocol, "sigv4", "sigv4")
	cred := func(field, literal, env string) {
		switch {
		case literal != "" && env != "":
			v.add(at(ap, field), "give %s or %sEnv, not both", field, field)
		case env != "" && !envPattern.MatchString(env):
			v.add(at(ap, field+"Env"), "%q is not an environment variable name", env)
		case literal == "" && env == "" && a.SigningBehavior != SigningNever:
			v.add(at(ap, field), "required when signingBehavior is %s (or give %sEnv)", a.SigningBehavior, field)
		}
	}
	cred("accessKeyId", a.AccessKeyID, a.AccessKeyIDEnv)
	cred("secretAccessKey", a.SecretAccessKey, a.SecretAccessKeyEnv)
	if s3 {
		if a.Region != "" {
			v.add(at(ap, "region"), "is for custom origins; an S3 origin signs for s3OriginConfig.region")
		}
		if a.Service != "" {
			v.add(at(ap, "service"), "is for custom origins; an S3 origin signs for service s3")
		}
		return
	}
	if a.Region == "" {
		a.Region = "us-east-1"
	} else if !regionPattern.MatchString(a.Region) {
		v.add(at(ap, "region"), "%q is not a region name (letters, digits and '-')", a.Region)
	}
	if a.Service == "" {
		a.Service = "strata"
	} else if !regionPattern.MatchString(a.Service) {
		v.add(at(ap, "service"), "%q is not a service name (letters, digits and '-')", a.Service)
	}
}

var failoverCodes = []int{400, 403, 404, 416, 500, 502, 503, 504}

func (v *validator) originGroup(d *Distribution, g *OriginGroup, p string) {
	member := func(field, id string) {
		switch {
		case id == "":
			v.add(at(p, field), "required")
		case d.Origin(id) == nil:
			msg := fmt.Sprintf("%q is not an origin of this distribution", id)
			if d.OriginGroup(id) != nil {
				msg += " (origin groups cannot be nested)"
			} else if ids := originIDs(d); ids != "" {
				msg += " (origins: " + ids + ")"
			}
			v.add(at(p, field), "%s", msg)
		}
	}
	member("primaryOriginId", g.PrimaryOriginID)
	member("secondaryOriginId", g.SecondaryOriginID)
	if g.PrimaryOriginID != "" && g.PrimaryOriginID == g.SecondaryOriginID {
		v.add(at(p, "secondaryOriginId"), "must differ from primaryOriginId (%q)", g.PrimaryOriginID)
	}
	cp := at(at(p, "failoverCriteria"), "statusCodes")
	if len(g.FailoverCriteria.StatusCodes) == 0 {
		v.add(cp, "at least one status code is required (from 400, 403, 404, 416, 500, 502, 503, 504)")
	}
	seen := map[int]bool{}
	for i, code := range g.FailoverCriteria.StatusCodes {
		switch {
		case !slices.Contains(failoverCodes, code):
			v.add(idx(cp, i), "%d is not one of 400, 403, 404, 416, 500, 502, 503, 504", code)
		case seen[code]:
			v.add(idx(cp, i), "duplicate status code %d", code)
		}
		seen[code] = true
	}
}

func originIDs(d *Distribution) string {
	ids := make([]string, 0, len(d.Origins))
	for _, o := range d.Origins {
		ids = append(ids, o.ID)
	}
	return strings.Join(ids, ", ")
}

// pathPattern checks a cache behavior's path pattern; it reports whether it
// is valid.
func (v *validator) pathPattern(pat, p string) bool {
	switch {
	case pat == "":
		v.add(p, "required (for example \"/images/*\" or \"*.jpg\")")
		return false
	case len(pat) > 255:
		v.add(p, "is longer than 255 characters")
		return false
	}
	for _, r := range pat {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.*?$/~\"'@:+&", r)) {
			v.add(p, "%q contains %q, which a path pattern cannot hold (allowed: letters, digits and _ - . * ? $ / ~ \" ' @ : + &)", pat, r)
			return false
		}
	}
	return true
}

var (
	allowedMethodSets = [][]string{
		{"GET", "HEAD"},
		{"GET", "HEAD", "OPTIONS"},
		{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"},
	}
	cachedMethodSets = [][]string{{"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"}}
	viewerEvents     = []string{"viewer-request", "viewer-response", "origin-request", "origin-response"}
)

func (v *validator) behavior(d *Distribution, b *CacheBehavior, p string) {
	c := v.cfg
	switch {
	case b.TargetOriginID == "":
		v.add(at(p, "targetOriginId"), "required (an origin id or origin group id of this distribution)")
	case d.Origin(b.TargetOriginID) == nil && d.OriginGroup(b.TargetOriginID) == nil:
		msg := fmt.Sprintf("%q is not an origin or origin group of this distribution", b.TargetOriginID)
		if ids := originIDs(d); ids != "" {
			msg += " (origins: " + ids + ")"
		}
		v.add(at(p, "targetOriginId"), "%s", msg)
	}
	v.enum(at(p, "viewerProtocolPolicy"), &b.ViewerProtocolPolicy, ViewerProtocolAllowAll,
		ViewerProtocolAllowAll, ViewerProtocolRedirectToHTTPS, ViewerProtocolHTTPSOnly)

	if len(b.AllowedMethods) == 0 {
		b.AllowedMethods = []string{"GET", "HEAD"}
	}
	if len(b.CachedMethods) == 0 {
		b.CachedMethods = []string{"GET", "HEAD"}
	}
	all := allowedMethodSets[2]
	allowedOK := v.stringSet(at(p, "allowedMethods"), b.AllowedMethods, all)
	if allowedOK && !isOneOfSets(b.AllowedMethods, allowedMethodSets) {
		v.add(at(p, "allowedMethods"), "[%s] is not one of CloudFront's sets: [GET, HEAD], [GET, HEAD, OPTIONS], [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]",
			strings.Join(b.AllowedMethods, ", "))
		allowedOK = false
	}
	if v.stringSet(at(p, "cachedMethods"), b.CachedMethods, all) {
		if !isOneOfSets(b.CachedMethods, cachedMethodSets) {
			v.add(at(p, "cachedMethods"), "[%s] is not [GET, HEAD] or [GET, HEAD, OPTIONS]", strings.Join(b.CachedMethods, ", "))
		} else if allowedOK {
			for _, m := range b.CachedMethods {
				if !slices.Contains(b.AllowedMethods, m) {
					v.add(at(p, "cachedMethods"), "must be a subset of allowedMethods, which does not have %s", m)
					break
				}
			}
		}
	}

	if b.CachePolicyID == "" {
		b.CachePolicyID = ManagedCachingOptimized
	}
	if c.CachePolicy(b.CachePolicyID) == nil {
		v.add(at(p, "cachePolicyId"), "%q is not a cache policy (declare it under cachePolicies, or use one of %s)",
			b.CachePolicyID, strings.Join(managedCachePolicyIDs, ", "))
	}
	if id := b.OriginRequestPolicyID; id != "" && c.OriginRequestPolicy(id) == nil {
		v.add(at(p, "originRequestPolicyId"), "%q is not an origin request policy (declare it under originRequestPolicies, or use one of %s)",
			id, strings.Join(managedOriginRequestPolicyIDs, ", "))
	}
	if !d.UnderscoresInHeaders {
		if cp := c.CachePolicy(b.CachePolicyID); cp != nil {
			v.droppedHeaderNames(at(p, "cachePolicyId"), "cache policy", cp.ID, cp.CacheKey.Headers)
		}
		if orp := c.OriginRequestPolicy(b.OriginRequestPolicyID); orp != nil {
			v.droppedHeaderNames(at(p, "originRequestPolicyId"), "origin request policy", orp.ID, orp.Headers)
		}
	}
	if id := b.ResponseHeadersPolicyID; id != "" && c.ResponseHeadersPolicy(id) == nil {
		v.add(at(p, "responseHeadersPolicyId"), "%q is not a response headers policy (declare it under responseHeadersPolicies, or use one of %s)",
			id, strings.Join(managedResponseHeadersPolicyIDs, ", "))
	}
	seen := map[string]bool{}
	for i, kg := range b.TrustedKeyGroups {
		kp := idx(at(p, "trustedKeyGroups"), i)
		switch {
		case !slices.ContainsFunc(c.KeyGroups, func(g KeyGroup) bool { return g.ID == kg }):
			v.add(kp, "%q is not a key group (declare it under keyGroups)", kg)
		case seen[kg]:
			v.add(kp, "duplicate key group %q", kg)
		}
		seen[kg] = true
	}
	events := map[string]bool{}
	for i := range b.FunctionAssociations {
		f := &b.FunctionAssociations[i]
		fp := idx(at(p, "functionAssociations"), i)
		if f.EventType == "" {
			v.add(at(fp, "eventType"), "required (one of %s)", strings.Join(viewerEvents, ", "))
		} else if v.enum(at(fp, "eventType"), &f.EventType, "", viewerEvents...) && events[f.EventType] {
			v.add(at(fp, "eventType"), "duplicate event type %q: one function per event", f.EventType)
		}
		events[f.EventType] = true
		if f.FunctionARN == "" {
			v.add(at(fp, "functionARN"), "required")
		}
	}
}

// isOneOfSets reports whether items (known to hold no duplicates) equal one
// of the sets, in any order.
func isOneOfSets(items []string, sets [][]string) bool {
	for _, set := range sets {
		if len(set) == len(items) && !slices.ContainsFunc(items, func(s string) bool { return !slices.Contains(set, s) }) {
			return true
		}
	}
	return false
}

func (v *validator) customErrorResponse(e *CustomErrorResponse, p string) {
	if e.ErrorCode < 400 || e.ErrorCode > 599 {
		v.add(at(p, "errorCode"), "%d is not an error status 400..599", e.ErrorCode)
	}
	if rp := e.ResponsePagePath; rp != "" {
		if !strings.HasPrefix(rp, "/") {
			v.add(at(p, "responsePagePath"), "%q must start with \"/\"", rp)
		} else if strings.ContainsAny(rp, " \t\r\n#") {
			v.add(at(p, "responsePagePath"), "%q must be a path without spaces or fragment", rp)
		}
	}
	if e.ResponseCode != 0 {
		if e.ResponseCode < 200 || e.ResponseCode > 599 {
			v.add(at(p, "responseCode"), "%d is not a status 200..599 (or 0 to keep errorCode)", e.ResponseCode)
		}
		if e.ResponsePagePath == "" {
			v.add(at(p, "responsePagePath"), "required when responseCode is set")
		}
	}
	if e.ErrorCachingMinTTL == nil {
		e.ErrorCachingMinTTL = ptr[int64](10)
	} else {
		v.seconds(at(p, "errorCachingMinTTL"), *e.ErrorCachingMinTTL)
	}
}

func (v *validator) geo(g *GeoRestriction, p string) {
	switch g.RestrictionType {
	case "":
		g.RestrictionType = GeoNone
	case "allow":
		g.RestrictionType = GeoWhitelist
	case "block":
		g.RestrictionType = GeoBlacklist
	}
	if !v.enum(at(p, "restrictionType"), &g.RestrictionType, GeoNone, GeoNone, GeoWhitelist, GeoBlacklist, "allow", "block") {
		return
	}
	lp := at(p, "locations")
	if g.RestrictionType == GeoNone {
		if len(g.Locations) > 0 {
			v.add(lp, "must be empty when restrictionType is none")
		}
		return
	}
	if len(g.Locations) == 0 {
		v.add(lp, "at least one country code is required for a %s", g.RestrictionType)
	}
	seen := map[string]bool{}
	for i := range g.Locations {
		g.Locations[i] = strings.ToUpper(g.Locations[i])
		code := g.Locations[i]
		switch {
		case !IsCountryCode(code):
			v.add(idx(lp, i), "%q is not an ISO 3166-1 alpha-2 country code (such as US, DE, JP)", code)
		case seen[code]:
			v.add(idx(lp, i), "duplicate country %q", code)
		}
		seen[code] = true
	}
}

func (v *validator) viewerCertificate(c *ViewerCertificate, p string) {
	switch {
	case c.CertificateFile != "" && c.KeyFile == "":
		v.add(at(p, "keyFile"), "required with certificateFile")
	case c.CertificateFile == "" && c.KeyFile != "":
		v.add(at(p, "certificateFile"), "required with keyFile")
	case c.CertificateFile != "" && c.CloudFrontDefaultCertificate:
		v.add(at(p, "cloudFrontDefaultCertificate"), "must be false when certificateFile is given")
	case c.CertificateFile == "":
		c.CloudFrontDefaultCertificate = true
	}
	v.enum(at(p, "minimumProtocolVersion"), &c.MinimumProtocolVersion, viewertls.DefaultPolicy, viewertls.PolicyNames()...)
	v.enum(at(p, "sslSupportMethod"), &c.SSLSupportMethod, SSLSupportSNIOnly, SSLSupportSNIOnly, SSLSupportVIP)
}

func (v *validator) logging(l *Logging, p string) {
	v.enum(at(p, "format"), &l.Format, "json", "json", "text", "w3c")
	if l.Enabled && l.Path == "" {
		l.Path = "-"
	}
}

func (v *validator) cachePolicy(cp *CachePolicy, p string) {
	v.seconds(at(p, "minTTL"), cp.MinTTL)
	defDefault, defMax := false, false
	if cp.DefaultTTL == nil {
		cp.DefaultTTL = ptr(max(DefaultCachePolicyTTL, cp.MinTTL))
		defDefault = true
	} else {
		v.seconds(at(p, "defaultTTL"), *cp.DefaultTTL)
	}
	if cp.MaxTTL == nil {
		cp.MaxTTL = ptr(max(DefaultCachePolicyMaxTTL, *cp.DefaultTTL))
		defMax = true
	} else {
		v.seconds(at(p, "maxTTL"), *cp.MaxTTL)
	}
	note := func(isDefault bool) string {
		if isDefault {
			return ", the default"
		}
		return ""
	}
	if *cp.DefaultTTL < cp.MinTTL {
		v.add(at(p, "defaultTTL"), "%d is less than minTTL (%d); TTLs must satisfy minTTL <= defaultTTL <= maxTTL", *cp.DefaultTTL, cp.MinTTL)
	}
	if *cp.MaxTTL < *cp.DefaultTTL {
		v.add(at(p, "maxTTL"), "%d is less than defaultTTL (%d%s); TTLs must satisfy minTTL <= defaultTTL <= maxTTL", *cp.MaxTTL, *cp.DefaultTTL, note(defDefault))
	} else if *cp.MaxTTL < cp.MinTTL {
		v.add(at(p, "maxTTL"), "%d is less than minTTL (%d%s)", *cp.MaxTTL, cp.MinTTL, note(defMax))
	}
	if s := cp.DefaultStaleIfError; s != nil {
		v.seconds(at(p, "defaultStaleIfError"), *s) // 0: never serve a stale copy on an origin error; unset: no limit
	}
	k := &cp.CacheKey
	kp := at(p, "cacheKey")
	v.keyList(&k.Headers, at(kp, "headers"), keyHeaders, []string{KeyNone, KeyWhitelist}, nil)
	v.keyList(&k.Cookies, at(kp, "cookies"), keyCookies, []string{KeyNone, KeyWhitelist, KeyAllExcept, KeyAll}, nil)
	v.keyList(&k.QueryStrings, at(kp, "queryStrings"), keyQuery, []string{KeyNone, KeyWhitelist, KeyAllExcept, KeyAll}, nil)
}

func (v *validator) originRequestPolicy(o *OriginRequestPolicy, p string) {
	v.keyList(&o.Headers, at(p, "headers"), keyHeaders,
		[]string{KeyNone, KeyWhitelist, KeyAllViewer, KeyAllViewerAndWhitelistCloudFront, KeyAllExcept},
		func(behavior, item string) string {
			if behavior == KeyAllViewerAndWhitelistCloudFront && !strings.HasPrefix(strings.ToLower(item), "cloudfront-") {
				return fmt.Sprintf("%q is not a CloudFront-* header, which is all allViewerAndWhitelistCloudFront adds", item)
			}
			return ""
		})
	v.keyList(&o.Cookies, at(p, "cookies"), keyCookies, []string{KeyNone, KeyWhitelist, KeyAll, KeyAllExcept}, nil)
	v.keyList(&o.QueryStrings, at(p, "queryStrings"), keyQuery, []string{KeyNone, KeyWhitelist, KeyAll, KeyAllExcept}, nil)
}

type keyKind int

const (
	keyHeaders keyKind = iota
	keyCookies
	keyQuery
)

// keyList checks the behavior and the items of a KeyList; extra, when set,
// adds a check per item.
func (v *validator) keyList(k *KeyList, p string, kind keyKind, allowed []string, extra func(behavior, item string) string) {
	if !v.enum(at(p, "behavior"), &k.Behavior, KeyNone, allowed...) {
		return
	}
	ip := at(p, "items")
	switch k.Behavior {
	case KeyNone, KeyAll, KeyAllViewer:
		if len(k.Items) > 0 {
			v.add(ip, "must be empty when behavior is %s", k.Behavior)
		}
		return
	}
	if len(k.Items) == 0 {
		v.add(ip, "at least one item is required when behavior is %s", k.Behavior)
	}
	seen := map[string]int{}
	for i, item := range k.Items {
		key := item
		switch kind {
		case keyHeaders:
			key = headerKey(item)
			if !isToken(item) {
				v.add(idx(ip, i), "%q is not a valid header name", item)
				continue
			}
		case keyCookies:
			if !isToken(item) {
				v.add(idx(ip, i), "%q is not a valid cookie name", item)
				continue
			}
		case keyQuery:
			if item == "" || strings.ContainsAny(item, "&=# \t\r\n") {
				v.add(idx(ip, i), "%q is not a valid query string parameter name", item)
				continue
			}
		}
		if extra != nil {
			if msg := extra(k.Behavior, item); msg != "" {
				v.add(idx(ip, i), "%s", msg)
			}
		}
		if first, dup := seen[key]; dup {
			v.add(idx(ip, i), "duplicate %q (also %s)", item, idx(ip, first))
			continue
		}
		seen[key] = i
	}
}

// droppedHeaderNames refuses a policy that names a header with "_" for a
// behavior of a distribution that drops such headers (underscoresInHeaders
// false): the policy would name a header that never arrives.
func (v *validator) droppedHeaderNames(p, kind, id string, l KeyList) {
	if l.Behavior != KeyWhitelist {
		return
	}
	for _, item := range l.Items {
		if strings.Contains(item, "_") {
			v.add(p, "%s %q names header %q, which this distribution drops: header names with \"_\" reach it only with underscoresInHeaders: true", kind, id, item)
			return
		}
	}
}

// headerKey is what makes two header names the same one: case, and "_"
// against "-" (CGI, WSGI, PHP and Rack origins read both as one).
func headerKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
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

func (v *validator) responseHeadersPolicy(r *ResponseHeadersPolicy, p string) {
	if r.CORS == nil && r.SecurityHeaders == nil && len(r.CustomHeaders) == 0 && len(r.RemoveHeaders) == 0 && r.ServerTiming == nil {
		v.add(p, "the policy does nothing; set cors, securityHeaders, customHeaders, removeHeaders or serverTiming")
	}
	if c := r.CORS; c != nil {
		cp := at(p, "cors")
		op := at(cp, "accessControlAllowOrigins")
		if len(c.AccessControlAllowOrigins) == 0 {
			v.add(op, "at least one origin is required (\"*\" for any)")
		}
		seenOrigins := map[string]int{}
		for i, o := range c.AccessControlAllowOrigins {
			if first, dup := seenOrigins[strings.ToLower(o)]; dup {
				v.add(idx(op, i), "duplicate origin %q (also %s)", o, idx(op, first))
				continue
			}
			seenOrigins[strings.ToLower(o)] = i
			if o == "*" {
				if c.AccessControlAllowCredentials {
					v.add(idx(op, i), "\"*\" cannot be used with accessControlAllowCredentials (browsers refuse it); list the origins")
				}
				continue
			}
			if err := checkCORSOrigin(o); err != nil {
				v.add(idx(op, i), "%v", err)
			}
		}
		v.headerList(at(cp, "accessControlAllowHeaders"), c.AccessControlAllowHeaders, false)
		v.headerList(at(cp, "accessControlExposeHeaders"), c.AccessControlExposeHeaders, false)
		mp := at(cp, "accessControlAllowMethods")
		if len(c.AccessControlAllowMethods) > 0 && v.stringSet(mp, c.AccessControlAllowMethods, corsMethods) &&
			slices.Contains(c.AccessControlAllowMethods, "ALL") && len(c.AccessControlAllowMethods) > 1 {
			v.add(mp, "ALL stands alone; remove the other methods")
		}
		v.seconds(at(cp, "accessControlMaxAgeSec"), int64(c.AccessControlMaxAgeSec))
	}
	if s := r.SecurityHeaders; s != nil {
		sp := at(p, "securityHeaders")
		if t := s.StrictTransportSecurity; t != nil {
			v.seconds(at(at(sp, "strictTransportSecurity"), "accessControlMaxAgeSec"), t.AccessControlMaxAgeSec)
		}
		if f := s.FrameOptions; f != nil {
			fp := at(at(sp, "frameOptions"), "frameOption")
			if f.FrameOption == "" {
				v.add(fp, "required (DENY or SAMEORIGIN)")
			} else {
				v.enum(fp, &f.FrameOption, "", "DENY", "SAMEORIGIN")
			}
		}
		if rp := s.ReferrerPolicy; rp != nil {
			pp := at(at(sp, "referrerPolicy"), "referrerPolicy")
			if rp.ReferrerPolicy == "" {
				v.add(pp, "required (one of %s)", strings.Join(referrerPolicies, ", "))
			} else {
				v.enum(pp, &rp.ReferrerPolicy, "", referrerPolicies...)
			}
		}
		if csp := s.ContentSecurityPolicy; csp != nil {
			pp := at(at(sp, "contentSecurityPolicy"), "contentSecurityPolicy")
			switch {
			case strings.TrimSpace(csp.ContentSecurityPolicy) == "":
				v.add(pp, "required")
			case !validHeaderValue(csp.ContentSecurityPolicy):
				v.add(pp, "must not contain control characters such as CR or LF")
			case len(csp.ContentSecurityPolicy) > 1783:
				v.add(pp, "is %d characters long; the limit is 1783 (CloudFront's)", len(csp.ContentSecurityPolicy))
			}
		}
		if x := s.XSSProtection; x != nil {
			xp := at(sp, "xssProtection")
			switch {
			case !x.Protection && (x.ModeBlock || x.ReportURI != ""):
				v.add(xp, "modeBlock and reportUri need protection: true")
			case x.ModeBlock && x.ReportURI != "":
				v.add(xp, "modeBlock and reportUri are mutually exclusive")
			}
			if x.ReportURI != "" {
				if u, err := url.Parse(x.ReportURI); err != nil || u.Scheme == "" && !strings.HasPrefix(x.ReportURI, "/") || !validHeaderValue(x.ReportURI) {
					v.add(at(xp, "reportUri"), "%q is not a URL", x.ReportURI)
				}
			}
		}
	}
	seen := map[string]string{}
	for i := range r.CustomHeaders {
		h := &r.CustomHeaders[i]
		hp := idx(at(p, "customHeaders"), i)
		v.headerName(h.Header, at(hp, "header"), forbiddenResponseHeaders, seen)
		if !validHeaderValue(h.Value) {
			v.add(at(hp, "value"), "must not contain control characters such as CR or LF")
		}
	}
	removed := map[string]string{}
	for i, name := range r.RemoveHeaders {
		rp := idx(at(p, "removeHeaders"), i)
		if first, both := seen[strings.ToLower(name)]; both {
			v.add(rp, "%s is also added by %s; a header is added or removed, not both", name, first)
			continue
		}
		v.headerName(name, rp, forbiddenResponseHeaders, removed)
	}
	if st := r.ServerTiming; st != nil {
		sp := at(at(p, "serverTiming"), "samplingRate")
		switch r := st.SamplingRate; {
		case math.IsNaN(r) || r < 0 || r > 100:
			v.add(sp, "%v is out of range 0..100 (percent)", r)
		case math.Abs(r*1e4-math.Round(r*1e4)) > 1e-6:
			v.add(sp, "%v has more than four decimal places", r)
		}
	}
}

// checkCORSOrigin checks an allowed origin: scheme, host and optional port,
// where "*" may stand for the leftmost labels of the host
// (https://*.example.com), as in CloudFront.
func checkCORSOrigin(o string) error {
	bad := fmt.Errorf("%q is not \"*\" or an origin such as https://example.com or https://*.example.com (scheme, host, optional port; no path)", o)
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return bad
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("%q: port %q is not a number 1..65535", o, port)
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") && net.ParseIP(host[1:len(host)-1]) != nil {
		return nil
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if err := checkHostname(strings.ToLower(host), true); err != nil {
		if strings.Contains(host, "*") {
			return fmt.Errorf("%q: \"*\" may only stand for the leftmost labels (https://*.example.com)", o)
		}
		return bad
	}
	return nil
}

// headerList checks a CORS list of header names, where "*" means any.
func (v *validator) headerList(p string, names []string, required bool) {
	if required && len(names) == 0 {
		v.add(p, "at least one header is required (\"*\" for any)")
	}
	seen := map[string]bool{}
	for i, n := range names {
		switch {
		case n == "*":
		case !isToken(n):
			v.add(idx(p, i), "%q is not a valid header name", n)
		case seen[strings.ToLower(n)]:
			v.add(idx(p, i), "duplicate header %q", n)
		}
		seen[strings.ToLower(n)] = true
	}
}

func (v *validator) publicKey(k *PublicKey, p string) {
	if strings.TrimSpace(k.EncodedKey) == "" {
		v.add(at(p, "encodedKey"), "required (a PEM public key)")
		return
	}
	if _, err := k.ParseKey(); err != nil {
		v.add(at(p, "encodedKey"), "%v", err)
	}
}

func (v *validator) keyGroup(g *KeyGroup, p string) {
	ip := at(p, "items")
	if len(g.Items) == 0 {
		v.add(ip, "at least one public key id is required")
	}
	seen := map[string]bool{}
	for i, id := range g.Items {
		switch {
		case !slices.ContainsFunc(v.cfg.PublicKeys, func(k PublicKey) bool { return k.ID == id }):
			v.add(idx(ip, i), "%q is not a public key (declare it under publicKeys)", id)
		case seen[id]:
			v.add(idx(ip, i), "duplicate public key %q", id)
		}
		seen[id] = true
	}
}
