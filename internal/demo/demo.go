// Package demo is the small sample site that `strata run` serves as its
// origin when it is started without a configuration. Each path shows one
// caching behaviour; /stats counts the requests that reached the origin.
// Config and QuickConfig are the configurations `strata run` serves with no
// arguments and with --origin.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Origin is the demo origin handler.
type Origin struct {
	mu     sync.Mutex
	counts map[string]int
	big    []byte
	etag   string
}

// New returns the demo origin.
func New() *Origin {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i%37]
	}
	sum := sha256.Sum256(big)
	return &Origin{counts: map[string]int{}, big: big, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Page is one demo URL and what it shows, for the start-up banner.
type Page struct{ Path, Shows string }

// Pages lists the URLs worth trying.
var Pages = []Page{
	{"/hello.txt", "cached for an hour: the first request is a Miss, the next a Hit"},
	{"/time", "fresh for 5 s, then revalidated with the origin (RefreshHit)"},
	{"/slow?ms=1000", "a slow object: concurrent first requests share one origin fetch"},
	{"/lang", "Vary: Accept-Language: one cached copy per language"},
	{"/private", "Cache-Control: private: never stored, always a Miss"},
	{"/big", "1 MiB object: try a Range request (curl -r 0-99)"},
	{"/stats", "how many requests reached the demo origin, per path"},
}

var start = time.Now().UTC().Truncate(time.Second)

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/stats" {
		o.mu.Lock()
		o.counts[r.URL.Path]++
		o.mu.Unlock()
	}
	h := w.Header()
	switch r.URL.Path {
	case "/", "/index.html":
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		var b strings.Builder
		b.WriteString("<!doctype html><title>Strata demo</title><h1>Strata demo origin</h1><ul>\n")
		for _, p := range Pages {
			fmt.Fprintf(&b, "<li><a href=%q>%s</a>: %s</li>\n", p.Path, p.Path, p.Shows)
		}
		b.WriteString("</ul>\n")
		io.WriteString(w, b.String())
	case "/hello.txt":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", `"hello-v1"`)
		h.Set("Last-Modified", start.Format(http.TimeFormat))
		if r.Header.Get("If-None-Match") == `"hello-v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "Hello from the Strata demo origin.\n")
	case "/time":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "max-age=5")
		h.Set("ETag", `"time-v1"`)
		if r.Header.Get("If-None-Match") == `"time-v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, "origin clock when this copy was made: %s\n", time.Now().UTC().Format(time.RFC3339))
	case "/slow":
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		ms = min(max(ms, 0), 10000)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "this took the origin %d ms\n", ms)
	case "/lang":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=600")
		h.Set("Vary", "Accept-Language")
		lang := r.Header.Get("Accept-Language")
		switch {
		case strings.HasPrefix(lang, "de"):
			io.WriteString(w, "Hallo!\n")
		case strings.HasPrefix(lang, "fr"):
			io.WriteString(w, "Bonjour !\n")
		default:
			io.WriteString(w, "Hello!\n")
		}
	case "/private":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "private, max-age=600")
		fmt.Fprintf(w, "made for you at %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	case "/big":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", o.etag)
		http.ServeContent(w, r, "", start, strings.NewReader(string(o.big)))
	case "/echo":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-store")
		io.Copy(w, r.Body)
	case "/stats":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		o.mu.Lock()
		paths := make([]string, 0, len(o.counts))
		for p := range o.counts {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(w, "%s %d\n", p, o.counts[p])
		}
		o.mu.Unlock()
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=60")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "not found on the demo origin\n")
	}
}

// Count is how many requests for path reached the origin.
func (o *Origin) Count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}
