package pop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A generated HLS stream played through Strata: the live playlist has a
// short TTL and changes; segments are immutable with a long TTL, fetched once.
func TestHLSPlayback(t *testing.T) {
	segment := func(i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("segment-%03d;", i)), 20000) // ~250 KB
	}
	var live atomic.Int32 // the newest segment in the live window
	live.Store(3)
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/live/index.m3u8":
			rw.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			rw.Header().Set("Cache-Control", "max-age=2")
			n := int(live.Load())
			fmt.Fprintf(rw, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:%d\n", n-2)
			for i := n - 2; i <= n; i++ {
				fmt.Fprintf(rw, "#EXTINF:4.0,\nseg%03d.ts\n", i)
			}
		case strings.HasPrefix(r.URL.Path, "/live/seg"):
			var i int
			fmt.Sscanf(r.URL.Path, "/live/seg%03d.ts", &i)
			rw.Header().Set("Content-Type", "video/mp2t")
			rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			rw.Write(segment(i))
		default:
			rw.WriteHeader(http.StatusNotFound)
		}
	}, nil)
	play := func() []string {
		r := w.get("/live/index.m3u8")
		var segs []string
		sc := bufio.NewScanner(strings.NewReader(r.body))
		for sc.Scan() {
			if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
				segs = append(segs, line)
			}
		}
		for _, s := range segs {
			got := w.get("/live/" + s)
			var i int
			fmt.Sscanf(s, "seg%03d.ts", &i)
			if sha256.Sum256([]byte(got.body)) != sha256.Sum256(segment(i)) {
				t.Fatalf("%s: %d bytes differ from the origin's", s, len(got.body))
			}
		}
		return segs
	}
	first := play()
	play() // a second viewer: everything from cache
	live.Store(5)
	w.clock.Advance(3 * time.Second) // the playlist expires, segments do not
	second := play()
	if strings.Join(first, ",") == strings.Join(second, ",") {
		t.Fatalf("the live playlist did not move: %v", second)
	}
	if n := w.origin.count("/live/index.m3u8"); n != 2 {
		t.Fatalf("playlist fetched %d times, want 2 (short TTL)", n)
	}
	for _, s := range append(first, second...) {
		if n := w.origin.count("/live/" + s); n != 1 {
			t.Fatalf("%s fetched %d times, want 1 (long TTL)", s, n)
		}
	}
}
