package disk

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"sync"
)

func sum(key string) [32]byte { return sha256.Sum256([]byte(key)) }

var (
	headPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}
	copyPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
)

// Entry is an open cache entry. It holds its own file descriptor: it stays
// readable after the entry is replaced, deleted or evicted, until Close.
type Entry struct {
	Meta []byte
	Size int64 // body length

	// File is the entry file and Offset where the body starts in it; the
	// body is File[Offset : Offset+Size]. Prefer Body, which can't read past
	// the body.
	File   *os.File
	Offset int64

	key     string
	hash    [32]byte
	bodyCRC uint32
}

// Body returns a reader over the body. Its WriteTo hands the file to the
// destination's ReadFrom bounded by an io.LimitedReader, so io.Copy to a
// *net.TCPConn (or an http.ResponseWriter) uses sendfile(2). Reads of
// several readers of one Entry may run concurrently, except WriteTo, which
// moves File's offset.
func (e *Entry) Body() *BodyReader {
	return &BodyReader{f: e.File, base: e.Offset, size: e.Size}
}

// Close closes the entry's file.
func (e *Entry) Close() error { return e.File.Close() }

// Get opens the entry for key. It returns ErrNotFound, or an error wrapping
// ErrCorrupt when the entry fails its check (its file is removed, so the
// caller refetches). The caller must Close the Entry.
//
// Every Get checks the header checksum, the key and that the file size
// matches the recorded lengths. The body checksum is verified on the first
// Get of an entry found by Open's scan, then trusted for the life of the
// process (entries written by this process are trusted from the start):
// damage to a body after that is not detected until the next restart.
func (s *Store) Get(key string) (*Entry, error) {
	h := sum(key)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	it := s.index[h]
	if it == nil || it.key != key {
		s.mu.Unlock()
		return nil, ErrNotFound
	}
	s.moveFront(it)
	now := s.now()
	touch := now.Sub(it.mtime) > touchEvery
	if touch {
		it.mtime = now
	}
	verified := it.verified
	s.mu.Unlock()

	p := s.path(&h)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.forget(it)
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("disk: get: %w", err)
	}
	e, reason, err := openEntry(f, key, verified)
	if e != nil {
		e.hash = h
	}
	if reason != "" {
		s.dropCorrupt(h, key, p, f, reason)
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, reason)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disk: get: %w", err)
	}
	if !verified {
		// f may be a newer file than it's (replaced meanwhile); the newer one
		// was written by this process and is trusted anyway.
		s.mu.Lock()
		it.verified = true
		s.mu.Unlock()
	}
	if touch {
		// Persist the access time for the LRU order after a restart. If
		// the path was replaced meanwhile, this touches a fresh entry.
		os.Chtimes(p, now, now)
	}
	return e, nil
}

// openEntry checks the entry file f for key and returns the Entry, a reason
// when the file is damaged, or an I/O error.
func openEntry(f *os.File, key string, verified bool) (*Entry, string, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, "", err
	}
	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	l, km, reason, err := readLayout(f, size, *bp)
	if err != nil || reason != "" {
		return nil, reason, err
	}
	if string(km[:l.keyLen]) != key {
		return nil, "file holds another key", nil
	}
	if !verified {
		if reason, err := verifyBody(f, &l); err != nil || reason != "" {
			return nil, reason, err
		}
	}
	e := &Entry{
		Meta:    append(make([]byte, 0, l.metaLen), km[l.keyLen:]...),
		Size:    l.bodyLen,
		File:    f,
		Offset:  l.bodyOff(),
		key:     key,
		bodyCRC: l.bodyCRC,
	}
	return e, "", nil
}

// verifyBody reads the body of f and checks it against the trailer's checksum.
func verifyBody(f *os.File, l *layout) (string, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var crc uint32
	off, end := l.bodyOff(), l.bodyOff()+l.bodyLen
	for off < end {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return "file shrank while verified", nil
		}
		if err != nil {
			return "", err
		}
	}
	if crc != l.bodyCRC {
		return "body checksum mismatch", nil
	}
	return "", nil
}

// BodyReader reads an entry's body and nothing past it. It implements
// io.Reader, io.ReaderAt, io.Seeker (so http.ServeContent can serve ranges
// from it) and io.WriterTo.
type BodyReader struct {
	f          *os.File
	base, size int64
	off        int64
}

var (
	_ io.ReadSeeker = (*BodyReader)(nil)
	_ io.ReaderAt   = (*BodyReader)(nil)
	_ io.WriterTo   = (*BodyReader)(nil)
)

// Size returns the body length.
func (r *BodyReader) Size() int64 { return r.size }

func (r *BodyReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	return n, err
}

// ReadAt reads from the body at off; it returns io.EOF at the body's end.
func (r *BodyReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("disk: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	short := false
	if rem := r.size - off; int64(len(p)) > rem {
		p, short = p[:rem], true
	}
	n, err := r.f.ReadAt(p, r.base+off)
	if errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF // the file was cut after it was checked
	}
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

// Seek sets the offset of the next Read or WriteTo, relative to the body.
func (r *BodyReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("disk: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("disk: negative position")
	}
	r.off = offset
	return offset, nil
}

// WriteTo writes the rest of the body to w. When w is an io.ReaderFrom it
// is given the file itself under an io.LimitedReader, which lets a
// *net.TCPConn use sendfile(2) and an *os.File copy_file_range(2); the
// limit keeps either from reading past the body.
func (r *BodyReader) WriteTo(w io.Writer) (int64, error) {
	rem := r.size - r.off
	if rem <= 0 {
		return 0, nil
	}
	if _, ok := w.(io.ReaderFrom); ok {
		if _, err := r.f.Seek(r.base+r.off, io.SeekStart); err != nil {
			return 0, err
		}
		n, err := io.Copy(w, &io.LimitedReader{R: r.f, N: rem})
		r.off += n
		if err == nil && n < rem {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var written int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if m < n {
				return written, io.ErrShortWrite
			}
		}
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}
