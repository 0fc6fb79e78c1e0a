package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

type testStore struct {
	*Store
	opts Options
	logs *testutil.SyncBuffer
}

func openStore(t testing.TB, opts Options) *testStore {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	logs := &testutil.SyncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &testStore{Store: s, opts: opts, logs: logs}
}

// reopen closes the store and opens a new one on the same directory.
func (ts *testStore) reopen(t testing.TB) *testStore {
	t.Helper()
	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	opts := ts.opts
	opts.Logger = nil
	return openStore(t, opts)
}

func put(t testing.TB, s *Store, key string, meta, body []byte, hint int64) {
	t.Helper()
	w, err := s.Create(key, meta, hint)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	defer w.Abort()
	// Write in uneven pieces, as a fetch would.
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%7919)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("Write(%q): %v", key, err)
		}
		rest = rest[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

func get(t testing.TB, s *Store, key string) (meta, body []byte) {
	t.Helper()
	e, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer e.Close()
	body, err = io.ReadAll(e.Body())
	if err != nil {
		t.Fatalf("Get(%q): read body: %v", key, err)
	}
	if int64(len(body)) != e.Size {
		t.Fatalf("Get(%q): read %d bytes, Size %d", key, len(body), e.Size)
	}
	return e.Meta, body
}

func wantEntry(t testing.TB, s *Store, key string, meta, body []byte) {
	t.Helper()
	m, b := get(t, s, key)
	if !bytes.Equal(m, meta) {
		t.Fatalf("Get(%q): meta %q, want %q", key, m, meta)
	}
	if !bytes.Equal(b, body) {
		t.Fatalf("Get(%q): body of %d bytes differs from the %d bytes stored", key, len(b), len(body))
	}
}

func wantErr(t testing.TB, s *Store, key string, want error) {
	t.Helper()
	e, err := s.Get(key)
	if err == nil {
		e.Close()
		t.Fatalf("Get(%q) returned an entry, want %v", key, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("Get(%q): %v, want %v", key, err, want)
	}
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// diskFiles lists the files under dir's shard folders: committed entries
// (path → size) and anything else.
func diskFiles(t testing.TB, dir string) (entries map[string]int64, total int64, others []string) {
	t.Helper()
	entries = map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || p == filepath.Join(dir, "LOCK") {
			return nil
		}
		if isHex(d.Name(), 64) {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			entries[p] = fi.Size()
			total += fi.Size()
		} else {
			others = append(others, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries, total, others
}

// wantDiskMatches checks that the files on disk are exactly the index.
func wantDiskMatches(t testing.TB, s *Store) {
	t.Helper()
	entries, total, others := diskFiles(t, s.dir)
	if len(others) > 0 {
		t.Errorf("stray files on disk: %v", others)
	}
	if len(entries) != s.Len() || total != s.Bytes() {
		t.Errorf("disk has %d files, %d bytes; store says %d entries, %d bytes",
			len(entries), total, s.Len(), s.Bytes())
	}
}

func (s *Store) testPath(key string) string {
	h := sum(key)
	return s.path(&h)
}

func TestRoundTrip(t *testing.T) {
	s := openStore(t, Options{})
	bigMeta := randBytes(7, 100<<10) // larger than the header buffer
	cases := []struct {
		name      string
		meta      []byte
		body      []byte
		hint      bool
		aligned   bool
		emptyMeta bool
	}{
		{name: "empty body", meta: []byte("status=204"), body: nil, hint: true},
		{name: "empty meta", meta: nil, body: []byte("hello")},
		{name: "small", meta: []byte(`{"status":200}`), body: []byte("hello, world\n"), hint: true},
		{name: "large meta", meta: bigMeta, body: randBytes(1, 5000), hint: true},
		{name: "large with size", meta: []byte("m"), body: randBytes(2, 300<<10+17), hint: true, aligned: true},
		{name: "large chunked", meta: []byte("m"), body: randBytes(3, 300<<10+17)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "https://example.com/" + c.name
			hint := int64(-1)
			if c.hint {
				hint = int64(len(c.body))
			}
			put(t, s.Store, key, c.meta, c.body, hint)
			e, err := s.Get(key)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if !bytes.Equal(e.Meta, c.meta) {
				t.Errorf("meta differs")
			}
			if e.Size != int64(len(c.body)) {
				t.Errorf("Size %d, want %d", e.Size, len(c.body))
			}
			got, err := io.ReadAll(e.Body())
			if err != nil || !bytes.Equal(got, c.body) {
				t.Errorf("body differs (%d bytes, err %v)", len(got), err)
			}
			if c.aligned != (e.Offset%blockSize == 0) {
				t.Errorf("Offset %d: aligned %v, want %v", e.Offset, e.Offset%blockSize == 0, c.aligned)
			}
			fi, err := e.File.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if want := e.Offset + e.Size + trailerLen; fi.Size() != want {
				t.Errorf("file size %d, want %d", fi.Size(), want)
			}
		})
	}
	wantDiskMatches(t, s.Store)
	if s.Len() != len(cases) {
		t.Errorf("Len %d, want %d", s.Len(), len(cases))
	}
	wantErr(t, s.Store, "https://example.com/missing", ErrNotFound)
}

func TestManyKeysAcrossShards(t *testing.T) {
	s := openStore(t, Options{})
	const n = 600
	for i := range n {
		key := fmt.Sprintf("/objects/%d", i)
		put(t, s.Store, key, []byte(key), randBytes(uint64(i), i*13%4000), -1)
	}
	if s.Len() != n {
		t.Fatalf("Len %d, want %d", s.Len(), n)
	}
	for i := range n {
		key := fmt.Sprintf("/objects/%d", i)
		wantEntry(t, s.Store, key, []byte(key), randBytes(uint64(i), i*13%4000))
	}
	entries, _, _ := diskFiles(t, s.dir)
	shards := map[string]bool{}
	for p := range entries {
		rel, _ := filepath.Rel(s.dir, p)
		parts := strings.Split(rel, string(os.PathSeparator))
		if len(parts) != 3 || parts[0]+parts[1] != parts[2][:4] {
			t.Fatalf("entry at %s, want ab/cd/abcd…", rel)
		}
		shards[parts[0]+"/"+parts[1]] = true
	}
	if len(shards) < n*9/10 {
		t.Errorf("%d keys landed in only %d shard folders", n, len(shards))
	}
	wantDiskMatches(t, s.Store)
}

func TestReplaceWhileReading(t *testing.T) {
	s := openStore(t, Options{})
	oldBody, newBody := randBytes(1, 1<<20), randBytes(2, 200<<10)
	put(t, s.Store, "k", []byte("old"), oldBody, int64(len(oldBody)))

	old, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	r := old.Body()
	first := make([]byte, 1000)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}

	put(t, s.Store, "k", []byte("new"), newBody, int64(len(newBody)))
	wantEntry(t, s.Store, "k", []byte("new"), newBody)

	// The old reader keeps reading the old (renamed-over) file, in full.
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(first, rest...); !bytes.Equal(got, oldBody) || !bytes.Equal(old.Meta, []byte("old")) {
		t.Fatalf("old reader saw %d bytes differing from the old body", len(got))
	}

	// Same after a Delete.
	e, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !s.Delete("k") {
		t.Fatal("Delete found nothing")
	}
	got, err := io.ReadAll(e.Body())
	if err != nil || !bytes.Equal(got, newBody) {
		t.Fatalf("reader after Delete: %d bytes, err %v", len(got), err)
	}
	wantErr(t, s.Store, "k", ErrNotFound)
	wantDiskMatches(t, s.Store)
}

func TestUpdateMeta(t *testing.T) {
	s := openStore(t, Options{})
	body := randBytes(9, 300<<10+5) // aligned: copy_file_range may share extents
	small := []byte("tiny body")
	put(t, s.Store, "big", []byte("etag=1"), body, int64(len(body)))
	put(t, s.Store, "small", []byte("etag=1"), small, -1)
	before := s.Bytes()

	longer := []byte(strings.Repeat("x-refreshed-header: yes\n", 300)) // pushes the body past a block
	if err := s.UpdateMeta("big", longer); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMeta("small", []byte("e=2")); err != nil {
		t.Fatal(err)
	}
	wantEntry(t, s.Store, "big", longer, body)
	wantEntry(t, s.Store, "small", []byte("e=2"), small)
	if s.Len() != 2 {
		t.Errorf("Len %d, want 2", s.Len())
	}
	wantDiskMatches(t, s.Store)
	if s.Bytes() == before {
		t.Errorf("Bytes unchanged at %d after the meta grew", before)
	}
	e, err := s.Get("big")
	if err != nil {
		t.Fatal(err)
	}
	if e.Offset%blockSize != 0 {
		t.Errorf("body at %d after UpdateMeta, want 4 KiB aligned", e.Offset)
	}
	e.Close()

	if err := s.UpdateMeta("gone", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateMeta of a missing key: %v, want ErrNotFound", err)
	}

	// A revalidation of an entry that a refetch replaced meanwhile must not
	// pair its header with the new body.
	old, err := s.Get("small")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	put(t, s.Store, "small", []byte("e=3"), []byte("refetched"), -1)
	if err := s.UpdateEntryMeta(old, []byte("e=2, revalidated")); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateEntryMeta of a replaced entry: %v, want ErrNotFound", err)
	}
	wantEntry(t, s.Store, "small", []byte("e=3"), []byte("refetched"))
	s.Delete("small")
	if err := s.UpdateEntryMeta(old, []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateEntryMeta of a deleted entry: %v, want ErrNotFound", err)
	}
	put(t, s.Store, "small", []byte("e=2"), small, -1)
	wantDiskMatches(t, s.Store)

	// The carried-over body checksum is right: a restart verifies it.
	s = s.reopen(t)
	wantEntry(t, s.Store, "big", longer, body)
	wantEntry(t, s.Store, "small", []byte("e=2"), small)
}

func TestAbortAndFailedWrites(t *testing.T) {
	s := openStore(t, Options{MaxBytes: 8 << 20})
	noLeftovers := func(t *testing.T, key string) {
		t.Helper()
		wantErr(t, s.Store, key, ErrNotFound)
		wantDiskMatches(t, s.Store)
		if s.Len() != 0 {
			t.Errorf("Len %d, want 0", s.Len())
		}
	}

	t.Run("abort", func(t *testing.T) {
		w, err := s.Create("a", []byte("m"), -1)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(randBytes(1, 100<<10))
		w.Abort()
		w.Abort()
		if err := w.Commit(); err == nil {
			t.Error("Commit after Abort succeeded")
		}
		noLeftovers(t, "a")
	})
	t.Run("short body", func(t *testing.T) {
		w, err := s.Create("b", []byte("m"), 1000)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 999))
		if err := w.Commit(); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("Commit of a short body: %v, want ErrSizeMismatch", err)
		}
		noLeftovers(t, "b")
	})
	t.Run("long body", func(t *testing.T) {
		w, err := s.Create("c", []byte("m"), 10)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 11)); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("Write past the declared size: %v, want ErrSizeMismatch", err)
		}
		if err := w.Commit(); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("Commit: %v, want ErrSizeMismatch", err)
		}
		noLeftovers(t, "c")
	})
	t.Run("too large declared", func(t *testing.T) {
		if _, err := s.Create("d", nil, 2<<20); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Create of MaxBytes/4: %v, want ErrTooLarge", err)
		}
		noLeftovers(t, "d")
	})
	t.Run("too large streamed", func(t *testing.T) {
		w, err := s.Create("e", nil, -1)
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for i := 0; i < 100 && werr == nil; i++ {
			_, werr = w.Write(make([]byte, 64<<10))
		}
		if !errors.Is(werr, ErrTooLarge) {
			t.Errorf("streaming past MaxBytes/8: %v, want ErrTooLarge", werr)
		}
		w.Abort()
		noLeftovers(t, "e")
	})
	t.Run("commit then abort", func(t *testing.T) {
		w, err := s.Create("f", []byte("m"), 3)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abc"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		w.Abort() // no-op
		if err := w.Commit(); err == nil {
			t.Error("second Commit succeeded")
		}
		wantEntry(t, s.Store, "f", []byte("m"), []byte("abc"))
		s.Delete("f")
		noLeftovers(t, "f")
	})
}

