package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// popStatus is one item of GET /pops.
type popStatus struct {
	PoP           string `json:"pop"`
	Tier          string `json:"tier"`
	Location      string `json:"location"`
	Region        string `json:"region"`
	URL           string `json:"url"`
	ConfigVersion uint64 `json:"configVersion"`
	ConfigError   string `json:"configError"`
	LastHeartbeat string `json:"lastHeartbeat"` // RFC 3339
	Healthy       bool   `json:"healthy"`
}

// statusNow is the clock of "strata status" (tests may set it).
var statusNow = time.Now

// cmdStatus is "strata status": every PoP the control plane knows, its
// configuration version, last heartbeat and health.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "strata status: unexpected argument %q\n", pos[0])
		return 2
	}
	c, ok := cf.client("status", stderr)
	if !ok {
		return 2
	}
	var list struct {
		Items []popStatus `json:"items"`
	}
	body, _, err := c.getJSON("/pops", &list)
	if err != nil {
		return printError(stderr, c, err)
	}
	if cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	now := statusNow()
	healthy := 0
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POP\tTIER\tLOCATION\tREGION\tCONFIG VERSION\tLAST HEARTBEAT\tHEALTHY\tCONFIG ERROR")
	for _, p := range list.Items {
		last := "never"
		if p.LastHeartbeat != "" {
			if t, err := time.Parse(time.RFC3339Nano, p.LastHeartbeat); err == nil {
				last = ago(now, t)
			} else {
				last = p.LastHeartbeat
			}
		}
		h := "no"
		if p.Healthy {
			h = "yes"
			healthy++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", orDash(p.PoP), orDash(p.Tier), orDash(p.Location), orDash(p.Region),
			p.ConfigVersion, last, h, orDash(oneLine(p.ConfigError, 80)))
	}
	if err := tw.Flush(); err != nil {
		return printError(stderr, c, err)
	}
	fmt.Fprintf(stdout, "%d PoP(s), %d healthy\n", len(list.Items), healthy)
	return 0
}
