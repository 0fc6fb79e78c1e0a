package dns

import (
	"crypto/rand"
	"strings"
)

// labelAlphabet is the alphabet of distribution labels: CloudFront's
// d111111abcdef8 shape is "d" followed by 13 lowercase letters and digits.
const labelAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// LabelLen is the length of a distribution label: "d" and 13 characters.
const LabelLen = 14

// NewLabel returns a fresh random distribution label of CloudFront's shape
// ("d" followed by 13 lowercase letters and digits, e.g. d3k9x0mzq1w2ab),
// from crypto/rand: 36^13 (about 2^67) possible labels, so the control
// plane that stores it needs no coordination to keep labels unique in
// practice (it still checks).
func NewLabel() string {
	var b [LabelLen]byte
	b[0] = 'd'
	var r [1]byte
	for i := 1; i < LabelLen; {
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
		// 252 = 7*36: reject the top bytes so each character is uniform.
		if r[0] < 252 {
			b[i] = labelAlphabet[r[0]%36]
			i++
		}
	}
	return string(b[:])
}

// IsLabel reports whether s has the shape of a distribution label: "d"
// followed by 13 lowercase ASCII letters or digits.
func IsLabel(s string) bool {
	if len(s) != LabelLen || s[0] != 'd' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune(labelAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// isHostLabel reports whether s is one lowercase host name label (RFC 1123:
// letters, digits and inner hyphens, at most 63 characters). A
// distribution's name in the zone is one such label under it: usually a
// [NewLabel], but an operator may choose one ("shop").
func isHostLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
