package origin

import (
	"bytes"
	"testing"
)

func TestFaultyHTTP10(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nTRANSFER-ENCODING: gzip\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\nX-Transfer-Encoding: chunked\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\n\r\nTransfer-Encoding: chunked\r\n", false}, // in the body
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false}, // net/http reads that one
		{"HTTP/1.0 200 OK\r\nTransfer-Enc", false},                       // a head cut before the field
		{"", false},
	} {
		if got := faultyHTTP10([]byte(tt.in)); got != tt.want {
			t.Errorf("faultyHTTP10(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzFaultyHTTP10: never panics; only an HTTP/1.0 head that has the
// field before its end is faulty.
func FuzzFaultyHTTP10(f *testing.F) {
	for _, s := range []string{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0 \n\ntransfer-encoding:", "\x00\x81"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := faultyHTTP10(b)
		if got && (!bytes.HasPrefix(b, []byte("HTTP/1.0 ")) || !bytes.Contains(bytes.ToLower(b), []byte("\ntransfer-encoding:"))) {
			t.Fatalf("faultyHTTP10(%q) = true", b)
		}
		if !bytes.HasPrefix(b, []byte("HTTP/1.0 ")) && got {
			t.Fatal("not HTTP/1.0")
		}
	})
}
