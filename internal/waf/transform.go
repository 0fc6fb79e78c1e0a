package waf

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// transform is one text transformation. The semantics follow AWS WAF's
// descriptions (waf-rule-statement-transformation), which are those of
// ModSecurity's transformations of the same names.
type transform func(string) string

// transforms maps AWS's TextTransformation types to their functions.
var transforms = map[string]transform{
	"NONE":                 func(s string) string { return s },
	"COMPRESS_WHITE_SPACE": compressWhiteSpace,
	"HTML_ENTITY_DECODE":   htmlEntityDecode,
	"LOWERCASE":            strings.ToLower,
	"UPPERCASE":            strings.ToUpper,
	"CMD_LINE":             cmdLine,
	"CMD_LINE_WIN":         cmdLine,
	"CMD_LINE_UNIX":        cmdLineUnix,
	"URL_DECODE":           func(s string) string { return urlDecode(s, false) },
	"URL_DECODE_UNI":       func(s string) string { return urlDecode(s, true) },
	"BASE64_DECODE":        base64Decode,
	"BASE64_DECODE_EXT":    base64DecodeExt,
	"HEX_DECODE":           hexDecode,
	"MD5":                  func(s string) string { h := md5.Sum([]byte(s)); return string(h[:]) },
	"SHA256":               func(s string) string { h := sha256.Sum256([]byte(s)); return string(h[:]) },
	"REPLACE_COMMENTS":     replaceComments,
	"REMOVE_COMMENTS_CHAR": removeCommentsChar,
	"ESCAPE_SEQ_DECODE":    escapeSeqDecode,
	"SQL_HEX_DECODE":       sqlHexDecode,
	"CSS_DECODE":           cssDecode,
	"JS_DECODE":            func(s string) string { return jsDecode(s, false) },
	"JS_DECODE_EXT":        func(s string) string { return jsDecode(s, true) },
	"NORMALIZE_PATH":       func(s string) string { return normalizePath(s, false) },
	"NORMALIZE_PATH_WIN":   func(s string) string { return normalizePath(s, true) },
	"REMOVE_NULLS":         func(s string) string { return strings.ReplaceAll(s, "\x00", "") },
	"REPLACE_NULLS":        func(s string) string { return strings.ReplaceAll(s, "\x00", " ") },
	"UTF8_TO_UNICODE":      utf8ToUnicode,
	"REMOVE_WHITESPACE":    removeWhitespace,
	"TRIM":                 func(s string) string { return strings.Trim(s, wsChars) },
	"TRIM_LEFT":            func(s string) string { return strings.TrimLeft(s, wsChars) },
	"TRIM_RIGHT":           func(s string) string { return strings.TrimRight(s, wsChars) },
}

// maxTransformations is AWS's limit per statement... raised: AWS allows 10
// since 2023; older exports have at most 3.
const maxTransformations = 10

// compileTransforms checks a statement's transformations and returns them
// in priority order (nil for none or only NONE).
func compileTransforms(tt []TextTransformation, path string) ([]transform, error) {
	if len(tt) > maxTransformations {
		return nil, errorf(path, "%d transformations, at most %d", len(tt), maxTransformations)
	}
	sorted := append([]TextTransformation(nil), tt...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Priority < sorted[j].Priority })
	seen := map[int64]bool{}
	var out []transform
	for i, t := range tt {
		p := path + "[" + strconv.Itoa(i) + "]"
		if seen[t.Priority] {
			return nil, errorf(p+".Priority", "priority %d is used twice", t.Priority)
		}
		seen[t.Priority] = true
		if _, ok := transforms[t.Type]; !ok {
			return nil, errorf(p+".Type", "unknown transformation %q", t.Type)
		}
	}
	for _, t := range sorted {
		if t.Type != "NONE" {
			out = append(out, transforms[t.Type])
		}
	}
	return out, nil
}

func applyTransforms(ts []transform, s string) string {
	for _, t := range ts {
		s = t(s)
	}
	return s
}

