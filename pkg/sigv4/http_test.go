package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// verifyingServer starts a real HTTP server that verifies every request for
// service and answers 403 and the reason if refused, 400 and the reason if
// the body fails, else 200 and the hex SHA-256 of the body it read.
func verifyingServer(t *testing.T, service string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := Verify(r, testSecrets, testRegion, service, testNow, 0); err != nil {
			var e *Error
			errors.As(err, &e)
			http.Error(w, e.Reason+": "+e.Message, http.StatusForbidden)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				http.Error(w, e.Reason, http.StatusBadRequest)
			} else {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
			return
		}
		sum := sha256.Sum256(b)
		io.WriteString(w, hex.EncodeToString(sum[:]))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// toServer points r at srv, keeping the Host it had.
func toServer(r *http.Request, srv *httptest.Server) {
	u, _ := url.Parse(srv.URL)
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
}

// TestVerifyOverHTTP sends every case, signed by AWS's signer and by Sign,
// over real HTTP to a server that verifies what it received.
func TestVerifyOverHTTP(t *testing.T) {
	servers := map[string]*httptest.Server{"s3": verifyingServer(t, "s3"), "strata": verifyingServer(t, "strata")}
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(t *testing.T, r *http.Request) (int, string) {
		t.Helper()
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	variants(t, func(t *testing.T, c reqCase, service string, creds Credentials) {
		for _, signer := range []string{"aws", "sign"} {
			r := c.newRequest(t)
			toServer(r, servers[service])
			if signer == "aws" {
				awsSign(t, r, creds, service, c.payloadHash())
			} else if err := Sign(r, creds, testRegion, service, testNow, c.payloadHash()); err != nil {
				t.Fatal(err)
			}
			code, body := do(t, r)
			if code != http.StatusOK || body != hashOf(c.body) {
				t.Fatalf("%s: %d %s; want 200 and the body's hash", signer, code, body)
			}
		}
	})

	t.Run("body tampered on the way", func(t *testing.T) {
		for _, signer := range []string{"aws", "sign"} {
			r, _ := http.NewRequest("PUT", servers["strata"].URL+"/o", strings.NewReader("hello"))
			if signer == "aws" {
				awsSign(t, r, testCreds, "strata", hashOf("hello"))
			} else if err := Sign(r, testCreds, testRegion, "strata", testNow, hashOf("hello")); err != nil {
				t.Fatal(err)
			}
			r.Body = io.NopCloser(strings.NewReader("jello"))
			if code, body := do(t, r); code != http.StatusBadRequest || body != ReasonPayloadMismatch {
				t.Fatalf("%s: %d %s; want 400 %s", signer, code, body, ReasonPayloadMismatch)
			}
		}
	})
	t.Run("query changed on the way", func(t *testing.T) {
		r, _ := http.NewRequest("GET", servers["strata"].URL+"/o?size=small", nil)
		if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = "size=large"
		if code, body := do(t, r); code != http.StatusForbidden || !strings.HasPrefix(body, ReasonSignatureMismatch) {
			t.Fatalf("%d %s; want 403 %s", code, body, ReasonSignatureMismatch)
		}
	})
}
