// Package disk is the disk tier of a PoP's cache: entries (an opaque
// metadata blob and a body under a string key) kept as files under a data
// directory, bounded in total bytes, surviving a restart, and checked so that
// a damaged file is never served.
//
// # Layout
//
// The entry for key lives at Dir/ab/cd/<sha256(key) in hex>, where ab and cd
// are the first two pairs of hex digits. The file format is described in
// format.go: a fixed header, the key (to detect hash collisions and to
// rebuild the index), the meta, the body and a trailer with the body length
// and checksum. Dir/LOCK is held (flock) while a Store is open, so two
// processes can't share a directory.
//
// # Life of an entry
//
//  1. Create opens a temp file "<hash>.<random>.tmp" in the entry's shard
//     directory and writes the header, key and meta; Write streams the body
//     (a fetch tees the origin's body here while serving it).
//  2. Commit writes the trailer and renames the temp file over the entry's
//     path. The rename is atomic: a Get sees the old entry or the new one,
//     and a reader of the old entry keeps its open file. Commit does not
//     fsync: a cache may lose its latest writes on power loss, and a file
//     left torn by one fails the checks below and is dropped.
//  3. Get opens the file and checks it: the header checksum, the key, and
//     that the file size equals what the header and trailer say (so a
//     truncated file is caught on every Get). The body checksum is verified
//     on the first Get after the entry was found by Open's scan; an entry
//     written or verified by this process is trusted afterwards, because
//     reading a large body in full on every hit would cost more than the hit.
//     A damaged file is removed, dropped from the index and reported as
//     ErrCorrupt, so the caller refetches.
//  4. UpdateMeta (a 304 refresh) writes a new file with the new header and
//     the body copied by copy_file_range(2), carrying the body checksum
//     over, and renames it over the old one only if the path still holds
//     the file the caller read.
//  5. Eviction: the index keeps every entry in least-recently-accessed
//     order; a Commit that would take Bytes over MaxBytes evicts from the
//     cold end first. A Get refreshes the file's mtime (at most once a
//     minute per entry), so the order survives a restart: Open rebuilds the
//     index from the files, oldest mtime coldest.
//
// # Locking
//
// Two levels, always taken in this order: a stripe lock (one of 256, chosen
// by the first byte of the hash) serialises every rename and unlink of a
// path together with the index change that describes it; mu guards the
// index, the LRU list and the byte count, and is never held across a
// syscall. Removals (Delete, DeleteFunc, eviction) drop the entry from the
// index under mu first and unlink the file afterwards under its stripe, only
// if the index has not gained a new entry for that path in between.
package disk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the store.
var (
	// ErrNotFound: no entry for the key (or it went away meanwhile).
	ErrNotFound = errors.New("disk: entry not found")
	// ErrCorrupt: the entry failed its integrity check; its file was removed.
	ErrCorrupt = errors.New("disk: corrupt entry")
	// ErrTooLarge: the entry would exceed MaxBytes/8, or the key or meta
	// exceed their limits (64 KiB and 1 MiB).
	ErrTooLarge = errors.New("disk: entry too large")
	// ErrSizeMismatch: the body written differs from the declared sizeHint.
	ErrSizeMismatch = errors.New("disk: body length differs from the declared size")
	// ErrDeleted: Delete or DeleteFunc removed the key while its Writer was
	// open; the Writer's entry would be stale and is discarded.
	ErrDeleted = errors.New("disk: entry deleted while being written")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("disk: store closed")
	// ErrLocked: another Store (in this process or another) holds Dir.
	ErrLocked = errors.New("disk: directory in use by another store")
)

// Options configures a Store.
type Options struct {
	// Dir is the data directory; required. It is created if missing.
	Dir string
	// MaxBytes bounds the total size of the entry files (header, key, meta,
	// body and trailer). If zero, it defaults to 10 GiB. An entry larger
	// than MaxBytes/8 is refused with ErrTooLarge.
	MaxBytes int64
	// Logger receives warnings about corrupt entries. If nil, slog.Default().
	Logger *slog.Logger
	// Now is the clock for access times. If nil, time.Now.
	Now func() time.Time
}

const (
	defaultMaxBytes = 10 << 30
	// touchEvery bounds how often a Get rewrites an entry's mtime.
	touchEvery = time.Minute
	stripes    = 256
)

// Store is a disk cache of entries. It is safe for concurrent use.
type Store struct {
	dir      string
	max      int64
	maxEntry int64
	log      *slog.Logger
	now      func() time.Time
	lock     *os.File

	stripes [stripes]sync.Mutex         // by hash[0]; taken before mu
	dirs    [1 << 16 / 64]atomic.Uint64 // shard directories known to exist, one bit each

	mu      sync.Mutex
	index   map[[32]byte]*item
	lru     item // sentinel: lru.next is the most recently used, lru.prev the least
	bytes   int64
	writers map[*Writer]struct{} // open writers, for Delete to mark
	closed  bool
}

