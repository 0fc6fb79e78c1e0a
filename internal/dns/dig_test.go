package dns

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/topology"
)

// TestDig asks the server with dig (Debian's bind9-dnsutils), as an
// operator would: a client subnet in Germany over UDP and TCP gets a
// European PoP, echoed with its scope; a name outside the zone is refused.
func TestDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_TOOLS") == "1" || os.Getenv("CI") == "true" {
			t.Fatal("dig is not installed: apt-get install bind9-dnsutils (scripts/test.sh installs it)")
		}
		t.Skip("dig is not installed (apt-get install bind9-dnsutils)")
	}
	w := newWorld(t)
	s := start(t, Options{Geo: loopbackDB(t)}, w.state(testDists()...))
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args = append([]string{"@" + s.Addr().Addr().String(), "-p", strconv.Itoa(int(s.Addr().Port())), "+tries=1", "+time=5"}, args...)
		out, err := exec.CommandContext(ctx, dig, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, proto := range []string{"+notcp", "+tcp"} {
		out := run(labelAll+"."+testZone, "A", "+subnet=127.2.0.0/16", proto)
		if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "flags: qr aa") ||
			!strings.Contains(out, "CLIENT-SUBNET: 127.2.0.0/16/16") {
			t.Errorf("dig %s:\n%s", proto, out)
		}
		var answered bool
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 5 && f[3] == "A" && strings.EqualFold(f[0], labelAll+"."+testZone) {
				answered = true
				if p := w.byIP[mustAddr(t, f[4])]; p.Region != topology.RegionEurope || f[1] != "60" {
					t.Errorf("dig %s: %s (%s), TTL %s", proto, p.ID, p.Region, f[1])
				}
			}
		}
		if !answered {
			t.Errorf("dig %s: no A record:\n%s", proto, out)
		}
	}
	if out := run("www.example.com", "A"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("out of zone:\n%s", out)
	}
	if out := run(testZone, "ANY"); !strings.Contains(out, "ANSWER: 1,") || !strings.Contains(out, "SOA") {
		t.Errorf("ANY at the apex:\n%s", out)
	}
}
