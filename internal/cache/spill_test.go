package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// spillFDs counts this process's open descriptors on spill files in dir
// (an unlinked file reads "dir/name (deleted)").
func spillFDs(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir+string(os.PathSeparator)+"strata-spill-") {
			n++
		}
	}
	return n
}

func dirEntries(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting until", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func randBody(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(b)
	return b
}

// tcpPeer is a loopback connection whose peer collects what it receives:
// a writer with ReadFrom (sendfile from a spill file).
func tcpPeer(t *testing.T) (*net.TCPConn, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn), got
}

// gatedWriter blocks its first Write until open is closed: a viewer that
// reads nothing for a while, then everything.
type gatedWriter struct {
	open <-chan struct{}
	buf  bytes.Buffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.buf.Write(p)
}

// plainWriter has Write only (no ReadFrom): the file part is read with pread.
type plainWriter struct{ buf bytes.Buffer }

func (w *plainWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

// A spilled body is followed by readers at different paces and from
// different offsets, some joining mid-way or after the end, over a plain
// writer (pread) and a TCP connection (sendfile); its file is unlinked from
// the start and closed by closeSpill.
func TestSpilledBodyFollowers(t *testing.T) {
	dir := t.TempDir()
	const memory = 1000
	want := randBody(300<<10 + 17)
	half := len(want) / 2
	b := NewBody()
	b.SpillAfter(memory, dir)

	type result struct {
		name string
		off  int64
		out  []byte
		err  error
	}
	results := make(chan result, 20)
	var wg sync.WaitGroup
	read := func(name string, w io.Writer, off int64, out func() []byte) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.WriteTo(context.Background(), w, off)
			results <- result{name, off, out(), err}
		}()
	}
	finished := make(chan struct{})
	// bytes.Buffer has ReadFrom: it gets a descriptor of its own, as a
	// connection would; the others read with pread.
	var fast, fromMem, fromFile plainWriter
	var own bytes.Buffer
	slow := &gatedWriter{open: finished}
	read("fast", &fast, 0, fast.buf.Bytes)
	read("own descriptor", &own, 0, own.Bytes)
	read("slow", slow, 0, slow.buf.Bytes)
	read("offset in memory", &fromMem, 500, fromMem.buf.Bytes)
	read("offset in file", &fromFile, 150000, fromFile.buf.Bytes)
	conn, peer := tcpPeer(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := b.WriteTo(context.Background(), conn, 0)
		conn.CloseWrite()
		results <- result{"tcp", 0, <-peer, err}
	}()

	// Uneven writes, one of them across the memory prefix's end.
	r := rand.New(rand.NewPCG(1, 2))
	write := func(to int) {
		for w := int(b.Size()); w < to; {
			n := min(1+r.IntN(40000), to-w)
			if _, err := b.Write(want[w : w+n]); err != nil {
				t.Fatal(err)
			}
			w += n
		}
	}
	b.Write(want[:700])
	b.Write(want[700:1300]) // across the prefix's end
	write(half)
	if !b.Spilled() {
		t.Fatal("not spilled after the memory prefix")
	}
	if n := dirEntries(t, dir); n != 0 {
		t.Fatalf("%d files in the spill directory: the spill file must be unlinked from the start", n)
	}
	if n := spillFDs(t, dir); n < 1 {
		t.Fatal("no descriptor on the spill directory: nothing spilled") // the body's, and the followers' own
	}
	var mid plainWriter
	var tcpMid bytes.Buffer
	read("mid-way", &mid, 0, mid.buf.Bytes)
	conn2, peer2 := tcpPeer(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := b.WriteTo(context.Background(), conn2, 160000) // in the file, not yet written
		conn2.CloseWrite()
		tcpMid.Write(<-peer2)
		results <- result{"tcp mid-way from 160000", 160000, tcpMid.Bytes(), err}
	}()
	write(len(want))
	b.Finish(nil)
	close(finished)
	var late plainWriter
	read("late", &late, 0, late.buf.Bytes)
	wg.Wait()
	close(results)
	n := 0
	for res := range results {
		n++
		if res.err != nil {
			t.Errorf("%s: %v", res.name, res.err)
		}
		if !bytes.Equal(res.out, want[res.off:]) {
			t.Errorf("%s: got %d bytes differing from body[%d:] (%d bytes)", res.name, len(res.out), res.off, len(want)-int(res.off))
		}
	}
	if n != 9 {
		t.Fatalf("%d readers reported", n)
	}
	if !b.Complete() || b.Size() != int64(len(want)) || !bytes.Equal(b.Bytes(), want) {
		t.Fatal("Bytes differs")
	}
	// Ranges through Reader (http.ServeContent), across the prefix's end.
	rd := b.Reader()
	for _, rg := range [][2]int{{0, 10}, {990, 1020}, {1000, 1001}, {5000, 70000}, {len(want) - 3, len(want)}} {
		rd.Seek(int64(rg[0]), io.SeekStart)
		got := make([]byte, rg[1]-rg[0])
		if _, err := io.ReadFull(rd, got); err != nil || !bytes.Equal(got, want[rg[0]:rg[1]]) {
			t.Fatalf("Reader range %v: %v", rg, err)
		}
	}
	if end, _ := rd.Seek(0, io.SeekEnd); end != int64(len(want)) {
		t.Fatalf("Reader size %d", end)
	}
	if n, err := rd.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d %v", n, err)
	}
	// The readers' own descriptors are closed; the body's goes with closeSpill.
	if n := spillFDs(t, dir); n != 1 {
		t.Fatalf("%d descriptors on the spill directory after the readers, want 1", n)
	}
	b.closeSpill()
	if n := spillFDs(t, dir); n != 0 {
		t.Fatalf("%d descriptors on the spill directory after closeSpill", n)
	}
	// The memory prefix stays readable; the file part fails, never short.
	var after bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &after, 0); !errors.Is(err, errSpillClosed) || !bytes.Equal(after.Bytes(), want[:memory]) {
		t.Fatalf("read after closeSpill: %v, %d bytes", err, after.Len())
	}
}

