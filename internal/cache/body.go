package cache

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/strata-cdn/strata/internal/cache/disk"
)

// ErrIncomplete is returned to readers of a body whose fetch failed before it
// was complete. A reader that sees it must abort its response: the bytes it
// already sent are not the whole object.
var ErrIncomplete = errors.New("cache: object body incomplete")

const chunkSize = 32 << 10

// Body is an object body that may still be arriving. One writer appends;
// any number of readers follow it, each at its own pace, waking when more
// bytes arrive. A finished Body is immutable and is what the store keeps.
type Body struct {
	mu     sync.Mutex
	chunks [][]byte
	size   int64
	done   bool
	err    error
	wake   chan struct{} // closed and replaced whenever size/done changes

	// A body read from the disk tier: complete, held in a file. The request
	// that read it owns it and Releases it, unless it was shared (handed to
	// a revalidation): then the file closes when the Body is garbage.
	entry  *disk.Entry
	shared atomic.Bool
}

// BodyFromEntry is a complete body held in a disk entry.
func BodyFromEntry(e *disk.Entry) *Body {
	b := &Body{done: true, size: e.Size, wake: make(chan struct{}), entry: e}
	runtime.AddCleanup(b, func(e *disk.Entry) { e.Close() }, e)
	return b
}

// Share marks a disk body as used by more than one request: Release no
// longer closes it.
func (b *Body) Share() { b.shared.Store(true) }

// Release closes the file of a disk body that was not shared; it does
// nothing for other bodies. Reading a released body fails.
func (b *Body) Release() {
	if b.entry != nil && !b.shared.Load() {
		b.entry.Close()
	}
}

// OnDisk reports whether the body is held in a disk file.
func (b *Body) OnDisk() bool { return b.entry != nil }

// NewBody returns an empty body, ready for Write.
func NewBody() *Body { return &Body{wake: make(chan struct{})} }

// BodyFrom returns a finished body holding b (not copied).
func BodyFrom(b []byte) *Body {
	body := &Body{done: true, size: int64(len(b)), wake: make(chan struct{})}
	if len(b) > 0 {
		body.chunks = [][]byte{b}
	}
	return body
}

// Grow makes room for n more bytes in one chunk, so that a body whose
// length is known ahead is held (and later written) in one piece.
func (b *Body) Grow(n int64) {
	if n <= 0 || n > 1<<30 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := len(b.chunks); k > 0 && cap(b.chunks[k-1])-len(b.chunks[k-1]) >= int(n) {
		return
	}
	b.chunks = append(b.chunks, make([]byte, 0, n))
}

// Write appends p (copied) and wakes the readers.
func (b *Body) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return 0, errors.New("cache: write to finished body")
	}
	for len(p) > 0 {
		var last []byte
		if k := len(b.chunks); k > 0 {
			last = b.chunks[k-1]
		}
		if last == nil || len(last) == cap(last) {
			last = make([]byte, 0, max(chunkSize, min(len(p), 1<<20)))
			b.chunks = append(b.chunks, last)
		}
		m := copy(last[len(last):cap(last)], p)
		b.chunks[len(b.chunks)-1] = last[:len(last)+m]
		p = p[m:]
		b.size += int64(m)
	}
	b.signal()
	b.mu.Unlock()
	return n, nil
}

// Finish marks the body complete (err == nil) or failed.
func (b *Body) Finish(err error) {
	b.mu.Lock()
	if !b.done {
		b.done = true
		if err != nil {
			b.err = errors.Join(ErrIncomplete, err)
		}
		b.signal()
	}
	b.mu.Unlock()
}

func (b *Body) signal() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// Size is the number of bytes received so far.
func (b *Body) Size() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
}

// Complete reports whether the body is finished without error.
func (b *Body) Complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done && b.err == nil
}

// Bytes returns the whole body of a complete Body as one slice (copying
// only when it is held in several chunks).
func (b *Body) Bytes() []byte {
	if b.entry != nil {
		out := make([]byte, b.size)
		n, _ := io.ReadFull(io.NewSectionReader(b.entry.File, b.entry.Offset, b.size), out)
		return out[:n]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch len(b.chunks) {
	case 0:
		return nil
	case 1:
		return b.chunks[0]
	}
	out := make([]byte, 0, b.size)
	for _, c := range b.chunks {
		out = append(out, c...)
	}
	return out
}

// Wait blocks until the body is finished or ctx ends, and returns the body's
// error (ErrIncomplete) or ctx's.
func (b *Body) Wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		done, err, wake := b.done, b.err, b.wake
		b.mu.Unlock()
		if done {
			return err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WriteTo copies the body from offset off to w, following a body that is still
// arriving. It returns ErrIncomplete if the fetch failed, ctx's error if ctx
// ends first, or w's error.
func (b *Body) WriteTo(ctx context.Context, w io.Writer, off int64) (int64, error) {
	if b.entry != nil {
		return b.writeFileTo(w, off)
	}
	var (
		written int64
		ci      int   // index of the chunk holding off
		cpos    int64 // body offset where chunk ci starts
		avail   [][]byte
	)
	flusher, _ := w.(interface{ Flush() })
	for {
		b.mu.Lock()
		// Collect what is available beyond off without holding the lock while writing.
		avail = avail[:0]
		for ; ci < len(b.chunks); ci++ {
			c := b.chunks[ci]
			end := cpos + int64(len(c))
			if end > off {
				avail = append(avail, c[max(off-cpos, 0):])
			}
			if ci == len(b.chunks)-1 && len(c) < cap(c) {
				break // the last chunk may still grow: revisit it
			}
			cpos = end
		}
		done, err, wake := b.done, b.err, b.wake
		b.mu.Unlock()
		for _, c := range avail {
			n, werr := w.Write(c)
			written += int64(n)
			off += int64(n)
			if werr != nil {
				return written, werr
			}
		}
		if len(avail) > 0 {
			if flusher != nil && !done {
				flusher.Flush()
			}
			continue
		}
		if done {
			return written, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return written, ctx.Err()
		}
	}
}

// writeFileTo copies a disk body from off. When w can take a file (a TCP
// connection: sendfile), it gets a descriptor of its own, opened through
// /proc/self/fd, so concurrent readers never share a file offset.
func (b *Body) writeFileTo(w io.Writer, off int64) (int64, error) {
	rem := b.size - off
	if rem <= 0 {
		return 0, nil
	}
	if _, ok := w.(io.ReaderFrom); ok {
		if f, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(b.entry.File.Fd()))); err == nil {
			defer f.Close()
			if _, err := f.Seek(b.entry.Offset+off, io.SeekStart); err == nil {
				n, err := io.Copy(w, &io.LimitedReader{R: f, N: rem})
				if err == nil && n < rem {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(w, io.NewSectionReader(b.entry.File, b.entry.Offset+off, rem), *bp)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Reader returns an io.ReadSeeker over a complete body (for range and
// conditional serving through http.ServeContent).
func (b *Body) Reader() io.ReadSeeker {
	if b.entry != nil {
		return io.NewSectionReader(b.entry.File, b.entry.Offset, b.size)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return &chunkReader{chunks: b.chunks, size: b.size}
}

type chunkReader struct {
	chunks [][]byte
	size   int64
	off    int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	pos := int64(0)
	for _, c := range r.chunks {
		end := pos + int64(len(c))
		if r.off < end {
			n := copy(p, c[r.off-pos:])
			r.off += int64(n)
			return n, nil
		}
		pos = end
	}
	return 0, io.EOF
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("cache: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("cache: negative position")
	}
	r.off = offset
	return offset, nil
}
