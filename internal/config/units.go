package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a number of bytes. In a configuration it is written as an
// integer (bytes) or as a string with a unit: "512MiB", "1GB", "1.5 GiB".
// Units are B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB
// (powers of 1024), case-insensitive.
type ByteSize int64

// Common sizes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var byteUnits = []struct {
	name string
	mult float64
}{
	{"b", 1},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
}

// ParseByteSize parses an integer number of bytes or a number with a unit.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(t[:i], "_", ""), strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("%q is not a size (write a number of bytes or a number with a unit: B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	if unit == "" {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			if strings.Contains(num, ".") {
				return 0, fmt.Errorf("%q is not a whole number of bytes", s)
			}
			return 0, fmt.Errorf("%q is too large", s)
		}
		return ByteSize(n), nil
	}
	for _, u := range byteUnits {
		if u.name != unit {
			continue
		}
		if !strings.Contains(num, ".") {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n > math.MaxInt64/int64(u.mult) {
				return 0, fmt.Errorf("%q is too large", s)
			}
			return ByteSize(n * int64(u.mult)), nil
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a size", s)
		}
		v := f * u.mult
		if v >= math.MaxInt64 {
			return 0, fmt.Errorf("%q is too large", s)
		}
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("%q is not a whole number of bytes", s)
		}
		return ByteSize(v), nil
	}
	return 0, fmt.Errorf("%q has an unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, t[i:])
}

// String writes the size with the largest unit that divides it exactly, in
// a form ParseByteSize reads back ("256MiB", "1GB", "1500B").
func (b ByteSize) String() string {
	if b == 0 {
		return "0B"
	}
	if b < 0 {
		return strconv.FormatInt(int64(b), 10) + "B"
	}
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalJSON reads a JSON string or a JSON number of bytes, so that
// encoding/json agrees with Parse.
func (b *ByteSize) UnmarshalJSON(data []byte) error { return unmarshalJSONScalar(data, b) }

// Duration is a length of time. In a configuration it is written as a Go
// duration string ("1.5s", "500ms", "24h") or as an integer number of
// seconds. Negative durations are refused.
type Duration time.Duration

// ParseDuration parses a Go duration string or an integer number of seconds.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		if n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return Duration(time.Duration(n) * time.Second), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		if _, ferr := strconv.ParseFloat(t, 64); ferr == nil {
			return 0, fmt.Errorf("%q has no unit (write whole seconds or a duration such as %ss)", s, t)
		}
		return 0, fmt.Errorf("%q is not a duration (write a duration such as \"10s\", \"1.5s\", \"5m\" or whole seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(d), nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes the duration as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON reads a JSON string or a JSON number of seconds, so that
// encoding/json agrees with Parse.
func (d *Duration) UnmarshalJSON(data []byte) error { return unmarshalJSONScalar(data, d) }

func unmarshalJSONScalar(data []byte, u interface{ UnmarshalText([]byte) error }) error {
	s := string(data)
	if s == "null" {
		return nil
	}
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	}
	return u.UnmarshalText([]byte(s))
}
