package pop

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// versioned is an origin whose /x is "v<N>", cacheable for 600s; a POST
// to /x makes the next version. It counts the GETs and POSTs it answers.
type versioned struct {
	version, gets, posts atomic.Int64
}

func newVersioned() *versioned {
	v := &versioned{}
	v.version.Store(1)
	return v
}

func (v *versioned) handle(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		v.posts.Add(1)
		io.Copy(io.Discard, r.Body)
		v.version.Add(1)
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	v.gets.Add(1)
	rw.Header().Set("Cache-Control", "max-age=600")
	fmt.Fprintf(rw, "v%d", v.version.Load())
}

func (v *versioned) expect(t *testing.T, r response, body string, gets int64) {
	t.Helper()
	if r.status != http.StatusOK || r.body != body {
		t.Fatalf("got %d %q, want %q (X-Cache %q, Cache-Status %q)", r.status, r.body, body,
			r.header.Get("X-Cache"), r.header.Values("Cache-Status"))
	}
	if n := v.gets.Load(); n != gets {
		t.Fatalf("origin GETs %d, want %d", n, gets)
	}
}

// TestUnsafeMethodRefreshesEveryTier: GET, a successful POST, GET at the
// edge gives the new version in every topology, with one origin GET after
// the POST (RFC 9111 4.4 through the tiers), and every tier then holds the
// new version.
func TestUnsafeMethodRefreshesEveryTier(t *testing.T) {
	v := newVersioned()
	eachTopology(t, netOpts{}, v.handle, nil, func(t *testing.T, n *network) {
		v.version.Store(1)
		v.gets.Store(0)
		v.posts.Store(0)
		v.expect(t, n.send(n.viewer, viewerReq{path: "/x"}), "v1", 1)
		r := n.send(n.viewer, viewerReq{path: "/x"})
		v.expect(t, r, "v1", 1)
		expectXCache(t, r, "Hit")

		if r := n.send(n.viewer, viewerReq{method: http.MethodPost, path: "/x"}); r.status != http.StatusNoContent {
			t.Fatalf("POST: %d", r.status)
		}
		if v.posts.Load() != 1 {
			t.Fatalf("origin POSTs %d", v.posts.Load())
		}
		r = n.send(n.viewer, viewerReq{path: "/x"})
		v.expect(t, r, "v2", 2)
		expectXCache(t, r, "Miss")
		r = n.send(n.viewer, viewerReq{path: "/x"})
		v.expect(t, r, "v2", 2)
		expectXCache(t, r, "Hit")
		// Every refetch done: nothing left remembered.
		for id, p := range n.pops {
			if l := p.unsafe.len(); l != 0 {
				t.Fatalf("%s still remembers %d keys", id, l)
			}
		}
	})
}

// TestUnsafeRefreshReachesOtherEdges: after a POST at one edge, another
// edge under the same regional cache keeps its own copy until it expires
// (as at CloudFront), then gets the new version from the regional cache
// the first edge refreshed, without asking the origin.
func TestUnsafeRefreshReachesOtherEdges(t *testing.T) {
	for _, shield := range []string{"", "B-R"} {
		t.Run("shield="+shield, func(t *testing.T) {
			v := newVersioned()
			n := newNetworkOpts(t, netOpts{edgesA: 2, shield: shield}, v.handle, nil)
			v.expect(t, n.send("EA1", viewerReq{path: "/x"}), "v1", 1)
			v.expect(t, n.send("EA2", viewerReq{path: "/x"}), "v1", 1) // from RA1
			n.clock.Advance(300 * time.Second)

			n.send("EA1", viewerReq{method: http.MethodPost, path: "/x"})
			v.expect(t, n.send("EA1", viewerReq{path: "/x"}), "v2", 2)
			r := n.send("EA2", viewerReq{path: "/x"})
			v.expect(t, r, "v1", 2) // EA2's own copy, fresh for 300s more
			expectXCache(t, r, "Hit")

			n.clock.Advance(301 * time.Second) // EA2's copy expired, RA1's v2 is fresh
			v.expect(t, n.send("EA2", viewerReq{path: "/x"}), "v2", 2)
		})
	}
}

