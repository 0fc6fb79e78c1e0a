package compress

import (
	"bytes"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// encoder is what the three compressors have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// Encoders are pooled: a Brotli or zstd encoder allocates its window and
// tables up front. The settings favour speed at a good ratio, since a
// 10 MB object is compressed while viewers wait for it: gzip level 6,
// Brotli quality 5 with a 1 MiB window, zstd's default level with a 2 MiB
// window, one goroutine and its lower-memory mode.
var encoderPools = map[string]*sync.Pool{
	Gzip: {New: func() any {
		w, _ := gzip.NewWriterLevel(nil, 6)
		return w
	}},
	Brotli: {New: func() any {
		return brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: 5, LGWin: 20})
	}},
	Zstd: {New: func() any {
		w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(2<<20),
			zstd.WithLowerEncoderMem(true), zstd.WithEncoderLevel(zstd.SpeedDefault))
		return w
	}},
}

// Supported reports whether enc is an encoding NewReader produces ("" and
// unknown names are not).
func Supported(enc string) bool { return encoderPools[enc] != nil }

// Reader reads a source and returns it compressed: a streaming transform
// whose memory is one read buffer, the compressed bytes of one read, and
// the encoder.
type Reader struct {
	src   io.Reader
	name  string
	enc   encoder // taken from the pool at the first Read
	in    []byte
	out   bytes.Buffer
	flush bool  // flush the encoder after every read from src
	err   error // sticky: io.EOF once the stream is closed, or the failure
}

// NewReader returns src compressed in enc, which must be Supported. With
// flush, the encoder is flushed after every read from src, so a streamed
// body keeps streaming.
func NewReader(src io.Reader, enc string, flush bool) *Reader {
	return &Reader{src: src, name: enc, flush: flush}
}

func (c *Reader) Read(p []byte) (int, error) {
	if c.enc == nil && c.err == nil {
		c.enc = encoderPools[c.name].Get().(encoder)
		c.enc.Reset(&c.out)
		c.in = make([]byte, 32<<10)
	}
	for c.out.Len() == 0 && c.err == nil {
		n, err := c.src.Read(c.in)
		if n > 0 {
			if _, werr := c.enc.Write(c.in[:n]); werr != nil {
				err = werr
			} else if c.flush {
				if werr := c.enc.Flush(); werr != nil {
					err = werr
				}
			}
		}
		switch {
		case err == io.EOF:
			if cerr := c.enc.Close(); cerr != nil {
				err = cerr
			}
			c.err = err
			c.release()
		case err != nil:
			c.err = err
			c.release()
		}
	}
	if c.out.Len() > 0 {
		return c.out.Read(p)
	}
	return 0, c.err
}

// release returns the encoder to its pool, pointed away from this reader's
// buffer.
func (c *Reader) release() {
	c.enc.Reset(io.Discard)
	encoderPools[c.name].Put(c.enc)
	c.enc = nil
}
