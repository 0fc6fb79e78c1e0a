package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/strata-cdn/strata/internal/config"
)

const distUsage = `Usage:
  strata dist create --file F                 create a distribution from a YAML or JSON file
  strata dist list                            list the distributions
  strata dist get ID                          show a distribution (--json: all of it, as the API stores it)
  strata dist update ID --file F [--if-match ETAG]
                                              replace a distribution (without --if-match: the current one)
  strata dist delete ID [--if-match ETAG]     delete a distribution

A file holds one distribution, with the field names of the configuration
file (what "strata dist get ID --json" prints). Every subcommand also takes
--api URL, --token T, --data-dir DIR and --json; see "strata dist create -h".
`

// cmdDist is "strata dist": create, list, get, update and delete
// distributions through the control plane's API.
func cmdDist(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, distUsage)
		return 2
	}
	switch args[0] {
	case "create":
		return cmdDistCreate(args[1:], stdout, stderr)
	case "list", "ls":
		return cmdDistList(args[1:], stdout, stderr)
	case "get", "show":
		return cmdDistGet(args[1:], stdout, stderr)
	case "update":
		return cmdDistUpdate(args[1:], stdout, stderr)
	case "delete", "rm":
		return cmdDistDelete(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, distUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "strata dist: unknown subcommand %q\n\n%s", args[0], distUsage)
		return 2
	}
}

// cmdDistCreate is "strata dist create --file F".
func cmdDistCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dist create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the distribution, a YAML or JSON file (- for standard input); without an id, the control plane makes one")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if *file == "" && len(pos) == 1 {
		*file, pos = pos[0], nil
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "strata dist create: unexpected argument %q\n", pos[0])
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "strata dist create: --file F is required")
		return 2
	}
	data, err := readInputFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "strata dist create: %v\n", err)
		return 1
	}
	c, ok := cf.client("dist create", stderr)
	if !ok {
		return 2
	}
	d, code := checkDistributionFile(c, "dist create", *file, data, "", stderr)
	if d == nil {
		return code
	}
	_, etag, body, err := c.do(http.MethodPost, "/distributions", d, "")
	if err != nil {
		return printError(stderr, c, err)
	}
	if cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	var got config.Distribution
	if err := json.Unmarshal(body, &got); err != nil {
		return printError(stderr, c, fmt.Errorf("unexpected response to POST /distributions: %v", err))
	}
	fmt.Fprintf(stdout, "created distribution %s\n\n", got.ID)
	printDistribution(stdout, &got, etag)
	return 0
}

// cmdDistList is "strata dist list".
func cmdDistList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dist list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "strata dist list: unexpected argument %q\n", pos[0])
		return 2
	}
	c, ok := cf.client("dist list", stderr)
	if !ok {
		return 2
	}
	var list struct {
		Items []struct {
			ID       string              `json:"id"`
			ETag     string              `json:"etag"`
			Resource config.Distribution `json:"resource"`
		} `json:"items"`
	}
	body, _, err := c.getJSON("/distributions", &list)
	if err != nil {
		return printError(stderr, c, err)
	}
	if cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDOMAIN\tALIASES\tENABLED\tORIGINS\tETAG\tCOMMENT")
	for _, it := range list.Items {
		d := &it.Resource
		id := it.ID
		if id == "" {
			id = d.ID
		}
		var origins []string
		for _, o := range d.Origins {
			origins = append(origins, originSummary(&o))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\n", id, orDash(d.DomainName), orDash(strings.Join(d.Aliases, ",")),
			d.IsEnabled(), orDash(strings.Join(origins, ",")), orDash(it.ETag), orDash(oneLine(d.Comment, 48)))
	}
	if err := tw.Flush(); err != nil {
		return printError(stderr, c, err)
	}
	fmt.Fprintf(stdout, "%d distribution(s)\n", len(list.Items))
	return 0
}

// cmdDistGet is "strata dist get ID".
func cmdDistGet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dist get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	id, ok := oneID(fs, "dist get", args, stderr)
	if !ok {
		return 2
	}
	c, ok := cf.client("dist get", stderr)
	if !ok {
		return 2
	}
	var d config.Distribution
	body, etag, err := c.getJSON(distPath(id), &d)
	if err != nil {
		return printError(stderr, c, err)
	}
	if cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	printDistribution(stdout, &d, etag)
	return 0
}

// cmdDistUpdate is "strata dist update ID --file F [--if-match ETAG]".
func cmdDistUpdate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dist update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the new distribution, a YAML or JSON file (- for standard input); its id may be left out")
	ifMatch := fs.String("if-match", "", "the ETag of the version being replaced (default: the current one)")
	cf := addClientFlags(fs)
	id, ok := oneID(fs, "dist update", args, stderr)
	if !ok {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "strata dist update: --file F is required")
		return 2
	}
	data, err := readInputFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "strata dist update: %v\n", err)
		return 1
	}
	c, ok := cf.client("dist update", stderr)
	if !ok {
		return 2
	}
	d, code := checkDistributionFile(c, "dist update", *file, data, id, stderr)
	if d == nil {
		return code
	}
	etag := normalizeETag(*ifMatch)
	if etag == "" {
		if _, etag, err = c.getJSON(distPath(id), nil); err != nil {
			return printError(stderr, c, err)
		}
		if etag == "" {
			return printError(stderr, c, fmt.Errorf("GET %s: the response has no ETag; pass --if-match", distPath(id)))
		}
	}
	_, newETag, body, err := c.do(http.MethodPut, distPath(id), d, etag)
	if err != nil {
		return printConflict(stderr, c, err, id, etag)
	}
	if cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	var got config.Distribution
	if err := json.Unmarshal(body, &got); err != nil {
		return printError(stderr, c, fmt.Errorf("unexpected response to PUT %s: %v", distPath(id), err))
	}
	fmt.Fprintf(stdout, "updated distribution %s\n\n", id)
	printDistribution(stdout, &got, newETag)
	return 0
}

