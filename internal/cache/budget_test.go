package cache

import (
	"bytes"
	"context"
	"testing"
)

// readAll reads a finished body from the start.
func readAll(t *testing.T, b *Body) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &out, 0); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Bodies being written hold memory only while the budget grants it: a body
// of declared length that does not fit spills from its first byte, one of
// unknown length spills from the point the budget ran out; every byte
// reads back either way, and finishing gives the memory back.
func TestBudgetSpillsWhatDoesNotFit(t *testing.T) {
	dir := t.TempDir()
	bud := NewBudget(1 << 20)
	data := randBody(700 << 10)

	// First body: declared length, fits.
	a := NewBody()
	a.LimitMemory(bud, dir)
	a.Grow(int64(len(data)))
	if got := bud.InUse(); got != int64(len(data)) {
		t.Fatalf("in use after Grow = %d, want %d", got, len(data))
	}
	if !a.HeldInMemory(int64(len(data))) {
		t.Fatal("a body that fits the budget is not held in memory")
	}

	// Second body, declared length, while the first is in flight: no room.
	b := NewBody()
	b.LimitMemory(bud, dir)
	b.Grow(int64(len(data)))
	if b.HeldInMemory(1) {
		t.Fatal("a body over budget is to be held in memory")
	}
	if got := bud.InUse(); got != int64(len(data)) {
		t.Fatalf("in use = %d, want only the first body's %d", got, len(data))
	}

	// Third body, unknown length: memory until the budget runs out.
	c := NewBody()
	c.LimitMemory(bud, dir)

	for off := 0; off < len(data); off += 64 << 10 {
		end := min(off+64<<10, len(data))
		for _, body := range []*Body{a, b, c} {
			if _, err := body.Write(data[off:end]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if bud.InUse() > bud.Limit() {
		t.Fatalf("in use %d past the limit %d", bud.InUse(), bud.Limit())
	}
	if a.Spilled() || !b.Spilled() || !c.Spilled() {
		t.Fatalf("spilled: a %v b %v c %v, want false true true", a.Spilled(), b.Spilled(), c.Spilled())
	}
	if c.HeldInMemory(int64(len(data))) || !c.HeldInMemory(1) {
		t.Fatal("c: want its start in memory, its end in the file")
	}
	for _, body := range []*Body{a, b, c} {
		body.Finish(nil)
		if got := readAll(t, body); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
		}
	}
	if got := bud.InUse(); got != 0 {
		t.Fatalf("in use after Finish = %d, want 0", got)
	}

	// With the memory back, a new body fits again.
	d := NewBody()
	d.LimitMemory(bud, dir)
	d.Grow(int64(len(data)))
	if !d.HeldInMemory(int64(len(data))) {
		t.Fatal("the budget was not given back")
	}
	d.Finish(errIncompleteForTest)
	if got := bud.InUse(); got != 0 {
		t.Fatalf("in use after a failed body = %d, want 0", got)
	}
}

var errIncompleteForTest = bytes.ErrTooLarge
