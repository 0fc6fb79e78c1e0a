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
	if _, err := w.bw.Write(appendHead(make([]byte, 0, bodyOff), key, meta, pad)); err != nil {
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
	err = w.s.install(w, w.hash, w.key, w.tmp, w.bodyOff+w.n+trailerLen, nil)
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

// UpdateMeta replaces the meta of the current entry for key, atomically
// (a new file is renamed over the old one), without reading the body
// through user space; see UpdateEntryMeta. It returns ErrNotFound if there
// is no entry, and Get's errors.
//
// UpdateMeta applies to whatever entry is current. A caller that derived
// meta from an entry it read (merging a 304 into the stored header) should
// call UpdateEntryMeta with that Entry: if a refetch replaced the entry
// meanwhile, UpdateMeta would pair the old entry's header with the new body.
func (s *Store) UpdateMeta(key string, meta []byte) error {
	e, err := s.Get(key)
	if err != nil {
		return err
	}
	defer e.Close()
	return s.UpdateEntryMeta(e, meta)
}

// UpdateEntryMeta replaces the meta of the entry e was opened from (by Get,
// and not yet closed), if it is still the current entry for its key;
// otherwise it returns ErrNotFound and changes nothing. The new file gets
// the new header and a copy of the body made by copy_file_range(2): inside
// the kernel on ext4, by sharing the extents of an aligned body on XFS and
// Btrfs. The body checksum is carried over from e. It moves e.File's
// offset, so e's BodyReader.WriteTo must not run at the same time.
func (s *Store) UpdateEntryMeta(e *Entry, meta []byte) error {
	if len(meta) > maxMetaLen {
		return fmt.Errorf("disk: meta of %d bytes over the limit: %w", len(meta), ErrTooLarge)
	}
	fi, err := e.File.Stat()
	if err != nil {
		return fmt.Errorf("disk: update meta: %w", err)
	}
	pad := padFor(len(e.key), len(meta), e.Size)
	bodyOff := int64(headLen + len(e.key) + len(meta) + pad)
	size := bodyOff + e.Size + trailerLen
	if size > s.maxEntry {
		return ErrTooLarge
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	dst, err := s.createTemp(&e.hash)
	if err != nil {
		return err
	}
	tmp := dst.Name()
	err = func() error {
		defer dst.Close()
		if _, err := dst.Write(appendHead(nil, e.key, meta, pad)); err != nil {
			return err
		}
		if _, err := e.File.Seek(e.Offset, io.SeekStart); err != nil {
			return err
		}
		// (*os.File).ReadFrom of an io.LimitedReader over an *os.File is
		// copy_file_range from both files' offsets (with a fallback).
		n, err := io.Copy(dst, &io.LimitedReader{R: e.File, N: e.Size})
		if err != nil {
			return err
		}
		if n != e.Size {
			return io.ErrUnexpectedEOF
		}
		var tb [trailerLen]byte
		if _, err := dst.Write(appendTrailer(tb[:0], e.Size, e.bodyCRC)); err != nil {
			return err
		}
		return dst.Close()
	}()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("disk: update meta: %w", err)
	}
	return s.install(nil, e.hash, e.key, tmp, size, fi)
}
