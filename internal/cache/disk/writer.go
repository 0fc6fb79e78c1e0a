package disk

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"sync"
)

var errFinished = errors.New("disk: writer already committed or aborted")

var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// Writer writes a new entry; see Store.Create. A Writer is not safe for
// concurrent use.
type Writer struct {
	s       *Store
	key     string
	hash    [32]byte
	tmp     string
	f       *os.File
	bw      *bufio.Writer
	hint    int64
	bodyOff int64
	n       int64 // body bytes written
	crc     uint32
	err     error // sticky: the writer failed and its temp file is gone
	done    bool
	deleted bool // set under s.mu by Delete/DeleteFunc
}

// Create starts writing a new entry for key with the given meta. sizeHint
// is the body length if known, or negative: when it is known, a body of any
// other length is refused (ErrSizeMismatch) and a body of 128 KiB or more
// is aligned to 4 KiB in the file. Create fails with ErrTooLarge when the
// entry can't fit in MaxBytes/8.
//
// The body is streamed by Write calls into a temp file in the entry's shard
// directory. Nothing is visible to Get until Commit, which replaces any old
// entry atomically. Abort, or a failed Write or Commit, removes the temp
// file. Callers should `defer w.Abort()`: it is a no-op after Commit.
func (s *Store) Create(key string, meta []byte, sizeHint int64) (*Writer, error) {
	if len(key) > maxKeyLen || len(meta) > maxMetaLen {
		return nil, fmt.Errorf("disk: key of %d bytes or meta of %d bytes over the limit: %w",
			len(key), len(meta), ErrTooLarge)
	}
	pad := padFor(len(key), len(meta), sizeHint)
	bodyOff := int64(headLen + len(key) + len(meta) + pad)
	if bodyOff+max(sizeHint, 0)+trailerLen > s.maxEntry {
		return nil, ErrTooLarge
	}
	h := sum(key)
	w := &Writer{s: s, key: key, hash: h, hint: sizeHint, bodyOff: bodyOff}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.writers[w] = struct{}{}
	s.mu.Unlock()

	f, err := s.createTemp(&h)
	if err != nil {
		w.unregister()
		return nil, err
	}
	w.f, w.tmp = f, f.Name()
	w.bw = bufPool.Get().(*bufio.Writer)
	w.bw.Reset(f)
	hb := headPool.Get().(*[]byte)
	*hb = appendHead((*hb)[:0], key, meta, pad)
	_, err = w.bw.Write(*hb)
	headPool.Put(hb)
	if err != nil {
		w.fail(fmt.Errorf("disk: create: %w", err))
		return nil, w.err
	}
	return w, nil
}

// createTemp creates a temp file in the shard directory of hash h.
func (s *Store) createTemp(h *[32]byte) (*os.File, error) {
	dir, err := s.shardDir(h)
	if err != nil {
		return nil, err
	}
	pattern := hex.EncodeToString(h[:]) + ".*.tmp"
	f, err := os.CreateTemp(dir, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		// The shard directory was removed behind our back.
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, pattern)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("disk: create: %w", err)
	}
	return f, nil
}

// Write appends p to the body. After an error the Writer is dead: its temp
// file is removed and Commit returns the same error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errFinished
	}
	if w.hint >= 0 && w.n+int64(len(p)) > w.hint {
		w.fail(fmt.Errorf("%w: more than %d bytes", ErrSizeMismatch, w.hint))
		return 0, w.err
	}
	if w.bodyOff+w.n+int64(len(p))+trailerLen > w.s.maxEntry {
		w.fail(ErrTooLarge)
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.n += int64(n)
	if err != nil {
		w.fail(fmt.Errorf("disk: write: %w", err))
		return n, w.err
	}
	return n, nil
}