// A fetch that fails mid-body: every reader of a spilled body, waiting or
// late, gets the bytes that came and ErrIncomplete, never a short body
// presented as complete.
func TestSpilledBodyFailedFetch(t *testing.T) {
	dir := t.TempDir()
	want := randBody(200 << 10)
	b := NewBody()
	b.SpillAfter(0, dir)
	var waiting bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		_, err := b.WriteTo(context.Background(), &waiting, 0)
		errc <- err
	}()
	conn, peer := tcpPeer(t)
	tcpErr := make(chan error, 1)
	go func() {
		_, err := b.WriteTo(context.Background(), conn, 0)
		conn.CloseWrite()
		tcpErr <- err
	}()
	b.Write(want[:100<<10])
	b.Finish(errors.New("connection reset"))
	if err := <-errc; !errors.Is(err, ErrIncomplete) || !bytes.Equal(waiting.Bytes(), want[:100<<10]) {
		t.Fatalf("waiting reader: %v, %d bytes", err, waiting.Len())
	}
	if err := <-tcpErr; !errors.Is(err, ErrIncomplete) {
		t.Fatalf("tcp reader: %v", err)
	}
	if got := <-peer; !bytes.Equal(got, want[:100<<10]) {
		t.Fatalf("tcp peer got %d bytes", len(got))
	}
	var late bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &late, 0); !errors.Is(err, ErrIncomplete) || late.Len() != 100<<10 {
		t.Fatalf("late reader: %v, %d bytes", err, late.Len())
	}
	if b.Complete() {
		t.Fatal("failed body reported complete")
	}
	if _, err := b.Write([]byte("more")); err == nil {
		t.Fatal("write to a failed body accepted")
	}
}

// Without a usable directory, the body stays in memory and says why.
func TestSpillFallsBackToMemory(t *testing.T) {
	b := NewBody()
	b.SpillAfter(10, filepath.Join(t.TempDir(), "missing"))
	want := randBody(50 << 10)
	b.Write(want[:5])
	b.Write(want[5:])
	b.Finish(nil)
	if b.SpillErr() == nil || b.Spilled() {
		t.Fatalf("SpillErr %v, Spilled %v", b.SpillErr(), b.Spilled())
	}
	var out bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &out, 0); err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("%v, %d bytes", err, out.Len())
	}
}

// A body that does not reach its spill point never makes a file.
func TestSpillAfterNotReached(t *testing.T) {
	dir := t.TempDir()
	b := NewBody()
	b.SpillAfter(1000, dir)
	b.Write(randBody(1000))
	b.Finish(nil)
	if b.Spilled() || len(b.chunks) == 0 || spillFDs(t, dir) != 0 {
		t.Fatal("a body within its memory prefix spilled")
	}
}

// The flight closes its body's spill file when the last request using it
// is done and the fetch has ended: not before, though the body is
// complete, and without waiting for the garbage collector.
func TestFlightDoneClosesSpill(t *testing.T) {
	dir := t.TempDir()
	want := randBody(100 << 10)
	var g Group[int]
	write := make(chan struct{})
	start := func(publish func(Result[int]), _ func()) {
		b := NewBody()
		b.SpillAfter(0, dir)
		publish(Result[int]{Value: 200, Body: b, Object: &Object{}})
		<-write
		b.Write(want)
		b.Finish(nil)
	}
	f1, leader := g.Join("k", start)
	f2, _ := g.Join("k", start)
	if !leader || f1 != f2 {
		t.Fatal("not collapsed")
	}
	f1.Wait(context.Background())
	close(write)
	f1.Body.Wait(context.Background())
	f1.Done()
	// The fetch has ended (the key is free again), f2 still reads.
	poll(t, "the flight ends", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.m["k"] == nil
	})
	if n := spillFDs(t, dir); n != 1 {
		t.Fatalf("%d spill descriptors while a request still uses the flight", n)
	}
	var out bytes.Buffer
	if _, err := f2.Body.WriteTo(context.Background(), &out, 0); err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("last reader: %v, %d bytes", err, out.Len())
	}
	f2.Done()
	if n := spillFDs(t, dir); n != 0 {
		t.Fatalf("%d spill descriptors after every request is done", n)
	}
}

// A spilled body nobody closes closes its file when it is garbage.
func TestSpillClosedWhenGarbage(t *testing.T) {
	dir := t.TempDir()
	func() {
		b := NewBody()
		b.SpillAfter(0, dir)
		b.Write(randBody(10 << 10))
		b.Finish(nil)
	}()
	if n := spillFDs(t, dir); n != 1 {
		t.Fatalf("%d spill descriptors", n)
	}
	poll(t, "the cleanup closes the file", func() bool {
		runtime.GC()
		return spillFDs(t, dir) == 0
	})
}
