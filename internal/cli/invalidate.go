package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/control/client"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// invalidationPollInterval is how often --wait asks for the status.
var invalidationPollInterval = 250 * time.Millisecond

// Invalidate is "strata invalidate DIST PATH... [--tag TAG]... [--wait]
// [--timeout 30s]": it removes objects from every PoP.
func Invalidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invalidate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: strata invalidate DIST [PATH...] [--tag TAG]... [--wait] [--timeout 30s]")
		fmt.Fprintln(stderr, "\nA path is exact (/index.html) or a prefix ending in * (/images/*); a tag removes every object")
		fmt.Fprintln(stderr, "whose Cache-Tag or Surrogate-Key response header named it. At least one path or tag.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	var tags stringsFlag
	fs.Var(&tags, "tag", "a cache tag to invalidate (repeatable)")
	wait := fs.Bool("wait", false, "wait until every PoP has applied it")
	timeout := fs.Duration("timeout", 30*time.Second, "with --wait: how long to wait before giving up (exit 1)")
	callerRef := fs.String("caller-reference", "", "a unique reference: repeating it returns the same invalidation (default: a random one)")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "strata invalidate: the distribution id is required (strata invalidate DIST PATH... [--tag TAG]...)")
		return 2
	}
	dist, paths := pos[0], pos[1:]
	if len(paths) == 0 && len(tags) == 0 {
		fmt.Fprintln(stderr, "strata invalidate: give at least one path (/index.html, /images/*) or --tag TAG")
		return 2
	}
	for _, p := range paths {
		if msg := checkInvalidationPath(p); msg != "" {
			fmt.Fprintf(stderr, "strata invalidate: path %q %s\n", p, msg)
			return 2
		}
	}
	for _, t := range tags {
		if strings.TrimSpace(t) == "" {
			fmt.Fprintln(stderr, "strata invalidate: --tag must not be empty")
			return 2
		}
	}
	if *wait && *timeout <= 0 {
		fmt.Fprintln(stderr, "strata invalidate: --timeout must be positive")
		return 2
	}
	c, ok := cf.client("invalidate", stderr)
	if !ok {
		return 2
	}
	ref := *callerRef
	if ref == "" {
		ref = newCallerReference()
	}
	req := client.InvalidationRequest{Paths: paths, Tags: tags, CallerReference: ref}
	inv, body, err := c.Invalidate(dist, req)
	if err != nil {
		return printError(stderr, c, err)
	}
	if *wait && inv.Status != wire.StatusCompleted {
		deadline := time.Now().Add(*timeout)
		for inv.Status != wire.StatusCompleted && time.Now().Before(deadline) {
			time.Sleep(min(invalidationPollInterval, time.Until(deadline)))
			next, b, err := c.Invalidation(dist, inv.ID)
			if err != nil {
				var ae *client.Error
				if errors.As(err, &ae) {
					return printError(stderr, c, err)
				}
				continue // a transient failure: try again until the deadline
			}
			inv, body = next, b
		}
	}
	if cf.asJSON {
		if code := printJSONResult(stdout, stderr, body); code != 0 {
			return code
		}
	} else {
		printInvalidation(stdout, &inv)
	}
	if *wait && inv.Status != wire.StatusCompleted {
		fmt.Fprintf(stderr, "strata invalidate: %s is still %s after %s", inv.ID, orDefault(inv.Status, "unknown"), *timeout)
		if missing := missingAcks(&inv); len(missing) > 0 {
			fmt.Fprintf(stderr, "; waiting for %s", strings.Join(missing, ", "))
		}
		fmt.Fprintln(stderr)
		return 1
	}
	return 0
}

// checkInvalidationPath applies CloudFront's rules to an invalidation path
// and returns what is wrong, or "".
func checkInvalidationPath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "must start with \"/\""
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return "may have \"*\" only as its last character"
	}
	return ""
}

func newCallerReference() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "strata-cli-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// missingAcks lists the expected PoPs that have not acknowledged inv.
func missingAcks(inv *wire.Invalidation) []string {
	var out []string
	for _, p := range inv.Expected {
		if _, ok := inv.Acked[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// printInvalidation prints an invalidation as a one-row table.
func printInvalidation(w io.Writer, inv *wire.Invalidation) {
	t := newTable(w, "ID", "DISTRIBUTION", "STATUS", "POPS DONE", "CREATED", "PATHS", "TAGS")
	acked := 0
	for _, p := range inv.Expected {
		if _, ok := inv.Acked[p]; ok {
			acked++
		}
	}
	var created string
	if !inv.CreateTime.IsZero() {
		created = inv.CreateTime.Local().Format(time.DateTime)
	}
	t.row(inv.ID, inv.DistributionID, inv.Status, fmt.Sprintf("%d/%d", acked, len(inv.Expected)), created,
		strings.Join(inv.Paths, " "), strings.Join(inv.Tags, " "))
	t.flush()
}
