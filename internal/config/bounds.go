package config

import (
	"time"
)

// The ranges of the numbers of the model that have no natural bound of their
// own. Every duration and size a configuration holds ends up in a
// time.Duration (nanoseconds in an int64, at most about 292 years) or an
// int64 byte count somewhere; a value past these bounds would overflow and
// silently change meaning (a TTL of 1e10 s became a negative lifetime: no
// caching at all), so Validate refuses it with the field path instead.
const (
	// MaxSeconds bounds every count of seconds (minTTL, defaultTTL,
	// maxTTL, errorCachingMinTTL, the max-age of CORS and HSTS): 100 years,
	// well inside a time.Duration.
	MaxSeconds int64 = 100 * 365 * 24 * 3600 // 3153600000

	// MaxMemoryCacheSize bounds pop.memoryCacheSize and pop.maxObjectSize.
	MaxMemoryCacheSize = 1 << 40 // 1TiB

	// MaxDiskCacheSize bounds pop.diskCacheSize.
	MaxDiskCacheSize = 1 << 50 // 1PiB
)

// seconds checks a count of seconds against 0..MaxSeconds.
func (v *validator) seconds(path string, n int64) bool {
	if n < 0 {
		v.add(path, "%d is negative", n)
		return false
	}
	if n > MaxSeconds {
		v.add(path, "%d is out of range 0..%d (%d seconds is 100 years)", n, MaxSeconds, MaxSeconds)
		return false
	}
	return true
}

// size fills in def for zero and checks the range lo..hi.
func (v *validator) size(path string, b *ByteSize, def, lo, hi ByteSize) {
	if *b == 0 {
		*b = def
	}
	if *b < lo || *b > hi {
		v.add(path, "%s is out of range %s..%s", *b, lo, hi)
	}
}

// duration fills in def for zero and checks the range lo..hi.
func (v *validator) duration(path string, d *Duration, def, lo, hi time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
	if got := time.Duration(*d); got < lo || got > hi {
		v.add(path, "%s is out of range %s..%s", got, lo, hi)
	}
}
