package compress

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"

	"github.com/strata-cdn/strata/internal/config"
)

// decode undoes a Content-Encoding with the codecs' own decoders.
func decode(t testing.TB, enc string, body []byte) []byte {
	t.Helper()
	return testutil.Decode(t, enc, body)
}

func TestNegotiateEncoding(t *testing.T) {
	tests := []struct {
		ae     string
		brOK   bool
		proto0 bool
		want   string
	}{
		{"", true, false, ""},
		{"gzip", true, false, "gzip"},
		{"gzip, deflate, br, zstd", true, false, "br"},
		{"gzip, deflate, br, zstd", false, false, "zstd"},
		{"br", false, false, ""},
		{"br;q=0, gzip", true, false, "gzip"},
		{"br; q=0.0, zstd;q=0., gzip;q=0.001", true, false, "gzip"},
		{"GZIP;Q=0", true, false, ""},
		{"*", true, false, "br"},
		{"*;q=0", true, false, ""},
		{"gzip;q=0, *", true, false, "br"},
		{"br;q=0, zstd;q=0, *", true, false, "gzip"},
		{"br;q=0, zstd;q=0, gzip;q=0, *", true, false, ""},
		{"identity;q=1, *;q=0", true, false, ""},
		{"x-gzip", true, false, "gzip"},
		{"gzip;foo=bar;q=1", true, false, "gzip"},
		{"gzip", true, true, ""}, // HTTP/1.0: identity, as CloudFront
		{",,;;,", true, false, ""},
		{"gzip;q=0.5, br;q=0.1", true, false, "br"}, // q accepts or refuses, it does not rank
		{"deflate", true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ae, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", tt.ae)
			if tt.proto0 {
				r.ProtoMinor = 0
			}
			if got := Negotiate(r, tt.brOK); got != tt.want {
				t.Errorf("Negotiate(%q, br %v, 1.0 %v) = %q, want %q", tt.ae, tt.brOK, tt.proto0, got, tt.want)
			}
		})
	}
}