// item is the index entry of one file.
type item struct {
	key        string
	hash       [32]byte
	size       int64 // file size
	mtime      time.Time
	verified   bool // body checksum checked (or computed) by this process
	prev, next *item
}

// Open opens the store in opts.Dir. It scans the directory to rebuild the
// index (keys, sizes, last access from the file mtime), removes temp files
// left by a crash and files that fail a header check, then evicts down to
// MaxBytes.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("disk: Options.Dir is required")
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("disk: negative MaxBytes %d", opts.MaxBytes)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:      strings.TrimRight(opts.Dir, string(os.PathSeparator)),
		max:      opts.MaxBytes,
		maxEntry: opts.MaxBytes / 8,
		log:      opts.Logger.With("stage", "cache.disk"),
		now:      opts.Now,
		lock:     lock,
		index:    make(map[[32]byte]*item),
		writers:  make(map[*Writer]struct{}),
	}
	if s.dir == "" {
		s.dir = string(os.PathSeparator)
	}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	if err := s.scan(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// scan rebuilds the index from Dir.
func (s *Store) scan() error {
	var (
		items            []*item
		temps, corrupted int
		buf              = make([]byte, 4096)
	)
	top, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("disk: scan: %w", err)
	}
	for _, d1 := range top {
		if !d1.IsDir() || !isHex(d1.Name(), 2) {
			continue
		}
		p1 := s.dir + string(os.PathSeparator) + d1.Name()
		sub, err := os.ReadDir(p1)
		if err != nil {
			return fmt.Errorf("disk: scan: %w", err)
		}
		for _, d2 := range sub {
			if !d2.IsDir() || !isHex(d2.Name(), 2) {
				continue
			}
			p2 := p1 + string(os.PathSeparator) + d2.Name()
			files, err := os.ReadDir(p2)
			if err != nil {
				return fmt.Errorf("disk: scan: %w", err)
			}
			prefix := d1.Name() + d2.Name()
			if b, err := hex.DecodeString(prefix); err == nil {
				s.markDir(uint16(b[0])<<8 | uint16(b[1]))
			}
			for _, f := range files {
				name := f.Name()
				p := p2 + string(os.PathSeparator) + name
				switch {
				case strings.HasSuffix(name, ".tmp"):
					// A write that never committed (the process died).
					if os.Remove(p) == nil {
						temps++
					}
				case f.Type().IsRegular() && isHex(name, 64) && strings.HasPrefix(name, prefix):
					it, reason, err := scanFile(p, name, buf)
					switch {
					case err != nil:
						return fmt.Errorf("disk: scan: %w", err)
					case reason != "":
						s.log.Warn("corrupt cache entry removed", "path", p, "reason", reason)
						os.Remove(p)
						corrupted++
					default:
						items = append(items, it)
					}
				}
			}
		}
	}
	slices.SortFunc(items, func(a, b *item) int { return a.mtime.Compare(b.mtime) })
	for _, it := range items {
		s.index[it.hash] = it
		s.pushFront(it)
		s.bytes += it.size
	}
	victims := s.evictLocked(nil)
	for _, v := range victims {
		os.Remove(s.path(&v.hash))
	}
	s.log.Info("disk cache opened", "dir", s.dir, "entries", len(s.index), "bytes", s.bytes,
		"evicted", len(victims), "temp_removed", temps, "corrupt_removed", corrupted)
	return nil
}

// scanFile reads the header and trailer of the entry file at p, named name.
// It returns a reason when the file is damaged, an error when it can't be read.
func scanFile(p, name string, buf []byte) (*item, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	l, km, reason, err := readLayout(f, fi.Size(), buf)
	if err != nil || reason != "" {
		return nil, reason, err
	}
	it := &item{key: string(km[:l.keyLen]), size: l.fileSize(), mtime: fi.ModTime()}
	it.hash = sum(it.key)
	if hex.EncodeToString(it.hash[:]) != name {
		return nil, "key does not hash to the file name", nil
	}
	return it, "", nil
}

