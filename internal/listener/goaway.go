package listener

import "encoding/binary"

// A GOAWAY of our own on an HTTP/2 connection x/net/http2 serves: x/net
// offers no way to send one on one connection (only Shutdown, on all), so
// batchConn follows the frames the server writes (each one a 9-byte header
// then its payload) and puts ours between two of them; from then on the
// server's writes are dropped and the connection is closed once the
// gathered bytes went out. The client learns why (ENHANCE_YOUR_CALM, with
// a debug text) and which streams were processed, instead of seeing a bare
// TCP close.

// HTTP/2 frame types and error codes (RFC 9113).
const (
	frameData          = 0x0
	frameHeaders       = 0x1
	frameGoAway        = 0x7
	errEnhanceYourCalm = 0xb
	frameHeaderLen     = 9
	maxStreamID        = 1<<31 - 1
)

// frameTracker follows frame boundaries in a stream of HTTP/2 frames.
type frameTracker struct {
	hdr     [frameHeaderLen]byte
	hdrN    int // bytes of the current frame's header seen
	left    int // payload bytes of the current frame still to come
	lastSID uint32
}

func (f *frameTracker) atBoundary() bool { return f.hdrN == 0 && f.left == 0 }

// feed moves the tracker over p.
func (f *frameTracker) feed(p []byte) {
	for len(p) > 0 {
		if f.left > 0 {
			n := min(f.left, len(p))
			f.left -= n
			p = p[n:]
			continue
		}
		n := copy(f.hdr[f.hdrN:], p)
		f.hdrN += n
		p = p[n:]
		if f.hdrN < frameHeaderLen {
			return
		}
		f.hdrN = 0
		f.left = int(f.hdr[0])<<16 | int(f.hdr[1])<<8 | int(f.hdr[2])
		if t := f.hdr[3]; t == frameHeaders || t == frameData {
			if sid := binary.BigEndian.Uint32(f.hdr[5:9]) & maxStreamID; sid > f.lastSID {
				f.lastSID = sid
			}
		}
	}
}

// untilBoundary is how many bytes of p complete the frame in progress (0
// at a boundary).
func (f *frameTracker) untilBoundary(p []byte) int {
	if f.atBoundary() {
		return 0
	}
	g := *f
	for i := 0; i < len(p); {
		if g.left > 0 {
			n := min(g.left, len(p)-i)
			g.left -= n
			i += n
		} else {
			n := min(frameHeaderLen-g.hdrN, len(p)-i)
			g.feed(p[i : i+n])
			i += n
		}
		if g.atBoundary() {
			return i
		}
	}
	return len(p)
}

// goAwayFrame is a GOAWAY frame with lastSID, code and debug text.
func goAwayFrame(lastSID uint32, code uint32, debug string) []byte {
	n := 8 + len(debug)
	b := make([]byte, frameHeaderLen+n)
	b[0], b[1], b[2] = byte(n>>16), byte(n>>8), byte(n)
	b[3] = frameGoAway
	binary.BigEndian.PutUint32(b[9:], lastSID&maxStreamID)
	binary.BigEndian.PutUint32(b[13:], code)
	copy(b[17:], debug)
	return b
}

// GoAway sends a GOAWAY (ENHANCE_YOUR_CALM, debug) at the next frame
// boundary of the server's writes, then Close closes the connection
// once it went out. The streams up to the highest one the server answered
// are reported processed.
func (c *batchConn) GoAway(debug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goAway != nil || c.err != nil {
		return
	}
	c.goAway = goAwayFrame(0, errEnhanceYourCalm, debug) // lastSID set when sent
	if c.frames.atBoundary() {
		c.sealGoAway()
	}
}

// sealGoAway queues the GOAWAY; with c.mu held, at a frame boundary.
func (c *batchConn) sealGoAway() {
	binary.BigEndian.PutUint32(c.goAway[9:], c.frames.lastSID&maxStreamID)
	if c.pending == nil {
		c.pending = batchBufs.Get().(*[]byte)
	}
	*c.pending = append(*c.pending, c.goAway...)
	c.sealed = true
	if !c.writing {
		c.writing = true
		go c.writeOut()
	}
}
