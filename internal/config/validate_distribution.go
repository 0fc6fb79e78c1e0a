package config

// Validation of distributions: origins, origin groups, cache behaviors,
// error responses, geo restriction, viewer certificate and logging.

import (
	"fmt"
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

func (v *validator) distribution(d *Distribution, p string) {
	if d.WebACLID != "" && v.cfg.FindWebACL(d.WebACLID) == nil {
		v.add(at(p, "webACLId"), "%q is not a web ACL (declare it under webACLs; its id or its ARN)", d.WebACLID)
	}
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
			suffix := DefaultDomainSuffix
			if z := v.cfg.DNS.Zone; z != "" && checkHostname(z, false) == nil {
				suffix = "." + z // a name the DNS router answers
			}
			d.DomainName = strings.ToLower(d.ID) + suffix
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