// readLayout reads and checks the header, key, meta and trailer of an entry
// file of the given size, using buf when the key and meta fit in it. It
// returns the layout and a slice holding key then meta, or a reason when the
// file is damaged, or an I/O error.
func readLayout(f *os.File, size int64, buf []byte) (l layout, km []byte, reason string, err error) {
	if size < headLen+trailerLen {
		return l, nil, "file too short", nil
	}
	n, err := f.ReadAt(buf[:min(int64(len(buf)), size)], 0)
	if err != nil && !(errors.Is(err, io.EOF) && n >= headLen) {
		return l, nil, "", err
	}
	if l, reason = parseHead(buf[:n]); reason != "" {
		return l, nil, reason, nil
	}
	if l.bodyOff()+trailerLen > size {
		return l, nil, "header lengths exceed the file", nil
	}
	head := buf[:n]
	if need := headLen + l.keyLen + l.metaLen; need > n {
		head = make([]byte, need)
		if _, err := f.ReadAt(head, 0); err != nil {
			return l, nil, "", err
		}
	}
	if !l.checkHead(head) {
		return l, nil, "header checksum mismatch", nil
	}
	var tb [trailerLen]byte
	if _, err := f.ReadAt(tb[:], size-trailerLen); err != nil {
		return l, nil, "", err
	}
	if reason = l.parseTrailer(tb[:]); reason != "" {
		return l, nil, reason, nil
	}
	if l.fileSize() != size {
		return l, nil, "file size does not match its lengths", nil
	}
	return l, head[headLen : headLen+l.keyLen+l.metaLen], "", nil
}

// Close closes the store: later calls fail with ErrClosed, and open Writers
// can no longer commit. Entries already returned by Get stay readable.
func (s *Store) Close() error {
	for i := range s.stripes {
		s.stripes[i].Lock()
	}
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	for i := range s.stripes {
		s.stripes[i].Unlock()
	}
	if already {
		return nil
	}
	return s.lock.Close()
}

// Delete removes the entry for key and reports whether there was one. A
// Writer open for key can no longer commit (ErrDeleted).
func (s *Store) Delete(key string) bool {
	h := sum(key)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	for w := range s.writers {
		if w.hash == h && w.key == key {
			w.deleted = true
		}
	}
	it := s.index[h]
	found := it != nil && it.key == key
	if found {
		s.unindex(it)
	}
	s.mu.Unlock()
	if found {
		s.removeFiles([]*item{it})
	}
	return found
}

// DeleteFunc removes every entry whose key matches (an invalidation by
// prefix, say) and returns how many it removed. Writers open for a matching
// key can no longer commit (ErrDeleted). match is called with the store
// locked: it must be quick and must not call the store.
func (s *Store) DeleteFunc(match func(key string) bool) int {
	var victims []*item
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0
	}
	for w := range s.writers {
		if match(w.key) {
			w.deleted = true
		}
	}
	for _, it := range s.index {
		if match(it.key) {
			s.unindex(it)
			victims = append(victims, it)
		}
	}
	s.mu.Unlock()
	s.removeFiles(victims)
	return len(victims)
}

// Len returns the number of entries.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// Bytes returns the total size of the entry files.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// install renames the committed temp file tmp over the path of hash h and
// indexes it, evicting as needed. w is the committing Writer (nil for
// UpdateEntryMeta). When expect is non-nil (UpdateEntryMeta), the path must
// still hold that file and the index an entry for key: otherwise the entry
// was replaced or removed meanwhile and install fails with ErrNotFound.
func (s *Store) install(w *Writer, h [32]byte, key, tmp string, size int64, expect os.FileInfo) error {
	p := s.path(&h)
	st := &s.stripes[h[0]]
	st.Lock()
	err := s.installable(w, h, key, p, expect)
	if err != nil {
		st.Unlock()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		st.Unlock()
		os.Remove(tmp)
		return fmt.Errorf("disk: commit: %w", err)
	}
	s.mu.Lock()
	if err := s.installableLocked(w, h, key, expect); err != nil {
		// Deleted while we renamed: the path now holds our file, which
		// replaced whatever the index still describes.
		if old := s.index[h]; old != nil {
			s.unindex(old)
		}
		s.mu.Unlock()
		os.Remove(p)
		st.Unlock()
		return err
	}
	if old := s.index[h]; old != nil {
		s.unindex(old) // its file was replaced by the rename
	}
	// Written by this process, or copied from an Entry Get had checked.
	it := &item{key: key, hash: h, size: size, mtime: s.now(), verified: true}
	s.index[h] = it
	s.pushFront(it)
	s.bytes += size
	victims := s.evictLocked(it)
	s.mu.Unlock()
	st.Unlock()
	s.removeFiles(victims)
	return nil
}

