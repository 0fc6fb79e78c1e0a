package pop

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/strata-cdn/strata/internal/cache"
)

// Compression at the edge, as CloudFront does it (a cache behavior's
// `compress: true`).
//
// Which encoding. The viewer's Accept-Encoding is negotiated down to one
// encoding, in Strata's order of preference br > zstd > gzip (CloudFront
// prefers Brotli over gzip; zstd, which CloudFront does not offer, sits
// between them: it compresses about as well as Brotli at its fast levels and
// faster than gzip). An encoding is accepted when the viewer lists it (or
// "*") with q > 0; q values only accept or refuse, they do not rank. Brotli
// needs the cache policy's enableAcceptEncodingBrotli, as in CloudFront;
// gzip and zstd need only `compress`. An HTTP/1.0 request gets identity
// (CloudFront drops its Accept-Encoding).
//
// The cache key. With compress on, the key holds the chosen encoding
// ("enc=br", "enc=zstd", "enc=gzip" or "enc=identity") instead of the
// normalized Accept-Encoding list: one cached variant per encoding served,
// whatever the spelling of the header. The origin is asked with exactly that
// encoding in Accept-Encoding (nothing for identity), so it may compress
// itself, and whatever it answers is right for every viewer of the key.
//
// When. A response is compressed when all hold: compress is on; status 200;
// no Content-Encoding from the origin (an origin-encoded response passes
// through as it is); a Content-Type on CloudFront's list; no
// `Cache-Control: no-transform`; its length, when declared, between 1,000
// and 10,000,000 bytes (CloudFront's limits; a body of unknown length is
// compressed: CloudFront refuses those, but chunked dynamic text is the case
// that gains most); and, for a cached object, the request that starts the
// fetch is not a Range request (see compressFetched).
//
// Where. A cached response is compressed as it streams from the origin into
// the cache body (fetch.go): the stored object is the compressed
// representation, so a hit is a plain copy (or sendfile) and an object is
// compressed once per PoP, not once per viewer. Memory stays bounded: the
// encoder works on 32 KiB reads and its own window. A response that is not
// cached (pass) is compressed the same way on its way to the viewer,
// flushed after every read so a streamed response keeps streaming; CloudFront
// also compresses dynamic (uncached) content.
//
// Headers. Compressed responses carry Content-Encoding, no Content-Length
// until the compressed length is known (a complete stored object has one),
// and a weak ETag: a strong origin ETag gets W/, a weak one is kept, an
// invalid one is dropped (CloudFront's ETag conversion). A response that
// is, or for another viewer would be, compressed (every rule above holds but
// the viewer's Accept-Encoding or a Range) gets `Accept-Encoding` added to
// its Vary, as a field line of its own after the origin's, so caches
// downstream keep the variants apart. Any other response keeps the origin's
// Vary exactly as it came: a response whose representation does not depend
// on Accept-Encoding does not say that it does.

// CloudFront's size limits for compression, in bytes.
const (
	compressMin = 1000
	compressMax = 10_000_000
)

// Encodings, and the cache key segments that name them.
const (
	encBrotli = "br"
	encZstd   = "zstd"
	encGzip   = "gzip"
)

// compressibleTypes are the media types CloudFront compresses ("File types
// that CloudFront compresses" in its developer guide).
var compressibleTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`
		application/dash+xml application/eot application/font application/font-sfnt
		application/javascript application/json application/opentype application/otf
		application/pkcs7-mime application/protobuf application/rss+xml application/truetype
		application/ttf application/vnd.apple.mpegurl application/vnd.ms-fontobject
		application/xhtml+xml application/xml application/x-font-opentype
		application/x-font-truetype application/x-font-ttf application/x-httpd-cgi
		application/x-javascript application/x-mpegurl application/x-opentype application/x-otf
		application/x-perl application/x-ttf
		font/eot font/opentype font/otf font/ttf
		image/svg+xml
		text/css text/csv text/html text/javascript text/js text/plain text/richtext
		text/tab-separated-values text/xml text/x-component text/x-java-source text/x-script
		vnd.apple.mpegurl`) {
		m[t] = true
	}
	return m
}()

// compressibleType reports whether a Content-Type value is on the list
// (parameters and case ignored).
func compressibleType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if compressibleTypes[mt] {
		return true
	}
	return compressibleTypes[strings.ToLower(mt)]
}

// negotiateEncoding picks the encoding for a viewer's Accept-Encoding:
// br (when allowed), zstd, gzip, or "" for identity.
func negotiateEncoding(r *http.Request, allowBrotli bool) string {
	vv := r.Header["Accept-Encoding"]
	if len(vv) == 0 || (r.ProtoMajor == 1 && r.ProtoMinor == 0) {
		return ""
	}
	// -1: not listed; 0: refused; 1: accepted.
	br, zs, gz, star := -1, -1, -1, -1
	for _, v := range vv {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			acc := 1
			for params != "" {
				var p string
				p, params, _ = strings.Cut(params, ";")
				if q, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(p)), "q="); ok && isZeroQ(q) {
					acc = 0
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "br":
				br = acc
			case "zstd":
				zs = acc
			case "gzip", "x-gzip":
				gz = acc
			case "*":
				star = acc
			}
		}
	}
	ok := func(a int) bool { return a == 1 || (a == -1 && star == 1) }
	switch {
	case allowBrotli && ok(br):
		return encBrotli
	case ok(zs):
		return encZstd
	case ok(gz):
		return encGzip
	}
	return ""
}

