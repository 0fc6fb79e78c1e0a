// Package compress is compression at the edge, as CloudFront does it (a
// cache behavior's `compress: true`): which encoding a viewer gets, which
// responses may be compressed, and the streaming encoder. It knows nothing
// of the PoP: it reads config, an http.Request and an http.Header. The glue
// that needs the exchange (the cache key segment, the origin's
// Accept-Encoding, the fetch and pass paths) is internal/pop/compress.go.
//
// Which encoding. The viewer's Accept-Encoding is negotiated down to one
// encoding (Negotiate), in Strata's order of preference br > zstd > gzip
// (CloudFront prefers Brotli over gzip; zstd, which CloudFront does not
// offer, sits between them: it compresses about as well as Brotli at its
// fast levels and faster than gzip). An encoding is accepted when the
// viewer lists it (or "*") with q > 0; q values only accept or refuse, they
// do not rank. Brotli needs the cache policy's enableAcceptEncodingBrotli,
// as in CloudFront; gzip and zstd need only `compress`. An HTTP/1.0 request
// gets identity (CloudFront drops its Accept-Encoding).
//
// The cache key. With compress on, the key holds the chosen encoding
// ("enc=br", "enc=zstd", "enc=gzip" or "enc=identity") instead of the
// normalized Accept-Encoding list (AcceptEncoding): one cached variant per
// encoding served, whatever the spelling of the header. The origin is asked
// with exactly that encoding in Accept-Encoding (nothing for identity), so
// it may compress itself, and whatever it answers is right for every viewer
// of the key.
//
// When. A response is compressed when all hold: compress is on; status 200;
// no Content-Encoding from the origin (an origin-encoded response passes
// through as it is); a Content-Type on CloudFront's list (Compressible); no
// `Cache-Control: no-transform`; its length, when declared, between 1,000
// and 10,000,000 bytes (SizeCompressible: CloudFront's limits; a body of
// unknown length is compressed: CloudFront refuses those, but chunked
// dynamic text is the case that gains most); and, for a cached object, the
// request that starts the fetch is not a Range request (see the PoP's
// compressFetched).
//
// Where. A cached response is compressed as it streams from the origin into
// the cache body (NewReader, from the PoP's fetch): the stored object is the
// compressed representation, so a hit is a plain copy (or sendfile) and an
// object is compressed once per PoP, not once per viewer. Memory stays
// bounded: the encoder works on 32 KiB reads and its own window. A response
// that is not cached (pass) is compressed the same way on its way to the
// viewer, flushed after every read so a streamed response keeps streaming;
// CloudFront also compresses dynamic (uncached) content.
//
// Headers. Compressed responses carry Content-Encoding, no Content-Length
// until the compressed length is known (a complete stored object has one),
// and a weak ETag: a strong origin ETag gets W/, a weak one is kept, an
// invalid one is dropped (CloudFront's ETag conversion; SetEncodedHeaders).
// A response that is, or for another viewer would be, compressed (every rule
// above holds but the viewer's Accept-Encoding or a Range) gets
// `Accept-Encoding` added to its Vary, as a field line of its own after the
// origin's, so caches downstream keep the variants apart. Any other response
// keeps the origin's Vary exactly as it came: a response whose
// representation does not depend on Accept-Encoding does not say that it
// does.
package compress
