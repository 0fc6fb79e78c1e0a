package cache

import (
	"context"
	"errors"
	"fmt"
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

// errSpillClosed is returned by a read of the file part of a spilled body
// after the file was closed (closeSpill).
var errSpillClosed = errors.New("cache: spilled body already closed")

// Body is an object body that may still be arriving. One writer appends;
// any number of readers follow it, each at its own pace, waking when more
// bytes arrive. A finished Body is immutable and is what the store keeps.
//
// A body too large to be kept in memory spills (SpillAfter): past a prefix
// held in memory, its bytes go to an unlinked temporary file that only the
// Body holds, and readers read them from there (pread, or sendfile to a
// TCP connection). Nothing is dropped, so a reader may start at any time,
// from any offset.
type Body struct {
	mu     sync.Mutex
	chunks [][]byte
	size   int64
	done   bool
	err    error
	wake   chan struct{} // closed and replaced whenever size/done changes

	// A spilling body (SpillAfter): the bytes from spillAt on are in spill,
	// at their offset minus spillAt; chunks hold the ones before. spillDir
	// is "" when the body does not spill (or its file could not be made).
	spillDir  string
	spillAt   int64
	spill     *os.File
	spillErr  error // why the file could not be created
	spillGone bool  // the file was closed by closeSpill

	// A body with a memory budget (LimitMemory) holds held bytes of it
	// until it is finished; past what budget grants, it spills to a file
	// in budgetDir.
	budget    *Budget
	budgetDir string
	held      int64

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

// LimitMemory counts the memory the body holds while it is written against
// budget (nil: no limit), from now until Finish. When the budget has no
// room for more, the body spills from there on, to a file in dir (as
// SpillAfter). The writer calls it before Grow and the first Write.
func (b *Body) LimitMemory(budget *Budget, dir string) {
	if dir == "" {
		dir = os.TempDir()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.entry != nil {
		return
	}
	b.budget, b.budgetDir = budget, dir
}

// HeldInMemory reports whether the first n bytes of the body are, or will
// be as they arrive, held in memory rather than in a spill file: only such
// a body can be kept by the Store.
func (b *Body) HeldInMemory(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entry == nil && (b.spillDir == "" || b.spillAt >= n)
}

// reserveLocked makes sure the budget covers the bytes the body will hold
// in memory once it has size+n bytes; if it can't, the body spills from its
// current size on. b.mu is held.
func (b *Body) reserveLocked(n int64) {
	if b.budget == nil {
		return
	}
	end := b.size + n
	if b.spillDir != "" {
		end = min(end, b.spillAt)
	}
	need := end - b.held
	if need <= 0 {
		return
	}
	if b.budget.reserve(max(need, chunkSize)) {
		b.held += max(need, chunkSize)
		return
	}
	if b.spillErr != nil {
		return // no file to spill to: held in memory, over budget (SpillErr says why)
	}
	if b.spillDir == "" {
		b.spillDir = b.budgetDir
	}
	b.spillAt = b.size
}

// Grow makes room for n more bytes in one chunk, so that a body whose
// length is known ahead is held (and later written) in one piece. With a
// memory budget that cannot take n more bytes, the body spills instead.
func (b *Body) Grow(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.budget != nil && !b.done && b.spill == nil && !b.spillGone {
		b.reserveLocked(n)
		if b.spilledAtLocked(b.size) {
			return
		}
	}
	if n > 1<<30 {
		return
	}
	if k := len(b.chunks); k > 0 && cap(b.chunks[k-1])-len(b.chunks[k-1]) >= int(n) {
		return
	}
	b.chunks = append(b.chunks, make([]byte, 0, n))
}

// SpillAfter makes the bytes written after the first n go to a temporary
// file in dir (os.TempDir() if "") instead of memory. The writer calls it
// before it writes them. The file is created, and unlinked at once, when the
// first such byte arrives; if it can't be, the body stays in memory and
// SpillErr says why. It is closed when the last request using the body's
// flight is done (Flight.Done), or else when the Body is garbage.
func (b *Body) SpillAfter(n int64, dir string) {
	if dir == "" {
		dir = os.TempDir()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.spill != nil || b.spillGone || b.entry != nil {
		return
	}
	b.spillDir, b.spillAt = dir, max(n, b.size)
}

// SpillErr is why a body that was to spill could not create its file (it
// then holds everything in memory), or nil.
func (b *Body) SpillErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spillErr
}

// Spilled reports whether part of the body is held in a file.
func (b *Body) Spilled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spilledLocked()
}

func (b *Body) spilledLocked() bool { return b.spillDir != "" && b.size > b.spillAt }

// spilledAtLocked reports whether a byte at offset off goes to the file.
func (b *Body) spilledAtLocked(off int64) bool { return b.spillDir != "" && off >= b.spillAt }

// closeSpill closes the file of a spilled body; reading its file part fails
// afterwards. It does nothing to a body that does not spill.
func (b *Body) closeSpill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spillDir == "" {
		return
	}
	b.spillGone = true
	if b.spill != nil {
		b.spill.Close()
		b.spill = nil
	}
}

// createSpill makes the body's file: created, then unlinked at once, so
// that nothing is left behind whatever happens to the process.
func createSpill(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "strata-spill-*")
	if err != nil {
		return nil, fmt.Errorf("cache: spill: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: spill: %w", err)
	}
	return f, nil
}