// keyEncoding is the Accept-Encoding segment of the cache key (key.go).
func keyEncoding(ex *exchange) string {
	ck := &ex.beh.policy.CacheKey
	if !ex.beh.cfg.Compress {
		return acceptEncoding(ex.r.Header, ck)
	}
	switch negotiateEncoding(ex.r, ck.EnableAcceptEncodingBrotli) {
	case encBrotli:
		return "enc=br"
	case encZstd:
		return "enc=zstd"
	case encGzip:
		return "enc=gzip"
	}
	return "enc=identity"
}

// originEncoding is the Accept-Encoding a cached fetch sends the origin: a
// function of the key, so every viewer of the key may have the answer.
func originEncoding(ex *exchange) string {
	ck := &ex.beh.policy.CacheKey
	if !ex.beh.cfg.Compress {
		return acceptEncoding(ex.r.Header, ck)
	}
	return negotiateEncoding(ex.r, ck.EnableAcceptEncodingBrotli)
}

// compressible reports whether a response may be compressed at all (the
// rules that do not depend on the request): when it is, the choice of
// representation depends on Accept-Encoding and the response says so in
// Vary.
func compressible(ex *exchange, status int, h http.Header) bool {
	if !ex.beh.cfg.Compress || status != http.StatusOK || len(h["Content-Encoding"]) > 0 ||
		len(h["Content-Range"]) > 0 || !compressibleType(h.Get("Content-Type")) {
		return false
	}
	return !cache.ParseCacheControl(h["Cache-Control"]).NoTransform
}

// sizeCompressible applies CloudFront's limits to a declared length (-1:
// unknown, compressed).
func sizeCompressible(n int64) bool {
	return n < 0 || (n >= compressMin && n <= compressMax)
}

// compressFetched decides for a response being fetched into the cache: when
// it compresses, it rewrites h and returns the compressed body, of unknown
// length; otherwise it returns the origin's body and length. fwd is the
// header sent upstream, whose Accept-Encoding is the variant's encoding.
//
// A Range request that misses is not compressed: the fetch stores the
// identity representation under the variant's key. The viewer asked for
// byte offsets and gets them from the identity bytes as soon as they arrive
// (deliver answers a range of an object still arriving only when its length
// is known, which a compressed body's is not until it is complete), instead
// of waiting for the whole object to be compressed and then getting a range
// of gzip bytes it can rarely use. Later viewers of that variant get the
// uncompressed copy until it expires, which CloudFront documents too ("if
// CloudFront has an uncompressed copy in the cache, it may serve it").
func (p *PoP) compressFetched(ex *exchange, fwd http.Header, resp *http.Response, h http.Header) (io.Reader, int64) {
	if !compressible(ex, resp.StatusCode, h) || !sizeCompressible(resp.ContentLength) {
		return resp.Body, resp.ContentLength
	}
	addVary(h, "Accept-Encoding")
	enc := fwd.Get("Accept-Encoding")
	if encoderPools[enc] == nil || len(ex.r.Header["Range"]) > 0 {
		return resp.Body, resp.ContentLength
	}
	setEncodedHeaders(h, enc)
	// A body of unknown length may be dynamic and slow: flush after every
	// read so viewers following it get bytes as they come. A declared one
	// is at most 10 MB and arrives at network speed: blocks fill naturally.
	return newCompressReader(resp.Body, enc, resp.ContentLength < 0), -1
}

// parentEncoding adjusts h, the header of a cached fetch sent to a parent
// tier, for a Range request that missed: that fetch stores the identity
// representation (compressFetched), and the parent, which sees no Range,
// would otherwise compress, so the viewer would wait for the whole object
// and get a range of compressed bytes, unlike on a PoP without a parent.
// The parent is asked for identity, which is right for every viewer of the
// key.
func parentEncoding(ex *exchange, h http.Header) {
	if ex.beh.cfg.Compress && len(ex.r.Header["Range"]) > 0 {
		h.Del("Accept-Encoding")
	}
}

// compressPassed is compressFetched for a response that is not cached: the
// encoding is negotiated with this viewer alone, and the body is flushed
// after every read. It rewrites h (the viewer's response header) when it
// compresses.
func compressPassed(ex *exchange, resp *http.Response, h http.Header) io.Reader {
	if !compressible(ex, resp.StatusCode, h) || !sizeCompressible(resp.ContentLength) {
		return resp.Body
	}
	addVary(h, "Accept-Encoding")
	enc := negotiateEncoding(ex.r, ex.beh.policy.CacheKey.EnableAcceptEncodingBrotli)
	if encoderPools[enc] == nil || len(ex.r.Header["Range"]) > 0 {
		return resp.Body
	}
	setEncodedHeaders(h, enc)
	return newCompressReader(resp.Body, enc, true)
}

