package pop

import "strings"

// Host and path normalization for stage 2: the host without its port,
// the path with dot segments removed and percent-encoding made canonical.

// normalizeHost lower-cases a Host and drops its port.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}

// cleanPath removes dot segments (RFC 3986 5.2.4) after decoding
// percent-encoded unreserved characters, so /a/%2e%2e/b and /b select the same
// behavior and key. It keeps trailing and repeated slashes.
func cleanPath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '%' {
				if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
					return "", false
				}
				d := unhex(p[i+1])<<4 | unhex(p[i+2])
				if isUnreserved(d) {
					b.WriteByte(d)
				} else {
					b.WriteByte('%')
					b.WriteByte(upper(p[i+1]))
					b.WriteByte(upper(p[i+2]))
				}
				i += 2
				continue
			}
			b.WriteByte(c)
		}
		p = b.String()
	}
	// Encoded slashes that would make dot segments for an origin that
	// decodes them (/a/..%2Fb) are refused: the CDN and the origin would
	// disagree about the path.
	if i := strings.IndexByte(p, '%'); i >= 0 && strings.Contains(p, "..") {
		alt := strings.NewReplacer("%2F", "/", "%5C", "/", "\\", "/").Replace(p)
		for _, seg := range strings.Split(alt, "/") {
			if seg == ".." || seg == "." {
				return "", false
			}
		}
	}
	if !strings.Contains(p, "/.") {
		return p, true
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
