package listener

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// frames is a stream of HTTP/2 frames as a server writes them, and the
// offsets at which each frame ends.
func frames(t testing.TB) ([]byte, map[int]bool) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	ends := map[int]bool{}
	mark := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
		ends[buf.Len()] = true
	}
	mark(fr.WriteSettings())
	mark(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte{0x88}, EndHeaders: true}))
	mark(fr.WriteData(3, false, bytes.Repeat([]byte("d"), 5000)))
	mark(fr.WriteData(7, true, nil))
	mark(fr.WriteRSTStream(9, http2.ErrCodeCancel))
	mark(fr.WriteWindowUpdate(0, 1000))
	return buf.Bytes(), ends
}

// The tracker finds every frame boundary however the stream is split into
// writes, and the highest stream a response went to.
func TestFrameTracker(t *testing.T) {
	b, ends := frames(t)
	for _, split := range []int{1, 2, 8, 9, 10, 100, 4096, len(b)} {
		var f frameTracker
		for off := 0; off < len(b); off += split {
			p := b[off:min(off+split, len(b))]
			n := f.untilBoundary(p)
			if f.atBoundary() {
				if n != 0 {
					t.Fatalf("split %d at %d: untilBoundary %d at a boundary", split, off, n)
				}
			} else {
				// The next boundary within p, if any, is where n says.
				want := len(p)
				for i := 1; i <= len(p); i++ {
					if ends[off+i] {
						want = i
						break
					}
				}
				if n != want {
					t.Fatalf("split %d at %d: untilBoundary %d, want %d", split, off, n, want)
				}
			}
			f.feed(p)
			if got := f.atBoundary(); got != ends[off+len(p)] {
				t.Fatalf("split %d: atBoundary at %d = %v", split, off+len(p), got)
			}
		}
		if f.lastSID != 7 {
			t.Fatalf("split %d: lastSID %d, want 7", split, f.lastSID)
		}
	}
}

func FuzzFrameTracker(f *testing.F) {
	b, _ := frames(f)
	f.Add(b, uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		step := int(split) + 1
		var tr frameTracker
		for off := 0; off < len(b); off += step {
			p := b[off:min(off+step, len(b))]
			n := tr.untilBoundary(p)
			if n < 0 || n > len(p) {
				t.Fatalf("untilBoundary %d of %d", n, len(p))
			}
			g := tr
			g.feed(p[:n])
			if n < len(p) && !g.atBoundary() {
				t.Fatalf("untilBoundary %d does not end at a boundary", n)
			}
			tr.feed(p)
		}
	})
}

// A GOAWAY asked for in the middle of a frame goes out after it, and the
// frames that follow are dropped; the client reads it as a frame.
func TestGoAwayAtFrameBoundary(t *testing.T) {
	b, ends := frames(t)
	cut := 0
	for i := 20; i < len(b); i++ { // somewhere inside the first DATA frame
		if !ends[i] && i > 40 {
			cut = i
			break
		}
	}
	var f frameTracker
	f.feed(b[:cut])
	var out bytes.Buffer
	out.Write(b[:cut])
	n := f.untilBoundary(b[cut:])
	out.Write(b[cut : cut+n])
	f.feed(b[cut : cut+n])
	out.Write(goAwayFrame(f.lastSID, errEnhanceYourCalm, "why"))
	rf := http2.NewFramer(nil, &out)
	var ga *http2.GoAwayFrame
	for {
		fr, err := rf.ReadFrame()
		if err != nil {
			break
		}
		if g, ok := fr.(*http2.GoAwayFrame); ok {
			ga = g
			break
		}
	}
	if ga == nil || ga.ErrCode != http2.ErrCodeEnhanceYourCalm || ga.LastStreamID != 3 || string(ga.DebugData()) != "why" {
		t.Fatalf("GOAWAY read back: %+v", ga)
	}
}
