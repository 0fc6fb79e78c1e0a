package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"0", 0, ""},
		{"1048576", MiB, ""},
		{"1_000", 1000, ""},
		{"512MiB", 512 * MiB, ""},
		{"512 mib", 512 * MiB, ""},
		{"1GB", 1_000_000_000, ""},
		{"1KB", 1000, ""},
		{"1kib", KiB, ""},
		{"2GiB", 2 * GiB, ""},
		{"1TiB", 1 << 40, ""},
		{"1.5GiB", GiB + GiB/2, ""},
		{".5KiB", 512, ""},
		{"10B", 10, ""},
		{"", 0, "empty size"},
		{"MiB", 0, "is not a size"},
		{"-1", 0, "is not a size"},
		{"1.5", 0, "not a whole number of bytes"},
		{"0.1B", 0, "not a whole number of bytes"},
		{"12XB", 0, `unknown unit "XB"`},
		{"1e3", 0, `unknown unit "e3"`},
		{"9223372036854775808", 0, "too large"},
		{"9000000TiB", 0, "too large"},
		{"1..5MiB", 0, "is not a size"},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseByteSize(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %d", tt.in, int64(got), err, tt.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for _, b := range []ByteSize{0, 1, 1000, 1024, 1500, 256 * MiB, 1_000_000_000, 3 * GiB, 1 << 40, 5_000_000_000_000, 1<<63 - 1} {
		s := b.String()
		back, err := ParseByteSize(s)
		if err != nil || back != b {
			t.Errorf("%d → %q → %d, %v", int64(b), s, int64(back), err)
		}
	}
	if s := (256 * MiB).String(); s != "256MiB" {
		t.Errorf("256MiB prints as %q", s)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"10s", 10 * time.Second, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"24h", 24 * time.Hour, ""},
		{"1m30s", 90 * time.Second, ""},
		{"30", 30 * time.Second, ""},
		{"0", 0, ""},
		{"", 0, "empty duration"},
		{"1.5", 0, "has no unit"},
		{"-1s", 0, "negative"},
		{"-3", 0, "negative"},
		{"10 parsecs", 0, "is not a duration"},
		{"1d", 0, "is not a duration"},
		{"9223372037", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestUnitsJSON checks that encoding/json agrees with Parse about the units,
// for code that stores or sends a Config as JSON.
func TestUnitsJSON(t *testing.T) {
	var v struct {
		D, N Duration
		B, M ByteSize
	}
	if err := json.Unmarshal([]byte(`{"D": "1.5s", "N": 30, "B": "2KiB", "M": 100}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.D() != 1500*time.Millisecond || v.N.D() != 30*time.Second || v.B != 2*KiB || v.M != 100 {
		t.Errorf("decoded %+v", v)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"D":"1.5s","N":"30s","B":"2KiB","M":"100B"}` {
		t.Errorf("encoded %s", out)
	}
}