// Several Accept-Encoding field lines are one list.
func TestNegotiateEncodingFieldLines(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"second line names br", []string{"gzip", "br"}, Brotli},
		{"refusal on another line", []string{"br, gzip", "br;q=0"}, Gzip},
		{"star on another line", []string{"deflate", "*"}, Brotli},
		{"no lines", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Accept-Encoding"] = tt.lines
			if got := Negotiate(r, true); got != tt.want {
				t.Errorf("Negotiate(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

func TestCompressibleTypeAndETag(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html": true, "text/html; charset=UTF-8": true, "Text/CSS": true, "application/json": true,
		"image/svg+xml": true, "application/javascript;charset=utf-8": true, "font/ttf": true,
		" text/plain ": true, "vnd.apple.mpegurl": true,
		"image/png": false, "application/octet-stream": false, "": false, "text/event-stream": false,
		"video/mp4": false, "application/zip": false, "text/html-ish": false,
	} {
		if Compressible(ct) != want {
			t.Errorf("Compressible(%q) = %v", ct, !want)
		}
	}
	for in, want := range map[string]string{`"a"`: `W/"a"`, `W/"a"`: `W/"a"`, `a`: ""} {
		h := http.Header{"Etag": {in}, "Content-Length": {"10"}}
		SetEncodedHeaders(h, "gzip")
		if h.Get("Etag") != want || h.Get("Content-Length") != "" || h.Get("Content-Encoding") != "gzip" {
			t.Errorf("ETag %q -> %q (want %q), header %v", in, h.Get("Etag"), want, h)
		}
	}
}

// SetEncodedHeaders drops every field that describes the identity bytes and
// keeps the others.
func TestSetEncodedHeaders(t *testing.T) {
	in := http.Header{
		"Content-Length": {"1234"}, "Content-Md5": {"x"}, "Digest": {"sha-256=x"},
		"Content-Digest": {"sha-256=:x:"}, "Repr-Digest": {"sha-256=:x:"},
		"Content-Type": {"text/html"}, "Cache-Control": {"max-age=60"}, "Vary": {"Origin"},
	}
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		t.Run(enc, func(t *testing.T) {
			h := in.Clone()
			SetEncodedHeaders(h, enc)
			want := http.Header{
				"Content-Encoding": {enc}, "Content-Type": {"text/html"},
				"Cache-Control": {"max-age=60"}, "Vary": {"Origin"},
			}
			if !equalHeader(h, want) {
				t.Errorf("got %v, want %v", h, want)
			}
		})
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestSizeCompressible(t *testing.T) {
	tests := []struct {
		n    int64
		want bool
	}{
		{-1, true}, {0, false}, {999, false}, {MinSize, true}, {5000, true},
		{MaxSize, true}, {MaxSize + 1, false},
	}
	for _, tt := range tests {
		if got := SizeCompressible(tt.n); got != tt.want {
			t.Errorf("SizeCompressible(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestAcceptEncodingNormalized(t *testing.T) {
	ck := &config.CacheKeyConfig{EnableAcceptEncodingGzip: true, EnableAcceptEncodingBrotli: true}
	tests := map[string]string{
		"gzip, deflate, br":     "br,gzip",
		"GZIP":                  "gzip",
		"br;q=1.0, gzip;q=0":    "br",
		"gzip;q=0.000":          "",
		"identity":              "",
		"deflate, gzip;q=0.5  ": "gzip",
	}
	for in, want := range tests {
		if got := AcceptEncoding(http.Header{"Accept-Encoding": {in}}, ck); got != want {
			t.Errorf("AcceptEncoding(%q) = %q, want %q", in, got, want)
		}
	}
	if got := AcceptEncoding(http.Header{"Accept-Encoding": {"gzip, br"}}, &config.CacheKeyConfig{}); got != "" {
		t.Errorf("policy without encodings keyed %q", got)
	}
}

// What the policy enables is all the key may hold.
func TestAcceptEncodingPolicy(t *testing.T) {
	tests := []struct {
		name     string
		gzip, br bool
		ae       string
		want     string
	}{
		{"both enabled", true, true, "gzip, br", "br,gzip"},
		{"gzip only", true, false, "gzip, br", "gzip"},
		{"brotli only", false, true, "gzip, br", "br"},
		{"brotli only, viewer gzip", false, true, "gzip", ""},
		{"none enabled", false, false, "gzip, br", ""},
		{"zstd never keyed", true, true, "zstd", ""},
		{"star not expanded", true, true, "*", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &config.CacheKeyConfig{EnableAcceptEncodingGzip: tt.gzip, EnableAcceptEncodingBrotli: tt.br}
			if got := AcceptEncoding(http.Header{"Accept-Encoding": {tt.ae}}, ck); got != tt.want {
				t.Errorf("AcceptEncoding(%q) = %q, want %q", tt.ae, got, tt.want)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	for enc, want := range map[string]bool{Gzip: true, Brotli: true, Zstd: true, "": false, "deflate": false, "GZIP": false} {
		if Supported(enc) != want {
			t.Errorf("Supported(%q) = %v", enc, !want)
		}
	}
}

// Every encoding round-trips through its codec's own decoder, flushed or
// not, for bodies from empty to several reads long.
func TestReaderRoundTrip(t *testing.T) {
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		for _, flush := range []bool{false, true} {
			for _, n := range []int{0, 1, 1000, 100_000} {
				body := []byte(testutil.TextBody(n))
				out, err := io.ReadAll(NewReader(bytes.NewReader(body), enc, flush))
				if err != nil {
					t.Fatalf("%s flush=%v n=%d: %v", enc, flush, n, err)
				}
				if got := decode(t, enc, out); !bytes.Equal(got, body) {
					t.Fatalf("%s flush=%v n=%d: %d bytes back, want %d", enc, flush, n, len(got), n)
				}
				if n == 100_000 && len(out) > n/2 {
					t.Errorf("%s: %d -> %d bytes", enc, n, len(out))
				}
			}
		}
	}
}

// With flush, what the source has given is readable before the source
// ends: a streamed response keeps streaming.
func TestReaderFlushStreams(t *testing.T) {
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		t.Run(enc, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pr.Close()
			go pw.Write([]byte("data: first event\n\n"))
			c := NewReader(pr, enc, true)
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if n == 0 || err != nil {
				t.Fatalf("Read before the source ended: %d bytes, %v", n, err)
			}
			pw.Close()
			rest, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := decode(t, enc, append(buf[:n], rest...)); string(got) != "data: first event\n\n" {
				t.Fatalf("decoded %q", got)
			}
		})
	}
}

// A failing source fails the reader, and the failure sticks.
func TestReaderSourceError(t *testing.T) {
	boom := errors.New("origin reset")
	src := io.MultiReader(strings.NewReader(testutil.TextBody(5000)), &errReader{boom})
	c := NewReader(src, Gzip, false)
	_, err := io.ReadAll(c)
	if !errors.Is(err, boom) {
		t.Fatalf("ReadAll: %v, want %v", err, boom)
	}
	if n, err := c.Read(make([]byte, 10)); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("Read after the failure: %d, %v", n, err)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// TestCompressReaderBoundedMemory: a 50 MB body through the transform,
// read as a viewer reads, never has more than a small buffer of output
// (zstd; gzip and Brotli on fewer bytes, being slower under -race). The
// bound is Brotli's: it emits a metablock of up to its 1 MiB window at once.
func TestCompressReaderBoundedMemory(t *testing.T) {
	unit := []byte(testutil.TextBody(1 << 20))
	for _, tc := range []struct {
		enc  string
		size int64
	}{{Zstd, 50 << 20}, {Gzip, 8 << 20}, {Brotli, 2 << 20}} {
		start := time.Now()
		src := &io.LimitedReader{R: &repeatReader{b: unit}, N: tc.size}
		c := NewReader(src, tc.enc, false)
		buf := make([]byte, 32<<10)
		var out int64
		maxBuf := 0
		for {
			n, err := c.Read(buf)
			out += int64(n)
			maxBuf = max(maxBuf, c.out.Cap())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if maxBuf > 1<<20 || out == 0 || out > tc.size/2 {
			t.Fatalf("%s: %d bytes in, %d out, output buffer up to %d bytes", tc.enc, tc.size, out, maxBuf)
		}
		t.Logf("%s: %d -> %d bytes, output buffer at most %d bytes, %v", tc.enc, tc.size, out, maxBuf, time.Since(start))
	}
}

type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// FuzzNegotiateEncoding: any Accept-Encoding gives one of the four
// answers, an encoding the header names (or "*" covers), and negotiating
// the answer again gives the answer (the key is a normal form).
func FuzzNegotiateEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "deflate, gzip;q=1.0", "GZIP", "br;q=0, *", "identity;q=1, *;q=0",
		"gzip;q=0.000", ";;;,,,q=0", "x-gzip", "zstd;q=0.5;level=3", "\x00br", "br;q=", "*;q=0.0001"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, ae string, brOK bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Accept-Encoding"] = []string{ae}
		got := Negotiate(r, brOK)
		switch got {
		case "", Gzip, Zstd:
		case Brotli:
			if !brOK {
				t.Fatalf("%q: br without the policy", ae)
			}
		default:
			t.Fatalf("%q: %q", ae, got)
		}
		if got == "" {
			return
		}
		lower := strings.ToLower(ae)
		if !strings.Contains(lower, got) && !strings.Contains(lower, "*") {
			t.Fatalf("%q: %q is not named", ae, got)
		}
		r.Header["Accept-Encoding"] = []string{got}
		if again := Negotiate(r, brOK); again != got {
			t.Fatalf("%q: %q, then %q", ae, got, again)
		}
	})
}

// FuzzAcceptEncoding: any Accept-Encoding field lines normalize to one of
// the four key values, holding only what the policy enables and the
// viewer names, and normalizing the normal form again gives it back.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "GZIP", "br;q=1.0, gzip;q=0", "gzip;q=0.000", "*", "br;q=0.", ",,;q=0,gzip"} {
		f.Add(s, "", true, true)
	}
	f.Add("gzip", "br", true, false)
	f.Add("deflate", "br;q=0, gzip", false, true)
	f.Fuzz(func(t *testing.T, line1, line2 string, gz, br bool) {
		ck := &config.CacheKeyConfig{EnableAcceptEncodingGzip: gz, EnableAcceptEncodingBrotli: br}
		h := http.Header{"Accept-Encoding": {line1, line2}}
		got := AcceptEncoding(h, ck)
		lower := strings.ToLower(line1 + "," + line2)
		switch got {
		case "":
		case "gzip":
			if !gz || !strings.Contains(lower, "gzip") {
				t.Fatalf("%q (gzip %v): %q", h["Accept-Encoding"], gz, got)
			}
		case "br":
			if !br || !strings.Contains(lower, "br") {
				t.Fatalf("%q (br %v): %q", h["Accept-Encoding"], br, got)
			}
		case "br,gzip":
			if !gz || !br || !strings.Contains(lower, "gzip") || !strings.Contains(lower, "br") {
				t.Fatalf("%q (gzip %v, br %v): %q", h["Accept-Encoding"], gz, br, got)
			}
		default:
			t.Fatalf("%q: %q", h["Accept-Encoding"], got)
		}
		if again := AcceptEncoding(http.Header{"Accept-Encoding": {got}}, ck); again != got {
			t.Fatalf("%q: %q, then %q", h["Accept-Encoding"], got, again)
		}
	})
}

// FuzzSetEncodedHeaders: whatever the origin's header, the encoded one
// names the encoding, has no Content-Length, an ETag only if weak, and
// encoding it again changes nothing.
func FuzzSetEncodedHeaders(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"abc"`, `abc`, ``, `w/"x"`, `"`, `W/`} {
		f.Add(s, "1234", "text/html")
	}
	f.Fuzz(func(t *testing.T, etag, length, ct string) {
		for _, enc := range []string{Gzip, Brotli, Zstd} {
			h := http.Header{"Etag": {etag}, "Content-Length": {length}, "Content-Type": {ct}, "Repr-Digest": {"x"}}
			SetEncodedHeaders(h, enc)
			if h.Get("Content-Encoding") != enc || len(h["Content-Length"]) > 0 || len(h["Repr-Digest"]) > 0 {
				t.Fatalf("%q: %v", enc, h)
			}
			if e := h.Get("Etag"); e != "" && !strings.HasPrefix(e, "W/") {
				t.Fatalf("ETag %q -> strong %q", etag, e)
			}
			if h.Get("Content-Type") != ct {
				t.Fatalf("Content-Type %q -> %q", ct, h.Get("Content-Type"))
			}
			again := h.Clone()
			SetEncodedHeaders(again, enc)
			if !equalHeader(again, h) {
				t.Fatalf("not idempotent: %v -> %v", h, again)
			}
		}
	})
}

// FuzzReaderRoundTrip: any bytes, in any encoding, flushed or not, decode
// back to themselves.
func FuzzReaderRoundTrip(f *testing.F) {
	f.Add([]byte(""), uint8(0), false)
	f.Add([]byte(testutil.TextBody(3000)), uint8(1), true)
	f.Add([]byte("\x00\xff\x00\xff"), uint8(2), false)
	encs := []string{Gzip, Brotli, Zstd}
	f.Fuzz(func(t *testing.T, body []byte, which uint8, flush bool) {
		enc := encs[int(which)%len(encs)]
		out, err := io.ReadAll(NewReader(iotest.HalfReader(bytes.NewReader(body)), enc, flush))
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, enc, out); !bytes.Equal(got, body) {
			t.Fatalf("%s: %q -> %q", enc, body, got)
		}
	})
}