const wsChars = " \t\n\r\v\f"

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// compressWhiteSpace turns \f \t \n \r \v and the non-breaking space into
// spaces and runs of spaces into one.
func compressWhiteSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) || c == 0xa0 {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

func removeWhitespace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isSpace(c) && c != 0xa0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// htmlEntityDecode decodes &quot; &amp; &lt; &gt; &nbsp; (to 0xa0), &#xHH;
// and &#DD; (the terminating ; optional, as ModSecurity's).
func htmlEntityDecode(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '&' {
			b.WriteByte(s[i])
			i++
			continue
		}
		rest := s[i+1:]
		if strings.HasPrefix(rest, "#") {
			j, base := 1, 10
			if len(rest) > 1 && (rest[1] == 'x' || rest[1] == 'X') {
				j, base = 2, 16
			}
			k := j
			for k < len(rest) && isDigitBase(rest[k], base) {
				k++
			}
			if k > j {
				n, err := strconv.ParseUint(rest[j:k], base, 32)
				if err == nil {
					writeCode(&b, rune(n))
					if k < len(rest) && rest[k] == ';' {
						k++
					}
					i += 1 + k
					continue
				}
			}
		} else {
			matched := false
			for _, e := range [...]struct{ name, val string }{{"quot", "\""}, {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"nbsp", "\xa0"}} {
				if len(rest) >= len(e.name) && strings.EqualFold(rest[:len(e.name)], e.name) {
					b.WriteString(e.val)
					i += 1 + len(e.name)
					if i < len(s) && s[i] == ';' {
						i++
					}
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		b.WriteByte('&')
		i++
	}
	return b.String()
}

// writeCode writes a decoded code point as its low byte, as ModSecurity
// does (AWS: "only the lower byte is used").
func writeCode(b *strings.Builder, r rune) {
	b.WriteByte(byte(r))
}

func isDigitBase(c byte, base int) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	if base == 16 {
		return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	return false
}

func isHex(c byte) bool { return isDigitBase(c, 16) }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// cmdLine (AWS CMD_LINE, for Windows and Unix command lines): deletes \ "
// ' ^, deletes spaces before / and (, turns , and ; into a space, compresses
// white space and lowercases.
func cmdLine(s string) string { return cmdLineWith(s, "\\\"'^") }

// cmdLineUnix is cmdLine for Unix shells: it also deletes the shell's
// quoting and substitution noise ($ @ ` { }) that attackers insert to split
// words (c$@at, c“at, {cat,/etc/passwd}) and keeps ^ (not an escape in
// sh). This is Strata's reading; AWS documents no detail.
func cmdLineUnix(s string) string { return cmdLineWith(s, "\\\"'`$@{}") }

func cmdLineWith(s, deleted string) string {
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(deleted, c) >= 0 {
			continue
		}
		switch c {
		case ' ', ',', ';', '\t', '\n', '\r', '\v', '\f':
			if !space {
				b = append(b, ' ')
				space = true
			}
			continue
		case '/', '(':
			if space {
				b = b[:len(b)-1]
			}
		}
		space = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// urlDecode decodes %HH and + (to a space); an invalid escape is kept as
// it is. With uni it also decodes %uHHHH: full-width ASCII (FF01-FF5E) to
// ASCII, else the low byte.
func urlDecode(s string, uni bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && uni && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') &&
			isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			n, _ := strconv.ParseUint(s[i+2:i+6], 16, 32)
			b.WriteByte(fullWidth(rune(n)))
			i += 5
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fullWidth maps full-width ASCII (U+FF01-U+FF5E) to ASCII, and any other
// code point to its low byte.
func fullWidth(r rune) byte {
	if r >= 0xff01 && r <= 0xff5e {
		return byte(r - 0xfee0)
	}
	return byte(r)
}

// base64Decode decodes a base64 string (padding optional); it stops at the
// first character that is not base64, decoding what came before.
func base64Decode(s string) string {
	end := 0
	for end < len(s) && isB64(s[end]) {
		end++
	}
	t := strings.TrimRight(s[:end], "=")
	out, err := base64.RawStdEncoding.DecodeString(t)
	if err != nil {
		// a trailing partial quantum: decode the whole quanta
		t = t[:len(t)/4*4]
		out, _ = base64.RawStdEncoding.DecodeString(t)
	}
	return string(out)
}

// base64DecodeExt decodes base64, ignoring characters that are not base64
// (and accepting the URL alphabet).
func base64DecodeExt(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			b.WriteByte('+')
		case c == '_':
			b.WriteByte('/')
		case isB64(c) && c != '=':
			b.WriteByte(c)
		}
	}
	return base64Decode(b.String())
}

func isB64(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='
}

// hexDecode decodes pairs of hex digits; it stops at the first character
// that is not one.
func hexDecode(s string) string {
	end := 0
	for end+1 < len(s) && isHex(s[end]) && isHex(s[end+1]) {
		end += 2
	}
	out, _ := hex.DecodeString(s[:end])
	return string(out)
}

// replaceComments replaces each /* … */ comment with a space; an
// unterminated comment runs to the end.
func replaceComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return b.String()
		}
		s = s[i+2+j+2:]
	}
}