// setEncodedHeaders turns the origin's header into the compressed
// representation's.
func setEncodedHeaders(h http.Header, enc string) {
	h["Content-Encoding"] = []string{enc}
	// Fields that describe the identity bytes.
	for _, f := range []string{"Content-Length", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
		delete(h, f)
	}
	if etag := h.Get("Etag"); etag != "" {
		switch {
		case strings.HasPrefix(etag, "W/"):
		case strings.HasPrefix(etag, `"`):
			h["Etag"] = []string{"W/" + etag}
		default:
			delete(h, "Etag") // not a valid entity tag: CloudFront drops it too
		}
	}
}

// keyedVary drops Accept-Encoding from the Vary names a stored object is
// looked up by, when compress is on: the key already holds the encoding and
// the origin was asked with exactly it, so every request that reaches the
// object has the same Accept-Encoding as far as the cache is concerned. A
// hit then stays one lookup instead of a Vary marker and a variant.
func keyedVary(ex *exchange, names []string) []string {
	if !ex.beh.cfg.Compress {
		return names
	}
	for i, n := range names {
		if n == "Accept-Encoding" {
			out := append(names[:i:i], names[i+1:]...)
			if len(out) == 0 {
				return nil
			}
			return out
		}
	}
	return names
}

// keepEncodedHeaders restores, after a 304 merged the origin's header into
// a stored compressed object's, what compression had changed: the 304
// carries the origin's strong ETag and its own Vary.
func keepEncodedHeaders(ex *exchange, stored, merged http.Header) {
	if !ex.beh.cfg.Compress {
		return
	}
	if old := stored.Get("Etag"); strings.HasPrefix(old, "W/") && "W/"+merged.Get("Etag") == old {
		merged["Etag"] = stored["Etag"]
	}
	if varyListsEncoding(stored) {
		addVary(merged, "Accept-Encoding")
	}
}

func varyListsEncoding(h http.Header) bool {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

// encoder is what the three compressors have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// Encoders are pooled: a Brotli or zstd encoder allocates its window and
// tables up front. The settings favour speed at a good ratio, since a
// 10 MB object is compressed while viewers wait for it: gzip level 6,
// Brotli quality 5 with a 1 MiB window, zstd's default level with a 2 MiB
// window, one goroutine and its lower-memory mode.
var encoderPools = map[string]*sync.Pool{
	encGzip: {New: func() any {
		w, _ := gzip.NewWriterLevel(nil, 6)
		return w
	}},
	encBrotli: {New: func() any {
		return brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: 5, LGWin: 20})
	}},
	encZstd: {New: func() any {
		w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(2<<20),
			zstd.WithLowerEncoderMem(true), zstd.WithEncoderLevel(zstd.SpeedDefault))
		return w
	}},
}

// compressReader reads src and returns it compressed: a streaming
// transform whose memory is one read buffer, the compressed bytes of one
// read, and the encoder.
type compressReader struct {
	src   io.Reader
	name  string
	enc   encoder // taken from the pool at the first Read
	in    []byte
	out   bytes.Buffer
	flush bool  // flush the encoder after every read from src
	err   error // sticky: io.EOF once the stream is closed, or the failure
}

func newCompressReader(src io.Reader, enc string, flush bool) *compressReader {
	return &compressReader{src: src, name: enc, flush: flush}
}

func (c *compressReader) Read(p []byte) (int, error) {
	if c.enc == nil && c.err == nil {
		c.enc = encoderPools[c.name].Get().(encoder)
		c.enc.Reset(&c.out)
		c.in = make([]byte, 32<<10)
	}
	for c.out.Len() == 0 && c.err == nil {
		n, err := c.src.Read(c.in)
		if n > 0 {
			if _, werr := c.enc.Write(c.in[:n]); werr != nil {
				err = werr
			} else if c.flush {
				if werr := c.enc.Flush(); werr != nil {
					err = werr
				}
			}
		}
		switch {
		case err == io.EOF:
			if cerr := c.enc.Close(); cerr != nil {
				err = cerr
			}
			c.err = err
			c.release()
		case err != nil:
			c.err = err
			c.release()
		}
	}
	if c.out.Len() > 0 {
		return c.out.Read(p)
	}
	return 0, c.err
}

// release returns the encoder to its pool, pointed away from this reader's
// buffer.
func (c *compressReader) release() {
	c.enc.Reset(io.Discard)
	encoderPools[c.name].Put(c.enc)
	c.enc = nil
}

// keyEncodings are the values the last segment of a cache key takes: the
// normalized Accept-Encoding without compress (acceptEncoding), the chosen
// encoding with it (keyEncoding).
var keyEncodings = []string{"", "gzip", "br", "br,gzip", "enc=identity", "enc=gzip", "enc=br", "enc=zstd"}

// deleteEncodings removes what is stored for key in every encoding variant
// (an unsafe request invalidates the URI for every viewer, RFC 9111 4.4).
func (p *PoP) deleteEncodings(key string) {
	i := strings.LastIndexByte(key, 0x1f)
	for _, enc := range keyEncodings {
		p.store.Delete(key[:i+1] + enc)
	}
}
