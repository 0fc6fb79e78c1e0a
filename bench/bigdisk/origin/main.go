// Command origin is the test origin of bench/bigdisk and bench/stream: a tiny
// HTTP server for objects of any size up to 1 GiB, so the benchmarks can use
// 100 MiB and 1 GiB objects (the shared harness's origin stops at 10 MiB),
// and a sink for uploads of any size.
//
// Routes:
//
//	GET /obj/<size>/<key...>  size is a byte count with an optional k or m
//	                          suffix (1k = 1024, 100m = 100 MiB), at most 1 GiB;
//	                          any key. The body is deterministic and the same
//	                          for every key of one size; it is generated once
//	                          per size and served from memory with
//	                          http.ServeContent (Range and conditional requests
//	                          work). Cache-Control: public, max-age=3600.
//	PUT /upload/<key...>      (or POST) reads the request body and discards it,
//	                          in 256 KiB reads (memory stays bounded whatever
//	                          the size), and answers 201 with the byte count as
//	                          a plain number; with ?sha256=1 also the body's
//	                          SHA-256 in hex after a space. Other methods: 405.
//	                          Cache-Control: no-store.
//	GET /stats?path=P         how many requests the origin got for path P, as a
//	                          plain number.
//
// Every request except /stats is counted per URL path (query excluded).
//
//	origin -listen 127.0.0.1:18202
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const maxSize = 1 << 30

var modTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// parseSize reads "100m", "1k", "4096": a byte count with an optional k or m
// (binary) suffix, from 1 byte to 1 GiB.
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, errors.New("bad size")
	}
	if n > maxSize/mult {
		return 0, errors.New("size above 1 GiB")
	}
	return n * mult, nil
}

// bodies holds one generated body per size in bytes.
type bodies struct {
	mu sync.Mutex
	m  map[int]*lazyBody
}

type lazyBody struct {
	once sync.Once
	b    []byte
}

func (bs *bodies) get(n int) []byte {
	bs.mu.Lock()
	lb := bs.m[n]
	if lb == nil {
		lb = &lazyBody{}
		bs.m[n] = lb
	}
	bs.mu.Unlock()
	lb.once.Do(func() { lb.b = pattern(n) })
	return lb.b
}

// pattern is deterministic: the same size always gives the same bytes.
func pattern(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\n"
	b := make([]byte, n)
	for i := 0; i < n; i += len(alphabet) {
		copy(b[i:], alphabet)
	}
	return b
}

type counters struct {
	mu sync.Mutex
	m  map[string]*atomic.Int64
}

func (c *counters) hit(path string) {
	c.mu.Lock()
	v := c.m[path]
	if v == nil {
		v = new(atomic.Int64)
		c.m[path] = v
	}
	c.mu.Unlock()
	v.Add(1)
}

func (c *counters) get(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.m[path]; v != nil {
		return v.Load()
	}
	return 0
}

// onlyReader hides every method but Read, so io.CopyBuffer uses the given
// buffer (io.Discard's ReadFrom would use its own 8 KiB one).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func main() {
	listen := flag.String("listen", "127.0.0.1:18202", "listen address (loopback)")
	flag.Parse()

	bs := &bodies{m: map[int]*lazyBody{}}
	cnt := &counters{m: map[string]*atomic.Int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/obj/", func(w http.ResponseWriter, r *http.Request) {
		cnt.hit(r.URL.Path)
		sizeStr, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/obj/"), "/")
		n, err := parseSize(sizeStr)
		if err != nil || key == "" {
			http.Error(w, "want /obj/<size>/<key>, size like 1k, 1m, 100m (at most 1 GiB)", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"`+strconv.Itoa(n)+`-v1"`)
		http.ServeContent(w, r, "", modTime, bytes.NewReader(bs.get(n)))
	})
	mux.HandleFunc("/upload/", func(w http.ResponseWriter, r *http.Request) {
		cnt.hit(r.URL.Path)
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			w.Header().Set("Allow", "PUT, POST")
			http.Error(w, "upload with PUT or POST", http.StatusMethodNotAllowed)
			return
		}
		var h hash.Hash
		var sink io.Writer = io.Discard
		if r.URL.Query().Get("sha256") == "1" {
			h = sha256.New()
			sink = h
		}
		n, err := io.CopyBuffer(sink, onlyReader{r.Body}, make([]byte, 256<<10))
		if err != nil {
			log.Printf("upload %s: %d bytes, then %v", r.URL.Path, n, err)
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		if h != nil {
			fmt.Fprintf(w, "%d %s\n", n, hex.EncodeToString(h.Sum(nil)))
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, cnt.get(r.URL.Query().Get("path")))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		cnt.hit(r.URL.Path)
		http.NotFound(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
