package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func obj(body string, h http.Header) *Object {
	if h == nil {
		h = http.Header{}
	}
	now := time.Now()
	return NewObject(200, h, BodyFrom([]byte(body)), now, now, Verdict{Store: true, Lifetime: time.Hour})
}

func hdr(kv ...string) func() http.Header {
	return func() http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
}

func TestStoreVary(t *testing.T) {
	s := NewStore(1 << 20)
	en := obj("hello", http.Header{"Vary": {"Accept-Language"}})
	de := obj("hallo", http.Header{"Vary": {"Accept-Language"}})
	s.Put("k", hdr("Accept-Language", "en")(), en)
	s.Put("k", hdr("Accept-Language", "de")(), de)
	if got := s.Get("k", hdr("Accept-Language", "en")); got != en {
		t.Fatalf("en variant: %v", got)
	}
	if got := s.Get("k", hdr("Accept-Language", "de")); got != de {
		t.Fatalf("de variant: %v", got)
	}
	if got := s.Get("k", hdr("Accept-Language", "fr")); got != nil {
		t.Fatal("fr must miss")
	}
	if got := s.Get("k", hdr()); got != nil {
		t.Fatal("no header must miss")
	}
	if !s.Delete("k") {
		t.Fatal("delete")
	}
	if s.Get("k", hdr("Accept-Language", "en")) != nil {
		t.Fatal("variant survived delete")
	}
	s.c.CleanUp()
	if n := s.Len(); n != 0 {
		t.Fatalf("%d entries left after delete", n)
	}
}

func TestStoreBoundedInBytes(t *testing.T) {
	const limit = 1 << 20
	s := NewStore(limit)
	big := bytes.Repeat([]byte("x"), 10<<10)
	for i := 0; i < 1000; i++ { // 10 MB offered to a 1 MB store
		s.Put(fmt.Sprint("k", i), nil, obj(string(big), nil))
	}
	s.c.CleanUp()
	if w := s.Weight(); w > limit {
		t.Fatalf("store holds %d bytes, limit %d", w, limit)
	}
	if s.Len() == 0 {
		t.Fatal("store kept nothing")
	}
}

func TestDeleteFunc(t *testing.T) {
	s := NewStore(1 << 20)
	s.Put("d\x1f/a", nil, obj("a", nil))
	s.Put("d\x1f/b", nil, obj("b", nil))
	s.Put("d\x1f/v", hdr("Accept", "x")(), obj("v", http.Header{"Vary": {"Accept"}}))
	n := s.DeleteFunc(func(k string) bool { return k != "d\x1f/b" })
	if n != 2 || s.Get("d\x1f/b", hdr()) == nil || s.Get("d\x1f/v", hdr("Accept", "x")) != nil {
		t.Fatalf("DeleteFunc removed %d", n)
	}
}

func TestBodyStreamsToManyReaders(t *testing.T) {
	b := NewBody()
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 20)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.WriteTo(context.Background(), &outs[i], 0); err != nil {
				t.Error(err)
			}
		}()
	}
	var want bytes.Buffer
	for i := 0; i < 200; i++ {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i)
		want.Write(p)
		b.Write(p)
	}
	b.Finish(nil)
	wg.Wait()
	for i := range outs {
		if !bytes.Equal(outs[i].Bytes(), want.Bytes()) {
			t.Fatalf("reader %d got %d bytes, want %d", i, outs[i].Len(), want.Len())
		}
	}
	if !bytes.Equal(b.Bytes(), want.Bytes()) {
		t.Fatal("Bytes differs")
	}
	// From an offset, on a complete body.
	var tail bytes.Buffer
	b.WriteTo(context.Background(), &tail, 5000)
	if !bytes.Equal(tail.Bytes(), want.Bytes()[5000:]) {
		t.Fatal("offset read differs")
	}
}

func TestBodyFailedFetch(t *testing.T) {
	b := NewBody()
	b.Write([]byte("partial"))
	b.Finish(errors.New("connection reset"))
	var out bytes.Buffer
	_, err := b.WriteTo(context.Background(), &out, 0)
	if !errors.Is(err, ErrIncomplete) || out.String() != "partial" {
		t.Fatalf("err=%v out=%q", err, out.String())
	}
	if b.Complete() {
		t.Fatal("failed body reported complete")
	}
}

func TestBodyReaderGivesUpOnContext(t *testing.T) {
	b := NewBody()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := b.WriteTo(ctx, &bytes.Buffer{}, 0)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not give up")
	}
}

func TestGroupCollapses(t *testing.T) {
	var g Group[int]
	var calls, joined, leaders atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, leader := g.Join("k", func(publish func(Result[int]), _ func()) {
				calls.Add(1)
				<-release
				publish(Result[int]{Value: 200, Body: BodyFrom([]byte("x"))})
			})
			joined.Add(1)
			if leader {
				leaders.Add(1)
			}
			if err := f.Wait(context.Background()); err != nil || f.Value != 200 {
				t.Error("bad flight", err, f.Value)
			}
		}()
	}
	// Release the fetch only when every caller has joined it.
	deadline := time.Now().Add(5 * time.Second)
	for joined.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 || leaders.Load() != 1 {
		t.Fatalf("calls=%d leaders=%d", calls.Load(), leaders.Load())
	}
}

func TestGroupPanicIsAnError(t *testing.T) {
	var g Group[int]
	f, _ := g.Join("k", func(func(Result[int]), func()) { panic("boom") })
	if err := f.Wait(context.Background()); err != nil || f.Err == nil {
		t.Fatal("panic not turned into an error")
	}
}

func TestBodyGrowKeepsOneChunk(t *testing.T) {
	b := NewBody()
	b.Grow(100 << 10)
	for i := 0; i < 100; i++ {
		b.Write(bytes.Repeat([]byte{byte(i)}, 1024))
	}
	b.Finish(nil)
	if len(b.chunks) != 1 || b.Size() != 100<<10 {
		t.Fatalf("%d chunks, %d bytes", len(b.chunks), b.Size())
	}
	var out bytes.Buffer
	b.WriteTo(context.Background(), &out, 0)
	if out.Len() != 100<<10 || out.Bytes()[99<<10] != 99 {
		t.Fatal("content")
	}
}