// removeCommentsChar deletes the comment markers /* */ -- and #.
func removeCommentsChar(s string) string {
	r := strings.NewReplacer("/*", "", "*/", "", "--", "", "#", "")
	return r.Replace(s)
}

// escapeSeqDecode decodes ANSI C escapes: \a \b \f \n \r \t \v \\ \? \' \"
// \xHH and \0OO (octal); an invalid escape drops the backslash.
func escapeSeqDecode(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'X':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
			} else {
				b.WriteByte(e)
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, j := 0, i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				n = n*8 + int(s[j]-'0')
				j++
			}
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte(e)
		}
	}
	return b.String()
}

// sqlHexDecode decodes SQL hex literals: 0x414243 → ABC.
func sqlHexDecode(s string) string {
	if !strings.Contains(s, "0x") && !strings.Contains(s, "0X") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '0' && i+3 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) && isHex(s[i+3]) {
			j := i + 2
			for j+1 < len(s) && isHex(s[j]) && isHex(s[j+1]) {
				b.WriteByte(unhex(s[j])<<4 | unhex(s[j+1]))
				j += 2
			}
			i = j - 1
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cssDecode decodes CSS 2.x escapes: \ and 1 to 6 hex digits (one
// following white space is eaten; full-width ASCII to ASCII, else the low
// byte), \ and a newline (removed), \ and any other character (that
// character).
func cssDecode(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			break // a trailing backslash is dropped
		}
		j := i + 1
		for j < len(s) && j < i+7 && isHex(s[j]) {
			j++
		}
		if j > i+1 {
			n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			b.WriteByte(fullWidth(rune(n)))
			if j < len(s) && isSpace(s[j]) {
				j++
			}
			i = j - 1
			continue
		}
		if s[i+1] == '\n' {
			i++
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// jsDecode decodes JavaScript escapes: \uHHHH (full-width ASCII to ASCII,
// else the low byte), \xHH, \OOO, and the C escapes. With ext (JS_DECODE_EXT)
// it also decodes \u{H…} and writes \u escapes outside ASCII as UTF-8
// instead of their low byte.
func jsDecode(s string, ext bool) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		e := s[i+1]
		switch {
		case e == 'u' && ext && i+2 < len(s) && s[i+2] == '{':
			end := strings.IndexByte(s[i+3:], '}')
			if end > 0 && end <= 6 {
				if n, err := strconv.ParseUint(s[i+3:i+3+end], 16, 32); err == nil {
					writeJSCode(&b, rune(n), ext)
					i += 3 + end
					continue
				}
			}
			b.WriteByte(e)
			i++
		case e == 'u' && i+5 < len(s) && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			n, _ := strconv.ParseUint(s[i+2:i+6], 16, 32)
			writeJSCode(&b, rune(n), ext)
			i += 5
		case e == 'x' && i+3 < len(s) && isHex(s[i+2]) && isHex(s[i+3]):
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
		case e >= '0' && e <= '7':
			n, j := 0, i+1
			for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' && n*8+int(s[j]-'0') <= 0xff {
				n = n*8 + int(s[j]-'0')
				j++
			}
			b.WriteByte(byte(n))
			i = j - 1
		default:
			switch e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			default:
				b.WriteByte(e)
			}
			i++
		}
	}
	return b.String()
}

func writeJSCode(b *strings.Builder, r rune, ext bool) {
	if ext && r >= 0x80 && !(r >= 0xff01 && r <= 0xff5e) && utf8.ValidRune(r) {
		b.WriteRune(r)
		return
	}
	b.WriteByte(fullWidth(r))
}

// normalizePath removes repeated slashes, "." segments and resolves ".."
// segments (never above the root); with win it first turns \ into /.
func normalizePath(s string, win bool) string {
	if win {
		s = strings.ReplaceAll(s, "\\", "/")
	}
	if s == "" {
		return s
	}
	abs := s[0] == '/'
	trailing := strings.HasSuffix(s, "/") || strings.HasSuffix(s, "/.") || strings.HasSuffix(s, "/..") || s == "." || s == ".."
	var out []string
	for _, seg := range strings.Split(s, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 && out[len(out)-1] != ".." {
				out = out[:len(out)-1]
			} else if !abs {
				out = append(out, "..")
			}
		default:
			out = append(out, seg)
		}
	}
	r := strings.Join(out, "/")
	if abs {
		r = "/" + r
	}
	if trailing && !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}

// utf8ToUnicode writes each multi-byte UTF-8 sequence as %uHHHH.
func utf8ToUnicode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || n == 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		fmt.Fprintf(&b, "%%u%04x", r)
		i += n
	}
	return b.String()
}