// flipByte inverts one byte of the file at p.
func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestCrashRecovery(t *testing.T) {
	s := openStore(t, Options{})
	body := func(k string) []byte { return randBytes(uint64(len(k))*7+uint64(k[0]), 50<<10+int(k[0])) }
	keys := []string{"good", "truncated", "flipped-body", "bad-magic", "bad-meta", "good2"}
	for _, k := range keys {
		put(t, s.Store, k, []byte("meta:"+k), body(k), -1)
	}
	// A write in progress when the process dies leaves its temp file.
	w, err := s.Create("in-flight", []byte("m"), -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randBytes(5, 100<<10))
	w.bw.Flush()
	tmp := w.tmp
	if !exists(tmp) {
		t.Fatalf("temp file %s missing", tmp)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	p := s.testPath
	if err := os.Truncate(p("truncated"), 30<<10); err != nil {
		t.Fatal(err)
	}
	bodyOff := int64(headLen + len("flipped-body") + len("meta:flipped-body"))
	flipByte(t, p("flipped-body"), bodyOff+25<<10)
	flipByte(t, p("bad-magic"), 1)
	flipByte(t, p("bad-meta"), int64(headLen+len("bad-meta")+2))
	// A file whose key does not hash to its name (a copy under a wrong name).
	impostor := p("impostor")
	os.MkdirAll(filepath.Dir(impostor), 0o700)
	data, _ := os.ReadFile(p("good"))
	if err := os.WriteFile(impostor, data, 0o600); err != nil {
		t.Fatal(err)
	}

	s = s.reopen(t)
	if exists(tmp) {
		t.Error("Open left the temp file of an uncommitted write")
	}
	for _, k := range []string{"truncated", "bad-magic", "bad-meta", "impostor"} {
		if exists(p(k)) {
			t.Errorf("Open left the damaged file of %q", k)
		}
		wantErr(t, s.Store, k, ErrNotFound)
	}
	wantErr(t, s.Store, "in-flight", ErrNotFound)
	if s.Len() != 3 {
		t.Errorf("Len %d after Open, want 3 (good, good2, flipped-body)", s.Len())
	}

	// The flipped body passes the cheap scan but fails the first Get.
	wantErr(t, s.Store, "flipped-body", ErrCorrupt)
	if exists(p("flipped-body")) {
		t.Error("Get left the corrupt file on disk")
	}
	wantErr(t, s.Store, "flipped-body", ErrNotFound)
	if !strings.Contains(s.logs.String(), "body checksum mismatch") {
		t.Errorf("no warning logged for the corrupt body; logs:\n%s", s.logs)
	}

	for _, k := range []string{"good", "good2"} {
		wantEntry(t, s.Store, k, []byte("meta:"+k), body(k))
	}
	wantDiskMatches(t, s.Store)
}

func TestCorruptionWhileRunning(t *testing.T) {
	s := openStore(t, Options{})
	b := randBytes(1, 64<<10)
	for _, k := range []string{"cut", "cut-trailer", "header", "zeroed", "vanished"} {
		put(t, s.Store, k, []byte("m"), b, -1)
		get(t, s.Store, k) // verified and trusted from here on
	}
	p := s.testPath
	fi, _ := os.Stat(p("cut"))
	os.Truncate(p("cut"), fi.Size()/2)
	os.Truncate(p("cut-trailer"), fi.Size()-1)
	flipByte(t, p("header"), 9)
	os.Truncate(p("zeroed"), 0)
	os.Remove(p("vanished"))

	for _, k := range []string{"cut", "cut-trailer", "header", "zeroed"} {
		wantErr(t, s.Store, k, ErrCorrupt)
		if exists(p(k)) {
			t.Errorf("%s: corrupt file not removed", k)
		}
		wantErr(t, s.Store, k, ErrNotFound)
	}
	wantErr(t, s.Store, "vanished", ErrNotFound)
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("Len %d, Bytes %d after every entry broke, want 0, 0", s.Len(), s.Bytes())
	}
	if err := s.UpdateMeta("cut", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateMeta of a removed entry: %v", err)
	}
}