// Commit completes the entry and makes it visible, replacing any entry for
// the key, and evicts older entries so that Bytes stays within MaxBytes.
// It fails (and discards the body) when the Writer failed, when fewer bytes
// were written than sizeHint declared (ErrSizeMismatch), or when Delete
// removed the key meanwhile (ErrDeleted). The file is not fsynced.
func (w *Writer) Commit() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errFinished
	}
	if w.hint >= 0 && w.n != w.hint {
		w.fail(fmt.Errorf("%w: %d of %d bytes", ErrSizeMismatch, w.n, w.hint))
		return w.err
	}
	var tb [trailerLen]byte
	w.bw.Write(appendTrailer(tb[:0], w.n, w.crc))
	err := w.bw.Flush()
	w.releaseBuf()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		w.fail(fmt.Errorf("disk: commit: %w", err))
		return w.err
	}
	w.done = true
	err = w.s.install(w, w.hash, w.key, w.tmp, w.bodyOff+w.n+trailerLen, true, nil)
	w.unregister()
	if err != nil {
		w.err = err
	}
	return err
}

// Abort discards the entry. It is a no-op after Commit.
func (w *Writer) Abort() {
	if w.done || w.err != nil {
		return
	}
	w.fail(errFinished)
}

// fail makes err the Writer's sticky error and removes its temp file.
func (w *Writer) fail(err error) {
	w.err = err
	w.done = true
	w.releaseBuf()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.tmp != "" {
		os.Remove(w.tmp)
	}
	w.unregister()
}

func (w *Writer) releaseBuf() {
	if w.bw != nil {
		w.bw.Reset(nil)
		bufPool.Put(w.bw)
		w.bw = nil
	}
}

func (w *Writer) unregister() {
	w.s.mu.Lock()
	delete(w.s.writers, w)
	w.s.mu.Unlock()
}

// UpdateMeta replaces the meta of the entry for key (after a 304
// revalidation), atomically: a new file with the new header is renamed over
// the old one. The body is not read: its checksum is carried over from the
// trailer and its bytes are copied with copy_file_range(2), which copies
// inside the kernel (ext4) or shares the extents of an aligned body (XFS,
// Btrfs). It returns ErrNotFound if the entry is gone, or was replaced or
// deleted while the update ran (the update is then stale and dropped).
func (s *Store) UpdateMeta(key string, meta []byte) error {
	if len(key) > maxKeyLen || len(meta) > maxMetaLen {
		return fmt.Errorf("disk: meta of %d bytes over the limit: %w", len(meta), ErrTooLarge)
	}
	h := sum(key)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	it := s.index[h]
	if it == nil || it.key != key {
		s.mu.Unlock()
		return ErrNotFound
	}
	verified := it.verified
	s.mu.Unlock()

	p := s.path(&h)
	src, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.forget(it)
			return ErrNotFound
		}
		return fmt.Errorf("disk: update meta: %w", err)
	}
	defer src.Close()
	size, err := src.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("disk: update meta: %w", err)
	}
	bp := headPool.Get().(*[]byte)
	l, km, reason, err := readLayout(src, size, *bp)
	if err == nil && reason == "" && string(km[:l.keyLen]) != key {
		reason = "file holds another key"
	}
	headPool.Put(bp)
	if reason != "" {
		s.dropCorrupt(h, key, p, src, reason)
		return fmt.Errorf("%w: %s", ErrCorrupt, reason)
	}
	if err != nil {
		return fmt.Errorf("disk: update meta: %w", err)
	}

	pad := padFor(len(key), len(meta), l.bodyLen)
	bodyOff := int64(headLen + len(key) + len(meta) + pad)
	newSize := bodyOff + l.bodyLen + trailerLen
	if newSize > s.maxEntry {
		return ErrTooLarge
	}
	dst, err := s.createTemp(&h)
	if err != nil {
		return err
	}
	tmp := dst.Name()
	err = func() error {
		defer dst.Close()
		if _, err := dst.Write(appendHead(nil, key, meta, pad)); err != nil {
			return err
		}
		if _, err := src.Seek(l.bodyOff(), io.SeekStart); err != nil {
			return err
		}
		// *os.File.ReadFrom of an io.LimitedReader over an *os.File:
		// copy_file_range from both files' offsets.
		n, err := io.Copy(dst, &io.LimitedReader{R: src, N: l.bodyLen})
		if err != nil {
			return err
		}
		if n != l.bodyLen {
			return io.ErrUnexpectedEOF
		}
		var tb [trailerLen]byte
		if _, err := dst.Write(appendTrailer(tb[:0], l.bodyLen, l.bodyCRC)); err != nil {
			return err
		}
		return dst.Close()
	}()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("disk: update meta: %w", err)
	}
	return s.install(nil, h, key, tmp, newSize, verified, it)
}
