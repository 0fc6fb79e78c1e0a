package disk

import (
	"bytes"
	"testing"
)

// FuzzHead checks the header and trailer decoders: arbitrary bytes never
// panic, an encoded header decodes to what was written, and changing any one
// byte of an encoded header, key or meta is detected.
func FuzzHead(f *testing.F) {
	f.Add([]byte("https://example.com/a"), []byte(`{"status":200}`), int64(0), uint16(3))
	f.Add([]byte(""), []byte(""), int64(1<<20), uint16(0))
	f.Add([]byte("k"), bytes.Repeat([]byte{0xff}, 5000), int64(alignMin), uint16(21))
	f.Fuzz(func(t *testing.T, key, meta []byte, bodyLen int64, flip uint16) {
		// Arbitrary input to the decoders.
		raw := append(append([]byte{}, key...), meta...)
		if l, reason := parseHead(raw); reason == "" && len(raw) >= headLen+l.keyLen+l.metaLen {
			l.checkHead(raw)
		}
		var l layout
		l.parseTrailer(raw)

		if len(key) > maxKeyLen || len(meta) > maxMetaLen {
			return
		}
		bodyLen = max(bodyLen, 0) % (1 << 40)
		pad := padFor(len(key), len(meta), bodyLen)
		b := appendHead(nil, string(key), meta, pad)
		l, reason := parseHead(b)
		if reason != "" || !l.checkHead(b) {
			t.Fatalf("encoded header rejected: %s", reason)
		}
		if l.keyLen != len(key) || l.metaLen != len(meta) || l.padLen != pad || int(l.bodyOff()) != len(b) {
			t.Fatalf("decoded %+v from key %d meta %d pad %d", l, len(key), len(meta), pad)
		}
		if pad > 0 && l.bodyOff()%blockSize != 0 {
			t.Fatalf("padded body at %d", l.bodyOff())
		}
		tr := appendTrailer(nil, bodyLen, 0xdeadbeef)
		if reason := l.parseTrailer(tr); reason != "" || l.bodyLen != bodyLen || l.bodyCRC != 0xdeadbeef {
			t.Fatalf("trailer round trip: %q %+v", reason, l)
		}

		i := int(flip) % (headLen + len(key) + len(meta))
		b[i] ^= 0x5a
		if l, reason := parseHead(b); reason == "" && len(b) >= headLen+l.keyLen+l.metaLen && l.checkHead(b) {
			t.Fatalf("changed byte %d not detected", i)
		}
	})
}
