package pop

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInvalidatePathsAndTags(t *testing.T) {
	var version atomic.Int32
	c := &clock{}
	o := newOrigin(t, c, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		switch r.URL.Path {
		case "/tagged-a":
			rw.Header().Set("Cache-Tag", "product-1, shop")
		case "/tagged-b":
			rw.Header().Set("Surrogate-Key", "product-2 shop")
		}
		fmt.Fprintf(rw, "%s v%d", r.URL.Path, version.Load())
	})
	p, url := diskPoP(t, o.URL, t.TempDir(), 64<<20)
	paths := []string{"/a", "/a?x=1", "/img/1.png", "/img/2.png", "/other", "/tagged-a", "/tagged-b"}
	for _, path := range paths {
		fetchURL(t, url+path)
	}
	waitFor(t, 5*time.Second, func() bool { return p.Store().Disk().Len() == len(paths) })
	version.Store(1)
	hit := func(path string) bool { return fetchURL(t, url+path).header.Get("X-Cache") == "Hit from strata" }

	if n := p.Invalidate("d", []string{"/a"}, nil); n != 2 {
		t.Fatalf("exact path removed %d objects, want 2 (both query variants)", n)
	}
	if hit("/a") || hit("/a?x=1") || !hit("/other") {
		t.Fatal("exact path invalidation wrong")
	}
	p.Invalidate("d", []string{"/img/*"}, nil)
	if hit("/img/1.png") || hit("/img/2.png") || !hit("/other") {
		t.Fatal("prefix invalidation wrong")
	}
	// Tags, after the memory copies are gone: the disk entries must go too.
	p.Store().DeleteFunc(func(string) bool { return false })
	p.Invalidate("d", nil, []string{"product-1"})
	if hit("/tagged-a") || !hit("/tagged-b") {
		t.Fatal("Cache-Tag invalidation wrong")
	}
	p.Invalidate("d", nil, []string{"shop"})
	if hit("/tagged-a") || hit("/tagged-b") {
		t.Fatal("shared tag invalidation wrong")
	}
	if r := fetchURL(t, url+"/tagged-b"); r.body != "/tagged-b v1" {
		t.Fatalf("after invalidation: %q", r.body)
	}
	if p.Invalidate("other-dist", []string{"/*"}, nil) != 0 || !hit("/other") {
		t.Fatal("an invalidation of another distribution removed objects")
	}
}

func TestInvalidationDuringFetch(t *testing.T) {
	release := make(chan struct{})
	var version atomic.Int32
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		v := version.Load()
		if v == 0 {
			<-release
		}
		rw.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(rw, "v%d", v)
	}, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if r := w.get("/slow"); r.body != "v0" {
			t.Errorf("in-flight response %q", r.body)
		}
	}()
	waitFor(t, 5*time.Second, func() bool { return w.origin.count("/slow") == 1 })
	version.Store(1)
	w.pop.Invalidate("d", []string{"/slow"}, nil) // the origin already made v0
	close(release)
	wg.Wait()
	if r := w.get("/slow"); r.body != "v1" {
		t.Fatalf("the response in flight during the invalidation was stored: %q", r.body)
	}
}

func TestInvalidationTierRace(t *testing.T) {
	var version atomic.Int32
	n := newNetwork(t, 1, 0, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(rw, "v%d", version.Load())
	}, nil)
	n.get("EA1", "/obj") // now cached at EA1 and RA1
	version.Store(1)
	n.pops["EA1"].Invalidate("d", []string{"/obj"}, nil) // the edge first; RA1 has not applied it yet
	r := n.get("EA1", "/obj")
	if r.body != "v1" || r.header.Get(servedByHeader) != "origin" {
		t.Fatalf("edge brought the purged copy back from its parent: %q served by %q", r.body, r.header.Get(servedByHeader))
	}
}
