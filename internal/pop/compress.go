package pop

import (
	"io"
	"net/http"
	"strings"

	"github.com/strata-cdn/strata/internal/cache"
	"github.com/strata-cdn/strata/internal/compress"
	"github.com/strata-cdn/strata/internal/respheaders"
)

// Compression's glue to the exchange. What to compress, in which encoding
// and how is package compress (its doc tells the whole rule); this file
// applies it to an exchange: the key's encoding segment, the Accept-Encoding
// a cached fetch sends upstream, the fetch and pass paths, Vary, and a 304
// merged into a compressed object.

// keyEncoding is the Accept-Encoding segment of the cache key (key.go).
func keyEncoding(ex *exchange) string {
	ck := &ex.beh.policy.CacheKey
	if !ex.beh.cfg.Compress {
		return compress.AcceptEncoding(ex.r.Header, ck)
	}
	switch compress.Negotiate(ex.r, ck.EnableAcceptEncodingBrotli) {
	case compress.Brotli:
		return "enc=br"
	case compress.Zstd:
		return "enc=zstd"
	case compress.Gzip:
		return "enc=gzip"
	}
	return "enc=identity"
}

// originEncoding is the Accept-Encoding a cached fetch sends the origin: a
// function of the key, so every viewer of the key may have the answer.
func originEncoding(ex *exchange) string {
	ck := &ex.beh.policy.CacheKey
	if !ex.beh.cfg.Compress {
		return compress.AcceptEncoding(ex.r.Header, ck)
	}
	return compress.Negotiate(ex.r, ck.EnableAcceptEncodingBrotli)
}

// compressible reports whether a response may be compressed at all (the
// rules that do not depend on the request): when it is, the choice of
// representation depends on Accept-Encoding and the response says so in
// Vary.
func compressible(ex *exchange, status int, h http.Header) bool {
	if !ex.beh.cfg.Compress || status != http.StatusOK || len(h["Content-Encoding"]) > 0 ||
		len(h["Content-Range"]) > 0 || !compress.Compressible(h.Get("Content-Type")) {
		return false
	}
	return !cache.ParseCacheControl(h["Cache-Control"]).NoTransform
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
	if !compressible(ex, resp.StatusCode, h) || !compress.SizeCompressible(resp.ContentLength) {
		return resp.Body, resp.ContentLength
	}
	respheaders.AddVary(h, "Accept-Encoding")
	enc := fwd.Get("Accept-Encoding")
	if !compress.Supported(enc) || len(ex.r.Header["Range"]) > 0 {
		return resp.Body, resp.ContentLength
	}
	compress.SetEncodedHeaders(h, enc)
	// A body of unknown length may be dynamic and slow: flush after every
	// read so viewers following it get bytes as they come. A declared one
	// is at most 10 MB and arrives at network speed: blocks fill naturally.
	return compress.NewReader(resp.Body, enc, resp.ContentLength < 0), -1
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
	if !compressible(ex, resp.StatusCode, h) || !compress.SizeCompressible(resp.ContentLength) {
		return resp.Body
	}
	respheaders.AddVary(h, "Accept-Encoding")
	enc := compress.Negotiate(ex.r, ex.beh.policy.CacheKey.EnableAcceptEncodingBrotli)
	if !compress.Supported(enc) || len(ex.r.Header["Range"]) > 0 {
		return resp.Body
	}
	compress.SetEncodedHeaders(h, enc)
	return compress.NewReader(resp.Body, enc, true)
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
		respheaders.AddVary(merged, "Accept-Encoding")
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