func TestRestart(t *testing.T) {
	s := openStore(t, Options{})
	want := map[string][]byte{}
	for i := range 60 {
		key := fmt.Sprintf("https://cdn.example/%d?v=%d", i, i*i)
		b := randBytes(uint64(i), i*i*97)
		hint := int64(len(b))
		if i%3 == 0 {
			hint = -1
		}
		put(t, s.Store, key, []byte(key+"/meta"), b, hint)
		want[key] = b
	}
	s.Delete("https://cdn.example/7?v=49")
	delete(want, "https://cdn.example/7?v=49")
	w, _ := s.Create("aborted", []byte("m"), -1)
	w.Write([]byte("partial"))
	w.Abort()
	w2, _ := s.Create("half-written", []byte("m"), -1)
	w2.Write(randBytes(1, 1<<20))
	w2.bw.Flush()

	if _, err := Open(Options{Dir: s.opts.Dir}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open of a directory in use: %v, want ErrLocked", err)
	}
	n, bytes := s.Len(), s.Bytes()
	s = s.reopen(t)
	if s.Len() != n || s.Bytes() != bytes {
		t.Errorf("after restart: %d entries, %d bytes; want %d, %d", s.Len(), s.Bytes(), n, bytes)
	}
	for k, b := range want {
		wantEntry(t, s.Store, k, []byte(k+"/meta"), b)
	}
	wantErr(t, s.Store, "aborted", ErrNotFound)
	wantErr(t, s.Store, "half-written", ErrNotFound)
	if err := w2.Commit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit to a closed store: %v, want ErrClosed", err)
	}
	wantDiskMatches(t, s.Store)
}