// Write appends p (copied) and wakes the readers.
func (b *Body) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return 0, errors.New("cache: write to finished body")
	}
	if b.spill == nil && !b.spillGone {
		b.reserveLocked(int64(n))
	}
	if b.spillDir != "" && b.size+int64(n) > b.spillAt {
		return b.writeSpill(p) // unlocks
	}
	b.appendLocked(p)
	b.signal()
	b.mu.Unlock()
	return n, nil
}

// writeSpill writes p, which ends past spillAt, with b.mu held; it unlocks
// it. The file is written without the lock (there is one writer, and
// readers never read past size), then size grows and the readers wake.
func (b *Body) writeSpill(p []byte) (int, error) {
	n := len(p)
	if k := b.spillAt - b.size; k > 0 {
		b.appendLocked(p[:k])
		p = p[k:]
	}
	if b.spill == nil {
		var err error
		if b.spillGone {
			err = errSpillClosed
		} else if b.spill, err = createSpill(b.spillDir); err == nil {
			runtime.AddCleanup(b, func(f *os.File) { f.Close() }, b.spill)
		}
		if err != nil {
			if b.spillGone {
				b.signal()
				b.mu.Unlock()
				return n - len(p), err
			}
			b.spillErr, b.spillDir = err, "" // keep it in memory
			b.appendLocked(p)
			b.signal()
			b.mu.Unlock()
			return n, nil
		}
	}
	f, off := b.spill, b.size-b.spillAt
	b.mu.Unlock()
	m, err := f.WriteAt(p, off)
	b.mu.Lock()
	b.size += int64(m)
	b.signal()
	b.mu.Unlock()
	if err != nil {
		return n - len(p) + m, fmt.Errorf("cache: spill: %w", err)
	}
	return n, nil
}

// appendLocked copies p into the chunks; b.mu is held.
func (b *Body) appendLocked(p []byte) {
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
}

