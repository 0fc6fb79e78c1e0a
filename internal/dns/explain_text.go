package dns

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the explanation for people (strata dns explain): the
// name and its distribution, where the viewer was placed, the answer and
// why, then every PoP nearest first, the chosen one starred. limit bounds
// the PoPs listed (0: all); the chosen one is listed all the same.
func (e Explanation) WriteText(w io.Writer, limit int) error {
	ipv6 := "off"
	if e.IPv6 {
		ipv6 = "on"
	}
	v := e.Viewer
	place := fmt.Sprintf("%.2f,%.2f", v.Lat, v.Lon)
	switch v.Source {
	case SourceCoordinates:
		place = "at " + place + " (the database's coordinates)"
	case SourceCountry:
		place = "in " + v.Country + ", at " + place + " (the country's point)"
	default:
		place = "unknown, at " + place + " (the default region's point)"
	}
	network := "no geo database"
	if v.Network.IsValid() {
		network = "network " + v.Network.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name      %s\n", e.Name)
	fmt.Fprintf(&b, "dist      %s, %s (%s), IPv6 %s\n", e.Distribution, e.PriceClass, strings.Join(e.Regions, " "), ipv6)
	fmt.Fprintf(&b, "viewer    %s (%s): %s\n", v.Address, network, place)
	if e.PoP == "" {
		fmt.Fprintf(&b, "answer    none: %s\n", e.Why)
	} else {
		var addrs []string
		for _, a := range append(e.A, e.AAAA...) {
			addrs = append(addrs, a.String())
		}
		fmt.Fprintf(&b, "answer    %s: %s, TTL %d s, ECS scope /%d\n", e.PoP, strings.Join(addrs, " "), e.TTL, e.Scope)
		fmt.Fprintf(&b, "why       %s\n", e.Why)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  POP\tLOCATION\tREGION\tKM\tVIEWERS\tHEALTHY\tIN CLASS")
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	more := 0
	for i, c := range e.Candidates {
		if limit > 0 && i >= limit && !c.Chosen {
			more++
			continue
		}
		mark := " "
		if c.Chosen {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%.0f\t%s\t%s\t%s\n", mark, c.PoP, c.Location, c.Region, c.DistanceKm,
			yes(c.AcceptsViewers), yes(c.Healthy), yes(c.InPriceClass))
	}
	if more > 0 {
		fmt.Fprintf(tw, "  … %d more\t\t\t\t\t\t\n", more)
	}
	return tw.Flush()
}
