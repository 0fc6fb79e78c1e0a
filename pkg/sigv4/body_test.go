package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// signedPUT signs a PUT of signedBody with the given payload hash and then
// gives it sentBody, with the given ContentLength (-1: the length of sentBody;
// 0 means unknown for a client request).
func signedPUT(t *testing.T, signedBody, payloadHash, sentBody string, length int64) *http.Request {
	t.Helper()
	r, err := http.NewRequest("PUT", "https://origin.example/upload", strings.NewReader(signedBody))
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(r, testCreds, testRegion, "strata", testNow, payloadHash); err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(strings.NewReader(sentBody))
	r.ContentLength = length
	if length < 0 {
		r.ContentLength = int64(len(sentBody))
	}
	if err := Verify(r, testSecrets, testRegion, "strata", testNow, 0); err != nil {
		t.Fatalf("Verify refused before the body was read: %v", err)
	}
	return r
}

func TestVerifyBody(t *testing.T) {
	const body = "the quick brown fox jumps over the lazy dog"
	t.Run("intact", func(t *testing.T) {
		for _, length := range []int64{-1, 0} {
			r := signedPUT(t, body, hashOf(body), body, length)
			got, err := io.ReadAll(r.Body)
			if err != nil || string(got) != body {
				t.Fatalf("length %d: read %q, %v", length, got, err)
			}
			// reading on after the end stays at EOF
			if n, err := r.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("read after the end = %d, %v", n, err)
			}
		}
	})
	t.Run("every byte tampered", func(t *testing.T) {
		n := 0
		tampers(body, func(bad string) {
			for _, length := range []int64{-1, 0} {
				n++
				r := signedPUT(t, body, hashOf(body), bad, length)
				got, err := io.ReadAll(r.Body)
				if err == nil {
					t.Fatalf("tampered body %q (length %d) read without error", bad, length)
				}
				if reason := reasonOf(t, err); reason != ReasonPayloadMismatch {
					t.Fatalf("reason %s", reason)
				}
				if length != 0 && string(got) == bad {
					// With a known length the last chunk is withheld; with
					// an unknown one the error comes with EOF.
					t.Fatalf("the whole tampered body was handed out")
				}
				if _, err2 := r.Body.Read(make([]byte, 8)); err2 != err {
					t.Fatalf("the error does not stick: %v", err2)
				}
			}
		})
		t.Logf("%d tampered bodies refused", n)
	})
	t.Run("read full at declared length", func(t *testing.T) {
		// A handler that reads exactly Content-Length bytes and never asks
		// for EOF still gets the error.
		bad := strings.Replace(body, "fox", "cat", 1)
		r := signedPUT(t, body, hashOf(body), bad, -1)
		buf := make([]byte, len(bad))
		if _, err := io.ReadFull(r.Body, buf); err == nil {
			t.Fatalf("io.ReadFull of the tampered body succeeded: %q", buf)
		}
	})
	t.Run("longer than declared", func(t *testing.T) {
		r := signedPUT(t, body, hashOf(body), body+"!!!", int64(len(body)))
		if _, err := io.ReadAll(r.Body); err == nil || reasonOf(t, err) != ReasonPayloadMismatch {
			t.Fatalf("extra bytes read: err %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		r := signedPUT(t, body, hashOf(body), body[:10], 0)
		if _, err := io.ReadAll(r.Body); err == nil || reasonOf(t, err) != ReasonPayloadMismatch {
			t.Fatalf("truncated body read: err %v", err)
		}
	})
	t.Run("unsigned payload", func(t *testing.T) {
		r := signedPUT(t, body, UnsignedPayload, "anything at all", -1)
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != "anything at all" {
			t.Fatalf("read %q, %v", got, err)
		}
	})
}