// installable reports why a file can't be installed at path p of hash h.
// The stripe lock of h is held.
func (s *Store) installable(w *Writer, h [32]byte, key, p string, expect os.FileInfo) error {
	if expect != nil {
		// The index changes with the path under the stripe lock we hold,
		// so if p holds expect's file, an index entry for h describes it.
		fi, err := os.Stat(p)
		if err != nil || !os.SameFile(fi, expect) {
			return ErrNotFound
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installableLocked(w, h, key, expect)
}

// installableLocked is the part of installable checked again after the
// rename: removals take only s.mu. s.mu is held.
func (s *Store) installableLocked(w *Writer, h [32]byte, key string, expect os.FileInfo) error {
	switch {
	case s.closed:
		return ErrClosed
	case w != nil && w.deleted:
		return ErrDeleted
	case expect != nil && (s.index[h] == nil || s.index[h].key != key):
		return ErrNotFound
	}
	return nil
}

// evictLocked drops least recently used entries (never keep) from the index
// until Bytes fits MaxBytes, and returns them for removeFiles. s.mu is held.
func (s *Store) evictLocked(keep *item) []*item {
	var victims []*item
	for s.bytes > s.max {
		v := s.lru.prev
		if v == &s.lru || v == keep {
			break
		}
		s.unindex(v)
		victims = append(victims, v)
	}
	return victims
}

// removeFiles unlinks the files of entries already dropped from the index,
// unless the index has meanwhile gained a new entry at the same path.
func (s *Store) removeFiles(victims []*item) {
	for _, v := range victims {
		st := &s.stripes[v.hash[0]]
		st.Lock()
		s.mu.Lock()
		_, back := s.index[v.hash]
		s.mu.Unlock()
		if !back {
			if err := os.Remove(s.path(&v.hash)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("cannot remove cache file", "key", v.key, "err", err)
			}
		}
		st.Unlock()
	}
}

// forget drops it from the index if it is still there (its file vanished).
func (s *Store) forget(it *item) {
	s.mu.Lock()
	if s.index[it.hash] == it {
		s.unindex(it)
	}
	s.mu.Unlock()
}

// dropCorrupt removes the damaged file f, opened from path p, if p still
// holds it, together with the index entry that describes it.
func (s *Store) dropCorrupt(h [32]byte, key, p string, f *os.File, reason string) {
	st := &s.stripes[h[0]]
	st.Lock()
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(p)
	same := err1 == nil && err2 == nil && os.SameFile(fi, pi)
	if same {
		os.Remove(p)
		s.mu.Lock()
		if it := s.index[h]; it != nil {
			s.unindex(it)
		}
		s.mu.Unlock()
	}
	st.Unlock()
	s.log.Warn("corrupt cache entry removed", "key", key, "path", p, "reason", reason, "removed", same)
}

// unindex removes it from the index and the LRU list. s.mu is held.
func (s *Store) unindex(it *item) {
	delete(s.index, it.hash)
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = nil, nil
	s.bytes -= it.size
}

// pushFront makes it the most recently used entry. s.mu is held.
func (s *Store) pushFront(it *item) {
	it.prev, it.next = &s.lru, s.lru.next
	s.lru.next.prev = it
	s.lru.next = it
}

// moveFront marks it as just used. s.mu is held.
func (s *Store) moveFront(it *item) {
	if s.lru.next == it {
		return
	}
	it.prev.next, it.next.prev = it.next, it.prev
	s.pushFront(it)
}

// path returns the file path of the entry with hash h.
func (s *Store) path(h *[32]byte) string {
	var name [64]byte
	hex.Encode(name[:], h[:])
	var b strings.Builder
	b.Grow(len(s.dir) + 72)
	b.WriteString(s.dir)
	b.WriteByte(os.PathSeparator)
	b.Write(name[0:2])
	b.WriteByte(os.PathSeparator)
	b.Write(name[2:4])
	b.WriteByte(os.PathSeparator)
	b.Write(name[:])
	return b.String()
}

// shardDir returns the directory of the entry with hash h, creating it if
// this process has not seen it yet.
func (s *Store) shardDir(h *[32]byte) (string, error) {
	var name [4]byte
	hex.Encode(name[:], h[:2])
	d := s.dir + string(os.PathSeparator) + string(name[0:2]) + string(os.PathSeparator) + string(name[2:4])
	n := uint16(h[0])<<8 | uint16(h[1])
	if s.dirs[n/64].Load()&(1<<(n%64)) == 0 {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("disk: %w", err)
		}
		s.markDir(n)
	}
	return d, nil
}

func (s *Store) markDir(n uint16) { s.dirs[n/64].Or(1 << (n % 64)) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Keys returns a snapshot of the keys of the committed entries.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.index))
	for _, it := range s.index {
		keys = append(keys, it.key)
	}
	return keys
}
