package disk

import (
	"encoding/binary"
	"hash/crc32"
)

// On-disk format of one entry file (all integers little-endian):
//
//	offset  size  field
//	0       4     magic "STRD"
//	4       2     format version (1)
//	6       2     reserved, zero
//	8       4     key length K (<= 64 KiB)
//	12      4     meta length M (<= 1 MiB)
//	16      4     padding length P (< 4096)
//	20      4     CRC-32C (Castagnoli) of bytes 0..20, the key and the meta
//	24      K     key
//	24+K    M     meta
//	24+K+M  P     zero padding, so that a large body starts on a 4 KiB boundary
//	B       N     body (B = 24+K+M+P)
//	B+N     8     body length N
//	B+N+8   4     CRC-32C of the body
//	B+N+12  4     magic "STRT"
//
// The file size must be exactly B+N+16. The header checksum covers what Get
// returns besides the body and is checked on every Get (it is small); the
// body checksum is separate so that UpdateMeta can carry it over without
// reading the body, and is checked once per entry per process (see Get).
const (
	headLen    = 24
	trailerLen = 16
	version    = 1

	maxKeyLen  = 64 << 10
	maxMetaLen = 1 << 20

	blockSize = 4096
	// alignMin is the body size from which the body is aligned to blockSize:
	// an aligned body can be shared with the copy UpdateMeta makes
	// (copy_file_range clones extents on XFS and Btrfs) and costs at most
	// 4 KiB of padding, under 3% of such a body.
	alignMin = 128 << 10
)

var (
	headMagic    = [4]byte{'S', 'T', 'R', 'D'}
	trailerMagic = [4]byte{'S', 'T', 'R', 'T'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// layout describes an entry file as read from its header and trailer.
type layout struct {
	keyLen, metaLen, padLen int
	headCRC                 uint32
	bodyLen                 int64
	bodyCRC                 uint32
}

func (l *layout) bodyOff() int64 { return int64(headLen + l.keyLen + l.metaLen + l.padLen) }

func (l *layout) fileSize() int64 { return l.bodyOff() + l.bodyLen + trailerLen }

// padFor returns the padding that aligns a body of bodyLen bytes (negative:
// unknown) placed after a key and meta of the given lengths.
func padFor(keyLen, metaLen int, bodyLen int64) int {
	if bodyLen < alignMin {
		return 0
	}
	return (blockSize - (headLen+keyLen+metaLen)%blockSize) % blockSize
}

// appendHead appends the header, key, meta and padding of an entry.
func appendHead(b []byte, key string, meta []byte, pad int) []byte {
	start := len(b)
	b = append(b, headMagic[:]...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(meta)))
	b = binary.LittleEndian.AppendUint32(b, uint32(pad))
	crc := crc32.Update(0, castagnoli, b[start:start+20])
	crc = crc32.Update(crc, castagnoli, []byte(key))
	crc = crc32.Update(crc, castagnoli, meta)
	b = binary.LittleEndian.AppendUint32(b, crc)
	b = append(b, key...)
	b = append(b, meta...)
	for range pad {
		b = append(b, 0)
	}
	return b
}

// parseHead decodes the fixed header b[:headLen]. It returns a reason when
// the header is not one of ours.
func parseHead(b []byte) (layout, string) {
	var l layout
	if len(b) < headLen {
		return l, "short header"
	}
	if [4]byte(b[0:4]) != headMagic {
		return l, "bad header magic"
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != version {
		return l, "unknown format version"
	}
	if binary.LittleEndian.Uint16(b[6:]) != 0 {
		return l, "reserved header bits set"
	}
	k := binary.LittleEndian.Uint32(b[8:])
	m := binary.LittleEndian.Uint32(b[12:])
	p := binary.LittleEndian.Uint32(b[16:])
	if k > maxKeyLen || m > maxMetaLen || p >= blockSize {
		return l, "header lengths out of range"
	}
	l.keyLen, l.metaLen, l.padLen = int(k), int(m), int(p)
	l.headCRC = binary.LittleEndian.Uint32(b[20:])
	return l, ""
}

// checkHead verifies the header checksum over b, which holds the header, the
// key and the meta.
func (l *layout) checkHead(b []byte) bool {
	crc := crc32.Update(0, castagnoli, b[:20])
	crc = crc32.Update(crc, castagnoli, b[headLen:headLen+l.keyLen+l.metaLen])
	return crc == l.headCRC
}

func appendTrailer(b []byte, bodyLen int64, crc uint32) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(bodyLen))
	b = binary.LittleEndian.AppendUint32(b, crc)
	return append(b, trailerMagic[:]...)
}

// parseTrailer decodes a trailer into l. It returns a reason when b is not a
// trailer.
func (l *layout) parseTrailer(b []byte) string {
	if len(b) < trailerLen || [4]byte(b[12:16]) != trailerMagic {
		return "bad trailer magic"
	}
	n := binary.LittleEndian.Uint64(b[0:])
	if n > 1<<62 {
		return "body length out of range"
	}
	l.bodyLen = int64(n)
	l.bodyCRC = binary.LittleEndian.Uint32(b[8:])
	return ""
}
