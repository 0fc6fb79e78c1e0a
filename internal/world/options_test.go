package world

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/pop"
	"github.com/strata-cdn/strata/internal/topology"
)

// popOptions maps the configuration, the world's shared parts and one
// PoP's spec to its pop.Options.
func TestPopOptions(t *testing.T) {
	cfg := &config.Config{}
	cfg.PoP.MemoryCacheSize = 64 << 20
	cfg.PoP.MaxObjectSize = 1 << 20
	cfg.PoP.DiskCacheSize = 1 << 30
	cfg.PoP.WebSocketIdleTimeout = config.Duration(7 * time.Second)
	cfg.PoP.RequestBodyTimeout = config.Duration(9 * time.Second)
	shields := map[string]*pop.Peer{"FRA-R": {ID: "fra-r", URL: "http://127.0.0.2:8080"}}
	env := shared{
		urls:    map[string]string{"fra-r": "http://127.0.0.2:8080", "ams": "http://127.0.0.3:8080"},
		shields: shields,
		secret:  "s3cret",
		bodies:  cache.NewBudget(1 << 20),
	}
	for _, tc := range []struct {
		name      string
		opts      Options
		spec      config.TopologyPoP
		wantRC    string
		wantDisk  string
		wantSpill string
		parent    *pop.Peer
	}{
		{
			name:   "edge under a regional parent, memory only",
			opts:   Options{Config: cfg, DefaultDistribution: "demo"},
			spec:   config.TopologyPoP{ID: "ams", Tier: topology.TierEdge, Location: "ADB", Parent: "fra-r"},
			wantRC: "FRA-R",
			parent: &pop.Peer{ID: "fra-r", URL: "http://127.0.0.2:8080"},
		},
		{
			name:      "regional cache with a data dir",
			opts:      Options{Config: cfg, DataDir: "/data", DefaultCertFile: "c.pem", DefaultKeyFile: "k.pem", TierCABundle: "ca.pem"},
			spec:      config.TopologyPoP{ID: "fra-r", Tier: topology.TierRegional, Location: "FRA-R", AcceptViewers: true},
			wantRC:    "FRA-R",
			wantDisk:  filepath.Join("/data", "cache", "fra-r"),
			wantSpill: filepath.Join("/data", "spill"),
		},
		{
			name:   "a location outside the catalog is its own regional cache",
			opts:   Options{Config: cfg},
			spec:   config.TopologyPoP{ID: "lab", Tier: topology.TierEdge, Location: "lab-1"},
			wantRC: "lab-1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			po := popOptions(tc.opts, env, tc.spec, "10.0.0.1", 8443, 8443)
			if po.ID != tc.spec.ID || po.Tier != tc.spec.Tier || po.RegionalCache != tc.wantRC || po.AcceptViewers != tc.spec.AcceptViewers {
				t.Errorf("identity: id %q tier %q regional cache %q accept viewers %v", po.ID, po.Tier, po.RegionalCache, po.AcceptViewers)
			}
			if po.MemoryCacheSize != 64<<20 || po.MaxObjectSize != 1<<20 || po.WebSocketIdleTimeout != 7*time.Second || po.RequestBodyTimeout != 9*time.Second {
				t.Errorf("pop section: %+v", po)
			}
			if po.TierSecret != "s3cret" || po.BodyBudget != env.bodies || po.Shields["FRA-R"] != shields["FRA-R"] || po.Egress != "10.0.0.1" {
				t.Errorf("shared parts: secret %q budget %p shields %v egress %q", po.TierSecret, po.BodyBudget, po.Shields, po.Egress)
			}
			if po.HTTPSPort != 8443 || po.HTTP3Port != 8443 || po.DefaultDistribution != tc.opts.DefaultDistribution ||
				po.DefaultCertFile != tc.opts.DefaultCertFile || po.DefaultKeyFile != tc.opts.DefaultKeyFile || po.TierCABundle != tc.opts.TierCABundle {
				t.Errorf("listeners and certificates: %+v", po)
			}
			if po.DiskDir != tc.wantDisk || po.SpillDir != tc.wantSpill {
				t.Errorf("disk %q spill %q, want %q %q", po.DiskDir, po.SpillDir, tc.wantDisk, tc.wantSpill)
			}
			if wantSize := int64(0); tc.wantDisk != "" && po.DiskCacheSize != 1<<30 || tc.wantDisk == "" && po.DiskCacheSize != wantSize {
				t.Errorf("disk cache size %d", po.DiskCacheSize)
			}
			if (po.Parent == nil) != (tc.parent == nil) || po.Parent != nil && *po.Parent != *tc.parent {
				t.Errorf("parent %+v, want %+v", po.Parent, tc.parent)
			}
		})
	}
}

// Options' zero fields take the configuration's values.
func TestOptionsDefaults(t *testing.T) {
	cfg := &config.Config{}
	cfg.PoP.TLSCertificateFile, cfg.PoP.TLSKeyFile, cfg.Topology.CABundle = "c.pem", "k.pem", "ca.pem"
	o := Options{Config: cfg}.withDefaults()
	if o.Logger == nil || o.DefaultCertFile != "c.pem" || o.DefaultKeyFile != "k.pem" || o.TierCABundle != "ca.pem" {
		t.Errorf("defaults %+v", o)
	}
	o = Options{Config: cfg, DefaultCertFile: "dev.pem", DefaultKeyFile: "dev-key.pem", TierCABundle: "devca.pem"}.withDefaults()
	if o.DefaultCertFile != "dev.pem" || o.DefaultKeyFile != "dev-key.pem" || o.TierCABundle != "devca.pem" {
		t.Errorf("given %+v", o)
	}
	o = Options{Config: &config.Config{}}
	o.UseDevTLS(&DevTLS{CAFile: "ca.pem", CertFile: "d.pem", KeyFile: "d-key.pem"})
	if o.DefaultCertFile != "d.pem" || o.DefaultKeyFile != "d-key.pem" || o.TierCABundle != "ca.pem" {
		t.Errorf("development TLS %+v", o)
	}
	o = Options{Config: cfg}
	o.UseDevTLS(&DevTLS{CAFile: "devca.pem", CertFile: "d.pem", KeyFile: "d-key.pem"})
	if o.TierCABundle != "" {
		t.Errorf("topology.caBundle set: tier CA %q, want it left to the configuration", o.TierCABundle)
	}
	o.UseDevTLS(nil)
	if o.DefaultCertFile != "d.pem" {
		t.Error("a nil DevTLS changed the options")
	}
}