// Finish marks the body complete (err == nil) or failed.
func (b *Body) Finish(err error) {
	b.mu.Lock()
	if !b.done {
		b.done = true
		if err != nil {
			b.err = errors.Join(ErrIncomplete, err)
		}
		if b.budget != nil {
			b.budget.release(b.held)
			b.budget, b.held = nil, 0
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
	if b.spilledLocked() {
		out := make([]byte, 0, b.size)
		for _, c := range b.chunks {
			out = append(out, c...)
		}
		if b.spill == nil {
			return out
		}
		n, _ := b.spill.ReadAt(out[len(out):b.size], 0)
		return out[:len(out)+n]
	}
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
		sp      spillSender
	)
	defer sp.close()
	_, canSend := w.(io.ReaderFrom)
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
		// Past the memory prefix of a spilled body: the file, up to size.
		var (
			file             *os.File
			fileOff, fileLen int64
		)
		if len(avail) == 0 && b.spillDir != "" && off >= b.spillAt && off < b.size {
			if b.spill == nil {
				b.mu.Unlock()
				return written, errSpillClosed
			}
			file, fileOff, fileLen = b.spill, off-b.spillAt, b.size-off
			if canSend && !sp.tried {
				sp.open(file) // with the lock held: file is open, its descriptor is its own
			}
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
		if file != nil {
			n, werr := sp.send(w, file, fileOff, fileLen)
			written += n
			off += n
			if werr != nil {
				return written, werr
			}
		}
		if len(avail) > 0 || file != nil {
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

var spillBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// spillSender writes parts of a spill file for one reader. When the
// destination takes a file (io.ReaderFrom: a TCP connection uses
// sendfile), the reader has a descriptor of its own, opened through
// /proc/self/fd, so that readers never share a file offset; otherwise it
// reads with pread.
type spillSender struct {
	own   *os.File
	pos   int64 // own's offset
	tried bool
	buf   *[]byte
}

// open makes the reader's own descriptor of f, which must stay open
// meanwhile (the body's lock is held).
func (s *spillSender) open(f *os.File) {
	s.tried = true
	if own, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil {
		s.own = own
	}
}

// send writes n bytes of the file from off to w.
func (s *spillSender) send(w io.Writer, f *os.File, off, n int64) (int64, error) {
	if s.own != nil {
		if s.pos != off {
			if _, err := s.own.Seek(off, io.SeekStart); err != nil {
				return 0, err
			}
			s.pos = off
		}
		m, err := io.Copy(w, &io.LimitedReader{R: s.own, N: n})
		s.pos += m
		if err == nil && m < n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			s.pos = -1 // unknown: seek again
		}
		return m, err
	}
	if s.buf == nil {
		s.buf = spillBufPool.Get().(*[]byte)
	}
	buf := *s.buf
	var written int64
	for written < n {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), n-written)], off+written)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
		}
		if err != nil && written < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return written, err
		}
	}
	return written, nil
}

func (s *spillSender) close() {
	if s.own != nil {
		s.own.Close()
	}
	if s.buf != nil {
		spillBufPool.Put(s.buf)
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
	r := &chunkReader{chunks: b.chunks}
	if b.spilledLocked() {
		r.body, r.file, r.fileAt = b, b.spill, b.spillAt
	}
	return io.NewSectionReader(r, 0, b.size)
}

// chunkReader reads a body's chunks and, for a spilled body, its file from
// fileAt on. io.SectionReader gives it Read and Seek.
type chunkReader struct {
	chunks [][]byte

	body   *Body // a spilled body, kept alive while its file is read
	file   *os.File
	fileAt int64
}

// ReadAt fills p from off; the SectionReader around it never asks past the
// body's size.
func (r *chunkReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.readSome(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
	}
	return n, nil
}

func (r *chunkReader) readSome(p []byte, off int64) (int, error) {
	if r.body != nil && off >= r.fileAt {
		if r.file == nil {
			return 0, errSpillClosed
		}
		n, err := r.file.ReadAt(p, off-r.fileAt)
		runtime.KeepAlive(r.body)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the writer wrote every byte before the body was complete
		}
		return n, err
	}
	pos := int64(0)
	for _, c := range r.chunks {
		end := pos + int64(len(c))
		if off < end {
			return copy(p, c[off-pos:]), nil
		}
		pos = end
	}
	return 0, nil
}