func TestRestartKeepsAccessOrder(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s := openStore(t, Options{Now: clock})
	b := randBytes(1, 10<<10)
	for _, k := range []string{"a", "b", "c"} {
		put(t, s.Store, k, nil, b, -1)
	}
	size := s.Bytes() / 3
	// b is the oldest, c older than a, whose Get records the latest access.
	os.Chtimes(s.testPath("b"), now.Add(-3*time.Hour), now.Add(-3*time.Hour))
	os.Chtimes(s.testPath("c"), now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	os.Chtimes(s.testPath("a"), now.Add(-4*time.Hour), now.Add(-4*time.Hour))
	now = now.Add(time.Hour)
	get(t, s.Store, "a")

	s.Close()
	s = openStore(t, Options{Dir: s.opts.Dir, MaxBytes: 2*size + size/2, Now: clock})
	if s.Len() != 2 {
		t.Fatalf("Len %d after reopening with room for 2", s.Len())
	}
	wantErr(t, s.Store, "b", ErrNotFound)
	get(t, s.Store, "a")
	get(t, s.Store, "c")
	wantDiskMatches(t, s.Store)
}

func TestEvictionBound(t *testing.T) {
	const max = 1 << 20
	s := openStore(t, Options{MaxBytes: max})
	r := rand.New(rand.NewPCG(1, 2))
	var written int64
	for i := 0; written < 10*max; i++ {
		n := r.IntN(max/8 - 200)
		put(t, s.Store, fmt.Sprint("k", i), []byte("meta"), make([]byte, n), int64(n))
		written += int64(n)
		if s.Bytes() > max {
			t.Fatalf("Bytes %d > MaxBytes %d after commit %d", s.Bytes(), max, i)
		}
	}
	if s.Bytes() < max/2 {
		t.Errorf("Bytes %d: eviction removed far more than needed", s.Bytes())
	}
	wantDiskMatches(t, s.Store)
}

func TestEvictionPrefersRecent(t *testing.T) {
	body := make([]byte, 1000)
	probe := openStore(t, Options{})
	put(t, probe.Store, "a00", nil, body, -1)
	size := probe.Bytes() // every key below has the same length

	s := openStore(t, Options{MaxBytes: 50*size + size/2}) // room for 50
	for i := range 40 {
		put(t, s.Store, fmt.Sprintf("a%02d", i), nil, body, -1)
	}
	for i := range 10 {
		get(t, s.Store, fmt.Sprintf("a%02d", i)) // the oldest ten become the most recent
	}
	for i := range 20 {
		put(t, s.Store, fmt.Sprintf("b%02d", i), nil, body, -1) // 60 > 50: ten must go
	}
	for i := range 40 {
		key := fmt.Sprintf("a%02d", i)
		_, err := s.Get(key)
		evicted := errors.Is(err, ErrNotFound)
		if wantEvicted := i >= 10 && i < 20; evicted != wantEvicted {
			t.Errorf("%s: evicted %v, want %v", key, evicted, wantEvicted)
		}
	}
	if s.Len() != 50 {
		t.Errorf("Len %d, want 50", s.Len())
	}
	wantDiskMatches(t, s.Store)
}

func TestDeleteFunc(t *testing.T) {
	s := openStore(t, Options{})
	for _, k := range []string{"/img/a.png", "/img/b.png", "/img/c/d.png", "/css/x.css", "/imgx"} {
		put(t, s.Store, k, nil, []byte(k), -1)
	}
	// A fetch of an invalidated key in flight must not bring it back.
	stale, err := s.Create("/img/e.png", nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	stale.Write([]byte("old version"))

	n := s.DeleteFunc(func(k string) bool { return strings.HasPrefix(k, "/img/") })
	if n != 3 {
		t.Errorf("DeleteFunc removed %d, want 3", n)
	}
	if err := stale.Commit(); !errors.Is(err, ErrDeleted) {
		t.Errorf("Commit of a writer invalidated meanwhile: %v, want ErrDeleted", err)
	}
	for _, k := range []string{"/img/a.png", "/img/b.png", "/img/c/d.png", "/img/e.png"} {
		wantErr(t, s.Store, k, ErrNotFound)
		if exists(s.testPath(k)) {
			t.Errorf("%s: file left after DeleteFunc", k)
		}
	}
	for _, k := range []string{"/css/x.css", "/imgx"} {
		wantEntry(t, s.Store, k, nil, []byte(k))
	}
	// A fetch started after the invalidation stores normally.
	put(t, s.Store, "/img/a.png", nil, []byte("new"), -1)
	wantEntry(t, s.Store, "/img/a.png", nil, []byte("new"))

	if !s.Delete("/css/x.css") || s.Delete("/css/x.css") {
		t.Error("Delete should report true, then false")
	}
	wantDiskMatches(t, s.Store)
}

// TestConcurrent runs writers, readers, meta updates, deletes and eviction
// on a few hot keys at once. Every reader checks that the body it reads is
// the one its meta describes (same file), and in full.
func TestConcurrent(t *testing.T) {
	s := openStore(t, Options{MaxBytes: 4 << 20})
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("/hot/%d", i)
	}
	bodyFor := func(key string, v uint64) []byte {
		return randBytes(v, int(v%(300<<10)))
	}
	metaFor := func(key string, v uint64, upd int) []byte {
		return fmt.Appendf(nil, "%s %d %d", key, v, upd)
	}
	var (
		wg    sync.WaitGroup
		fails = make(chan string, 100)
		stop  = time.Now().Add(1500 * time.Millisecond)
	)
	fail := func(format string, args ...any) {
		select {
		case fails <- fmt.Sprintf(format, args...):
		default:
		}
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for i := 0; time.Now().Before(stop); i++ {
				key := keys[r.IntN(len(keys))]
				switch op := r.IntN(20); {
				case op < 5:
					v := r.Uint64()
					b := bodyFor(key, v)
					w, err := s.Create(key, metaFor(key, v, 0), int64(len(b)))
					if err != nil {
						fail("Create: %v", err)
						return
					}
					w.Write(b[:len(b)/2])
					w.Write(b[len(b)/2:])
					if err := w.Commit(); err != nil && !errors.Is(err, ErrDeleted) {
						fail("Commit: %v", err)
					}
				case op < 6:
					w, err := s.Create(key, nil, -1)
					if err == nil {
						w.Write([]byte("abandoned"))
						w.Abort()
					}
				case op < 8:
					var k string
					var v uint64
					var upd int
					e, err := s.Get(key)
					if err != nil {
						continue
					}
					fmt.Sscanf(string(e.Meta), "%s %d %d", &k, &v, &upd)
					err = s.UpdateEntryMeta(e, metaFor(key, v, upd+1))
					e.Close()
					if err != nil && !errors.Is(err, ErrNotFound) {
						fail("UpdateMeta: %v", err)
					}
				case op < 9:
					s.Delete(key)
				case op < 10 && i%50 == 0:
					s.DeleteFunc(func(k string) bool { return k == key })
				default:
					e, err := s.Get(key)
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						fail("Get: %v", err)
						continue
					}
					var k string
					var v uint64
					var upd int
					if _, err := fmt.Sscanf(string(e.Meta), "%s %d %d", &k, &v, &upd); err != nil || k != key {
						fail("Get(%s): meta %q", key, e.Meta)
					}
					got, err := io.ReadAll(e.Body())
					if err != nil || !bytes.Equal(got, bodyFor(key, v)) {
						fail("Get(%s): body of %d bytes does not match meta %q (err %v)", key, len(got), e.Meta, err)
					}
					e.Close()
				}
				if b := s.Bytes(); b > 4<<20 {
					fail("Bytes %d over MaxBytes", b)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("concurrent workers hung")
	}
	close(fails)
	for f := range fails {
		t.Error(f)
	}
	wantDiskMatches(t, s.Store)
	s = s.reopen(t) // and the survivors verify after a restart
	for _, key := range keys {
		e, err := s.Get(key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Get(%s) after restart: %v", key, err)
		}
		e.Close()
	}
}

func TestBodyReaderBounds(t *testing.T) {
	s := openStore(t, Options{})
	body := []byte("0123456789")
	put(t, s.Store, "k", []byte("meta"), body, -1)
	e, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := e.Body()

	p := make([]byte, 100)
	if n, err := r.ReadAt(p, 4); n != 6 || err != io.EOF || string(p[:n]) != "456789" {
		t.Errorf("ReadAt(4) = %d, %v, %q", n, err, p[:n])
	}
	if n, err := r.ReadAt(p, 10); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(10) = %d, %v: read past the body", n, err)
	}
	r.Seek(100, io.SeekStart)
	if n, err := r.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read after seeking past the end = %d, %v", n, err)
	}

	// WriteTo through a ReaderFrom (bytes.Buffer) and through a plain Writer.
	var rf bytes.Buffer
	r.Seek(3, io.SeekStart)
	if n, err := r.WriteTo(&rf); n != 7 || err != nil || rf.String() != "3456789" {
		t.Errorf("WriteTo(ReaderFrom) = %d, %v, %q", n, err, rf.String())
	}
	var plain strings.Builder
	r.Seek(-2, io.SeekEnd)
	if n, err := r.WriteTo(struct{ io.Writer }{&plain}); n != 2 || err != nil || plain.String() != "89" {
		t.Errorf("WriteTo(Writer) = %d, %v, %q", n, err, plain.String())
	}
	if n, err := r.WriteTo(&rf); n != 0 || err != nil {
		t.Errorf("WriteTo at the end = %d, %v", n, err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(Options{Dir: t.TempDir(), MaxBytes: -1}); err == nil {
		t.Error("Open with negative MaxBytes succeeded")
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openStore(t, Options{Dir: dir})
	if s.max != defaultMaxBytes || s.maxEntry != defaultMaxBytes/8 {
		t.Errorf("MaxBytes default %d/%d", s.max, s.maxEntry)
	}
	if !exists(dir) {
		t.Error("Dir not created")
	}
	s.Close()
	if _, err := s.Get("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if _, err := s.Create("x", nil, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
