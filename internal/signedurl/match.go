package signedurl

import "strings"

// matchResource reports whether the URL s is covered by the policy resource
// pattern: '*' matches any run of characters (none included, '/' and '?'
// included), '?' matches exactly one character, and "\?" is a literal '?'
// (CloudFront asks to escape the '?' before a query string; an unescaped one
// still matches it, as a one-character wildcard). Every other character
// matches itself, case-sensitively.
//
// The pattern is split at its stars into pieces; the first piece is anchored
// at the start, the last at the end, and each piece between is matched at
// its leftmost place, which is correct for glob patterns and takes
// O(len(s)·len(pattern)) at worst.
func matchResource(pattern, s string) bool {
	pieces := splitPattern(pattern)
	if len(pieces) == 1 {
		return len(s) == len(pieces[0]) && pieceAt(pieces[0], s, 0)
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(s) < len(first)+len(last) || !pieceAt(first, s, 0) || !pieceAt(last, s, len(s)-len(last)) {
		return false
	}
	pos, end := len(first), len(s)-len(last)
	for _, pc := range pieces[1 : len(pieces)-1] {
		i := pieceIndex(pc, s[pos:end])
		if i < 0 {
			return false
		}
		pos += i + len(pc)
	}
	return true
}

// elem is one pattern element: a byte, or anyOne for '?'.
type elem int16

const anyOne elem = -1

// splitPattern turns a pattern into the pieces between its stars.
func splitPattern(pattern string) [][]elem {
	pieces := [][]elem{nil}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		cur := &pieces[len(pieces)-1]
		switch {
		case c == '*':
			pieces = append(pieces, nil)
		case c == '?':
			*cur = append(*cur, anyOne)
		case c == '\\' && i+1 < len(pattern) && pattern[i+1] == '?':
			*cur = append(*cur, elem('?'))
			i++
		default:
			*cur = append(*cur, elem(c))
		}
	}
	return pieces
}

// pieceAt reports whether piece matches s at offset off.
func pieceAt(piece []elem, s string, off int) bool {
	if off < 0 || off+len(piece) > len(s) {
		return false
	}
	for j, e := range piece {
		if e != anyOne && byte(e) != s[off+j] {
			return false
		}
	}
	return true
}

// pieceIndex returns the leftmost offset where piece matches in s, or -1.
func pieceIndex(piece []elem, s string) int {
	literal := true
	for _, e := range piece {
		if e == anyOne {
			literal = false
			break
		}
	}
	if literal {
		b := make([]byte, len(piece))
		for j, e := range piece {
			b[j] = byte(e)
		}
		return strings.Index(s, string(b))
	}
	for i := 0; i+len(piece) <= len(s); i++ {
		if pieceAt(piece, s, i) {
			return i
		}
	}
	return -1
}