// cmdDistDelete is "strata dist delete ID [--if-match ETAG]".
func cmdDistDelete(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dist delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ifMatch := fs.String("if-match", "", "the ETag of the version being deleted (default: the current one)")
	cf := addClientFlags(fs)
	id, ok := oneID(fs, "dist delete", args, stderr)
	if !ok {
		return 2
	}
	c, ok := cf.client("dist delete", stderr)
	if !ok {
		return 2
	}
	etag := normalizeETag(*ifMatch)
	if etag == "" {
		var err error
		if _, etag, err = c.getJSON(distPath(id), nil); err != nil {
			return printError(stderr, c, err)
		}
		if etag == "" {
			return printError(stderr, c, fmt.Errorf("GET %s: the response has no ETag; pass --if-match", distPath(id)))
		}
	}
	_, _, body, err := c.do(http.MethodDelete, distPath(id), nil, etag)
	if err != nil {
		return printConflict(stderr, c, err, id, etag)
	}
	if cf.asJSON {
		if len(strings.TrimSpace(string(body))) == 0 {
			body, _ = json.Marshal(map[string]string{"id": id, "deleted": "true"})
		}
		return printJSONResult(stdout, stderr, body)
	}
	fmt.Fprintf(stdout, "deleted distribution %s\n", id)
	return 0
}

// printConflict reports a failed PUT or DELETE, explaining a 412.
func printConflict(stderr io.Writer, c *apiClient, err error, id, etag string) int {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
		fmt.Fprintf(stderr, "strata: %s: distribution %s changed since you read it (ETag %s is no longer its current one); get it again and retry\n",
			orDefault(ae.Code, "PreconditionFailed"), id, etag)
		return 1
	}
	return printError(stderr, c, err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// oneID parses args, which must hold exactly one positional argument: the id.
func oneID(fs *flag.FlagSet, cmd string, args []string, stderr io.Writer) (string, bool) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", false
	}
	switch {
	case len(pos) == 0:
		fmt.Fprintf(stderr, "strata %s: the distribution id is required (strata %s ID)\n", cmd, cmd)
		return "", false
	case len(pos) > 1:
		fmt.Fprintf(stderr, "strata %s: unexpected argument %q\n", cmd, pos[1])
		return "", false
	case strings.TrimSpace(pos[0]) == "":
		fmt.Fprintf(stderr, "strata %s: the distribution id is empty\n", cmd)
		return "", false
	}
	return pos[0], true
}

func distPath(id string) string { return "/distributions/" + url.PathEscape(id) }

// readInputFile reads a file, or standard input for "-".
func readInputFile(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, maxResponse))
	}
	return os.ReadFile(path)
}

// printJSONResult prints an API response as JSON (--json).
func printJSONResult(stdout, stderr io.Writer, body []byte) int {
	if err := printRawJSON(stdout, body); err != nil {
		fmt.Fprintf(stderr, "strata: %v\n", err)
		return 1
	}
	return 0
}

// printDistribution prints a distribution for people: its settings, its
// origins and its cache behaviors.
func printDistribution(w io.Writer, d *config.Distribution, etag string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	kv := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, orDash(v)) }
	kv("ID", d.ID)
	kv("ETag", etag)
	kv("Domain name", d.DomainName)
	kv("Aliases", strings.Join(d.Aliases, ", "))
	kv("Enabled", strconv.FormatBool(d.IsEnabled()))
	kv("Comment", oneLine(d.Comment, 200))
	kv("Price class", d.PriceClass)
	kv("HTTP version", d.HTTPVersion)
	kv("IPv6", strconv.FormatBool(d.IPv6Enabled()))
	if d.DefaultRootObject != "" {
		kv("Default root object", d.DefaultRootObject)
	}
	if g := d.Restrictions.GeoRestriction; g.RestrictionType != "" && g.RestrictionType != config.GeoNone {
		kv("Geo restriction", g.RestrictionType+" "+strings.Join(g.Locations, ","))
	}
	if d.WebACLID != "" {
		kv("Web ACL", d.WebACLID)
	}
	if d.ViewerCertificate.CertificateFile != "" {
		kv("Certificate", d.ViewerCertificate.CertificateFile)
	}
	if d.Logging.Enabled {
		kv("Logging", orDefault(d.Logging.Format, "json")+" to "+orDefault(d.Logging.Path, "-"))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nOrigins:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tTYPE\tTARGET\tPROTOCOL\tSHIELD")
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", o.ID, typ, originSummary(o), protocol, shield)
	}
	for _, g := range d.OriginGroups {
		fmt.Fprintf(tw, "  %s\tgroup\t%s -> %s\t-\t-\n", g.ID, g.PrimaryOriginID, g.SecondaryOriginID)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nCache behaviors:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tTARGET\tVIEWER PROTOCOL\tMETHODS\tCACHE POLICY\tORIGIN REQUEST POLICY\tRESPONSE HEADERS POLICY")
	row := func(path string, b *config.CacheBehavior) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", path, orDash(b.TargetOriginID), orDash(b.ViewerProtocolPolicy),
			orDash(strings.Join(b.AllowedMethods, ",")), orDash(b.CachePolicyID), orDash(b.OriginRequestPolicyID), orDash(b.ResponseHeadersPolicyID))
	}
	for i := range d.CacheBehaviors {
		row(d.CacheBehaviors[i].PathPattern, &d.CacheBehaviors[i])
	}
	row("* (default)", &d.DefaultCacheBehavior)
	tw.Flush()
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
