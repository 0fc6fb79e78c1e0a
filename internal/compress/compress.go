package compress

import (
	"net/http"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
)

// CloudFront's size limits for compression, in bytes.
const (
	MinSize = 1000
	MaxSize = 10_000_000
)

// Encodings, as Content-Encoding and Accept-Encoding name them.
const (
	Brotli = "br"
	Zstd   = "zstd"
	Gzip   = "gzip"
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

// Compressible reports whether a Content-Type value is on CloudFront's list
// (parameters and case ignored).
func Compressible(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if compressibleTypes[mt] {
		return true
	}
	return compressibleTypes[strings.ToLower(mt)]
}

// SizeCompressible applies CloudFront's limits to a declared length (-1:
// unknown, compressed).
func SizeCompressible(n int64) bool {
	return n < 0 || (n >= MinSize && n <= MaxSize)
}

// Negotiate picks the encoding for a viewer's Accept-Encoding: Brotli (when
// allowed), Zstd, Gzip, or "" for identity.
func Negotiate(r *http.Request, allowBrotli bool) string {
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
		return Brotli
	case ok(zs):
		return Zstd
	case ok(gz):
		return Gzip
	}
	return ""
}

// AcceptEncoding normalizes Accept-Encoding to the encodings a cache policy
// keys on ("br,gzip", "gzip", "br" or ""), as CloudFront does when compress
// is off.
func AcceptEncoding(h http.Header, ck *config.CacheKeyConfig) string {
	if !ck.EnableAcceptEncodingGzip && !ck.EnableAcceptEncodingBrotli {
		return ""
	}
	var gz, br bool
	for _, v := range h["Accept-Encoding"] {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok && isZeroQ(q) {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip":
				gz = true
			case "br":
				br = true
			}
		}
	}
	switch {
	case br && gz && ck.EnableAcceptEncodingBrotli && ck.EnableAcceptEncodingGzip:
		return "br,gzip"
	case br && ck.EnableAcceptEncodingBrotli:
		return "br"
	case gz && ck.EnableAcceptEncodingGzip:
		return "gzip"
	}
	return ""
}

// isZeroQ reports whether a q value refuses ("0", "0.", "0.000").
func isZeroQ(q string) bool {
	q = strings.TrimSpace(q)
	return q == "0" || strings.TrimRight(q, "0") == "0." || q == "0."
}

// SetEncodedHeaders turns the origin's header into the header of its
// representation in encoding enc.
func SetEncodedHeaders(h http.Header, enc string) {
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