// TestUnsafeRefreshSignalNeedsTheTierSecret: refreshHeader from a viewer,
// to an edge or to a regional cache that serves viewers, or with a wrong
// secret, makes no tier drop its copy; with the secret it does.
func TestUnsafeRefreshSignalNeedsTheTierSecret(t *testing.T) {
	v := newVersioned()
	n := newNetworkOpts(t, netOpts{edgesA: 2, regionalOpts: func(o *Options) { o.AcceptViewers = true }}, v.handle,
		func(c *config.Config) {
			// Every viewer header is forwarded: the edge must still drop refreshHeader.
			c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = config.ManagedAllViewer
		})
	v.expect(t, n.send("EA1", viewerReq{path: "/x"}), "v1", 1)
	v.version.Store(2) // any refetch now shows

	sig := []string{refreshHeader, "1"}
	r := n.send("EA1", viewerReq{path: "/x", header: sig})
	v.expect(t, r, "v1", 1)
	expectXCache(t, r, "Hit")
	v.expect(t, n.send("EA2", viewerReq{path: "/x", header: sig}), "v1", 1) // EA2 misses, RA1 keeps its copy
	v.expect(t, n.send("RA1", viewerReq{path: "/x", header: sig}), "v1", 1)
	v.expect(t, n.send("RA1", viewerReq{path: "/x", header: append([]string{hopHeader, "wrong"}, sig...)}), "v1", 1)
	if l := n.pops["EA2"].unsafe.len() + n.pops["RA1"].unsafe.len(); l != 0 {
		t.Fatalf("%d keys remembered", l)
	}

	// The control: over the hop, with the secret, the signal is honoured.
	v.expect(t, n.send("RA1", viewerReq{path: "/x", header: append([]string{hopHeader, "s3cret"}, sig...)}), "v2", 2)
}

// TestUnsafeMemoryIsBounded: the memory keeps at most max keys (the
// newest), forgets a key after ttl, and forgets it when done.
func TestUnsafeMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m := &unsafeMemory{max: 3, ttl: time.Minute}
	for i := 0; i < 1000; i++ {
		m.add(fmt.Sprintf("k%d", i), now)
		if l := m.len(); l > 3 {
			t.Fatalf("after %d adds: %d keys", i+1, l)
		}
	}
	if m.has("k996", now) || !m.has("k997", now) || !m.has("k999", now) {
		t.Fatal("the newest keys should be kept, the older dropped")
	}
	m.add("k997", now.Add(30*time.Second)) // refreshed: now the newest
	m.add("k1000", now)                    // drops the least recent, k998
	if m.has("k998", now) || !m.has("k997", now) {
		t.Fatal("a key added again should be the newest")
	}
	if m.has("k999", now.Add(time.Minute)) || m.len() != 2 {
		t.Fatalf("an expired key should be forgotten (%d keys)", m.len())
	}
	m.done("k997")
	if m.has("k997", now) || m.len() != 1 {
		t.Fatalf("done should forget the key (%d keys)", m.len())
	}
	// The zero value is ready and bounded by unsafeMemoryMax.
	var z unsafeMemory
	for i := 0; i < unsafeMemoryMax+100; i++ {
		z.add(fmt.Sprint(i), now)
	}
	if z.len() != unsafeMemoryMax {
		t.Fatalf("zero value: %d keys, want %d", z.len(), unsafeMemoryMax)
	}
}

// TestUnsafeLocationRefreshesEveryTier: the same-host Location of a
// successful POST is refreshed through every tier too.
func TestUnsafeLocationRefreshesEveryTier(t *testing.T) {
	var version, gets atomic.Int64
	h := func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			rw.Header().Set("Location", "/items/1")
			rw.WriteHeader(http.StatusCreated)
			return
		}
		gets.Add(1)
		rw.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(rw, "v%d", version.Load())
	}
	eachTopology(t, netOpts{}, h, nil, func(t *testing.T, n *network) {
		version.Store(1)
		gets.Store(0)
		n.send(n.viewer, viewerReq{path: "/items/1"})
		if r := n.send(n.viewer, viewerReq{method: http.MethodPost, path: "/items"}); r.status != http.StatusCreated {
			t.Fatalf("POST: %d", r.status)
		}
		r := n.send(n.viewer, viewerReq{path: "/items/1"})
		if r.body != "v2" || gets.Load() != 2 {
			t.Fatalf("after the POST: %q, %d origin GETs (Cache-Status %q)", r.body, gets.Load(), r.header.Values("Cache-Status"))
		}
	})
}
