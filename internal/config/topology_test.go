package config

import (
	"errors"
	"strings"
	"testing"
)

func TestTopology(t *testing.T) {
	good := `
topology:
  pops:
    - {id: FRA-R1, tier: regional, listen: "127.0.1.1:8080"}
    - {id: IAD-R1, tier: regional, listen: "127.0.1.2:8080", acceptViewers: true}
    - {id: FRA1, listen: "127.0.2.1:8080"}
    - {id: JFK2, listen: "127.0.2.2:8080"}
    - {id: NRT1, listen: "127.0.2.3:8080"}
`
	cfg, err := Parse([]byte(good), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"FRA1": "FRA-R1", "JFK2": "IAD-R1", "NRT1": ""}
	for id, parent := range want {
		p := cfg.Topology.PoPByID(id)
		if p.Parent != parent || p.Tier != "edge" || p.URL != "http://"+p.Listen {
			t.Errorf("%s: parent %q tier %q url %q", id, p.Parent, p.Tier, p.URL)
		}
	}
	if !cfg.Topology.PoPByID("IAD-R1").AcceptViewers || cfg.Topology.PoPByID("FRA-R1").AcceptViewers {
		t.Error("acceptViewers not read, or not false by default")
	}
	if cfg.Topology.PoPByID("JFK2").Location != "JFK" {
		t.Error("location not derived from the id")
	}

	bad := []struct{ yaml, path, msg string }{
		{`{id: XXX1, listen: "127.0.0.1:1"}`, "topology.pops[0].location", "not a location of the catalog"},
		{`{id: FRA1, listen: "127.0.0.1:1", addresses: [host.example]}`, "topology.pops[0].addresses[0]", "not one IP address"},
		{`{id: FRA1, listen: "127.0.0.1:1", addresses: ["0.0.0.0"]}`, "topology.pops[0].addresses[0]", "not one IP address"},
		{`{id: FRA1, listen: "127.0.0.1:1", addresses: [192.0.2.1, "::ffff:192.0.2.1"]}`, "topology.pops[0].addresses[1]", "listed twice"},
		{`{id: FRA1, tier: regional, listen: "127.0.0.1:1"}`, "topology.pops[0].location", "not a regional edge cache"},
		{`{id: FRA1, tier: middle, listen: "127.0.0.1:1"}`, "topology.pops[0].tier", "middle"},
		{`{id: FRA1}`, "topology.pops[0].listen", "required"},
		{`{id: FRA1, listen: ":8080"}`, "topology.pops[0].url", "required"},
		{`{id: FRA1, listen: "127.0.0.1:1", parent: NOPE1}`, "topology.pops[0].parent", "not a PoP"},
		{`{id: FRA1, listen: "127.0.0.1:1", egress: "not-an-ip"}`, "topology.pops[0].egress", "not an IP"},
		{`{id: FRA1, listen: "127.0.0.1:1", acceptViewers: true}`, "topology.pops[0].acceptViewers", "only for a regional PoP"},
	}
	for _, b := range bad {
		_, err := Parse([]byte("topology:\n  pops:\n    - "+b.yaml+"\n"), "t.yaml")
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s: accepted", b.yaml)
		}
		found := false
		for _, e := range errs {
			if e.Path == b.path && strings.Contains(e.Msg, b.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s: %s, got %v", b.yaml, b.path, b.msg, err)
		}
	}
	_, err = Parse([]byte("topology:\n  pops:\n    - {id: CDG1, listen: \"127.0.0.1:1\"}\n    - {id: CDG2, listen: \"127.0.0.1:2\", parent: CDG1}\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "not a regional PoP") {
		t.Fatalf("edge as parent: %v", err)
	}
}
