package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// distKind is "strata dist": distributions.
var distKind = kindOf(resourceKind{
	cmd: "dist", aliases: []string{"distribution", "distributions"}, what: "distribution", path: "/distributions",
	section: "distributions", generatedID: true,
	refs:    []string{"cachePolicies", "originRequestPolicies", "responseHeadersPolicies", "publicKeys", "keyGroups", "ipSets", "regexPatternSets", "webACLs"},
	columns: []string{"DOMAIN", "ALIASES", "ENABLED", "ORIGINS"},
	show: func(w io.Writer, raw json.RawMessage, etag string) error {
		var d config.Distribution
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		printDistribution(w, &d, etag)
		return nil
	},
}, func(c *config.Config) []config.Distribution { return c.Distributions },
	func(d *config.Distribution) string { return d.ID },
	func(d *config.Distribution) ([]string, string) {
		var origins []string
		for _, o := range d.Origins {
			origins = append(origins, originSummary(&o))
		}
		return []string{d.DomainName, strings.Join(d.Aliases, ","), strconv.FormatBool(d.IsEnabled()), strings.Join(origins, ",")}, d.Comment
	})

// cmdDist is "strata dist": create, list, get, update and delete
// distributions through the control plane's API.
func cmdDist(args []string, stdout, stderr io.Writer) int {
	return cmdResource(distKind, args, stdout, stderr)
}

func distPath(id string) string { return distKind.itemPath(id) }

// printDistribution prints a distribution for people: its settings, its
// origins and its cache behaviors. Fields that nothing acts on yet
// (logging) are not shown as settings: the API's warnings list
// them when they are set. The domain name is the one the DNS router
// answers when it lies in dns.zone.
func printDistribution(w io.Writer, d *config.Distribution, etag string) {
	t := newKV(w)
	kv := t.add
	kv("ID", d.ID)
	kv("ETag", etag)
	kv("Domain name", d.DomainName)
	kv("Aliases", strings.Join(d.Aliases, ", "))
	kv("Enabled", strconv.FormatBool(d.IsEnabled()))
	kv("Comment", oneLine(d.Comment, 200))
	kv("HTTP version", d.HTTPVersion)
	kv("Price class", d.PriceClass)
	kv("IPv6", strconv.FormatBool(d.IPv6Enabled()))
	if d.WebACLID != "" {
		kv("Web ACL", d.WebACLID)
	}
	if d.DefaultRootObject != "" {
		kv("Default root object", d.DefaultRootObject)
	}
	if g := d.Restrictions.GeoRestriction; g.RestrictionType != "" && g.RestrictionType != config.GeoNone {
		kv("Geo restriction", g.RestrictionType+" "+strings.Join(g.Locations, ","))
	}
	if d.ViewerCertificate.CertificateFile != "" {
		kv("Certificate", d.ViewerCertificate.CertificateFile)
	}
	t.flush()

	fmt.Fprintln(w, "\nOrigins:")
	ot := newTable(w, "  ID", "TYPE", "TARGET", "PROTOCOL", "SHIELD")
	for i := range d.Origins {
		o := &d.Origins[i]
		typ, protocol := "custom", "-"
		if o.IsS3() {
			typ = "s3"
		} else if o.CustomOriginConfig != nil {
			protocol = orDash(o.CustomOriginConfig.OriginProtocolPolicy)
		}
		shield := "-"
		if o.OriginShield.Enabled {
			shield = o.OriginShield.Region
		}
		ot.row("  "+o.ID, typ, originSummary(o), protocol, shield)
	}
	for _, g := range d.OriginGroups {
		ot.row("  "+g.ID, "group", g.PrimaryOriginID+" -> "+g.SecondaryOriginID, "", "")
	}
	ot.flush()

	fmt.Fprintln(w, "\nCache behaviors:")
	bt := newTable(w, "  PATH", "TARGET", "VIEWER PROTOCOL", "METHODS", "CACHE POLICY", "ORIGIN REQUEST POLICY", "RESPONSE HEADERS POLICY")
	row := func(path string, b *config.CacheBehavior) {
		bt.row("  "+path, b.TargetOriginID, b.ViewerProtocolPolicy, strings.Join(b.AllowedMethods, ","), b.CachePolicyID,
			b.OriginRequestPolicyID, b.ResponseHeadersPolicyID)
	}
	for i := range d.CacheBehaviors {
		row(d.CacheBehaviors[i].PathPattern, &d.CacheBehaviors[i])
	}
	row("* (default)", &d.DefaultCacheBehavior)
	bt.flush()
}

// originSummary is where an origin's content comes from, in a few characters.
func originSummary(o *config.Origin) string {
	if o.S3OriginConfig != nil {
		return "s3://" + o.S3OriginConfig.Bucket
	}
	host := o.DomainName
	if host == "" && o.URL != "" {
		return o.URL
	}
	if c := o.CustomOriginConfig; c != nil {
		switch {
		case c.OriginProtocolPolicy == config.OriginProtocolHTTPSOnly && c.HTTPSPort != 0 && c.HTTPSPort != 443:
			host += ":" + strconv.Itoa(c.HTTPSPort)
		case c.OriginProtocolPolicy != config.OriginProtocolHTTPSOnly && c.HTTPPort != 0 && c.HTTPPort != 80:
			host += ":" + strconv.Itoa(c.HTTPPort)
		}
	}
	return orDash(host + o.OriginPath)
}

// oneLine shortens s to one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
