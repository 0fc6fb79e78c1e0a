package config

// Validation of the resources distributions refer to: cache,
// origin-request and response-headers policies (and their key lists),
// public keys and key groups.

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

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
