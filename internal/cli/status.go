package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// statusNow is the clock of "strata status" (tests may set it).
var statusNow = time.Now

// Status is "strata status": every PoP the control plane knows, its
// configuration version, last heartbeat and health.
func Status(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("status", stderr)
	if _, ok := cmd.parse(args, 0, 0, "", ""); !ok {
		return 2
	}
	c, ok := cmd.client()
	if !ok {
		return 2
	}
	pops, body, err := c.PoPs()
	if err != nil {
		return printError(stderr, c, err)
	}
	if cmd.cf.asJSON {
		return printJSONResult(stdout, stderr, body)
	}
	now := statusNow()
	healthy := 0
	t := newTable(stdout, "POP", "TIER", "LOCATION", "REGION", "CONFIG VERSION", "LAST HEARTBEAT", "HEALTHY", "CONFIG ERROR")
	for _, p := range pops {
		last := ago(now, p.LastHeartbeat)
		h := "no"
		if p.Healthy {
			h = "yes"
			healthy++
		}
		t.row(p.PoP, p.Tier, p.Location, p.Region, strconv.FormatUint(p.ConfigVersion, 10), last, h, oneLine(p.ConfigError, 80))
	}
	if err := t.flush(); err != nil {
		return printError(stderr, c, err)
	}
	fmt.Fprintf(stdout, "%d PoP(s), %d healthy\n", len(pops), healthy)
	return 0
}
