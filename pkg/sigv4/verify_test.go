package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var allReasons = []string{
	ReasonMissingAuthorization, ReasonMalformedAuthorization, ReasonUnsignedHost, ReasonUnsignedHeader,
	ReasonMissingDate, ReasonMalformedDate, ReasonExpired, ReasonWrongScope, ReasonUnknownKey,
	ReasonMalformedQuery, ReasonMissingContentSHA256, ReasonBadContentSHA256, ReasonPayloadMismatch,
	ReasonSignatureMismatch,
}

// reasonOf returns the Reason of a Verify error, failing the test if err is
// not an *Error with a known reason and a message.
func reasonOf(t testing.TB, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *sigv4.Error", err, err)
	}
	if !slices.Contains(allReasons, e.Reason) || e.Message == "" {
		t.Fatalf("error %#v: unknown reason or empty message", e)
	}
	return e.Reason
}

// signedGET is a valid request signed by Sign for service "strata".
func signedGET(t testing.TB) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", "https://origin.example/assets/app.js?v=3&lang=en", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Meta-Pop", "FRA1")
	if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
		t.Fatal(err)
	}
	if err := Verify(r, testSecrets, testRegion, "strata", testNow, 0); err != nil {
		t.Fatalf("the valid request is refused: %v", err)
	}
	return r
}

func TestVerifyReasons(t *testing.T) {
	base := signedGET(t)
	auth := base.Header.Get("Authorization")
	setAuth := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Authorization", v) } }

	cases := []struct {
		name    string
		mutate  func(r *http.Request)
		region  string
		service string
		now     time.Time
		skew    time.Duration
		want    string // "" = accepted
	}{
		{name: "valid", want: ""},
		{name: "compact separators", mutate: setAuth(strings.ReplaceAll(auth, ", ", ",")), want: ""},
		{name: "wide separators", mutate: setAuth(strings.ReplaceAll(auth, ", ", ",   ")), want: ""},
		{name: "parts reordered", mutate: func(r *http.Request) {
			rest := strings.TrimPrefix(auth, Algorithm+" ")
			p := strings.Split(rest, ", ")
			r.Header.Set("Authorization", Algorithm+" "+p[2]+", "+p[0]+", "+p[1])
		}, want: ""},
		{name: "skew just inside", now: testNow.Add(14*time.Minute + 59*time.Second), want: ""},
		{name: "skew just inside, clock behind", now: testNow.Add(-15 * time.Minute), want: ""},
		{name: "skew option", now: testNow.Add(2 * time.Minute), skew: time.Minute, want: ReasonExpired},

		{name: "no authorization", mutate: func(r *http.Request) { r.Header.Del("Authorization") }, want: ReasonMissingAuthorization},
		{name: "two authorization", mutate: func(r *http.Request) { r.Header.Add("Authorization", auth) }, want: ReasonMalformedAuthorization},
		{name: "other algorithm", mutate: setAuth(strings.Replace(auth, "SHA256", "SHA1", 1)), want: ReasonMalformedAuthorization},
		{name: "sigv2", mutate: setAuth("AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="), want: ReasonMalformedAuthorization},
		{name: "bearer", mutate: setAuth("Bearer abc"), want: ReasonMalformedAuthorization},
		{name: "host not signed", mutate: setAuth(strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=", 1)), want: ReasonUnsignedHost},
		{name: "no date", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, want: ReasonMissingDate},
		{name: "two dates", mutate: func(r *http.Request) { r.Header.Add("X-Amz-Date", r.Header.Get("X-Amz-Date")) }, want: ReasonMalformedDate},
		{name: "iso date", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-03-04T05:06:07Z") }, want: ReasonMalformedDate},
		{name: "hour 50", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260304T5060700Z"[:15]+"Z") }, want: ReasonMalformedDate},
		{name: "month 13", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20261304T050607Z") }, want: ReasonMalformedDate},
		{name: "expired", now: testNow.Add(16 * time.Minute), want: ReasonExpired},
		{name: "from the future", now: testNow.Add(-16 * time.Minute), want: ReasonExpired},
		{name: "scope date", mutate: setAuth(strings.Replace(auth, "/20260304/", "/20260305/", 1)), want: ReasonWrongScope},
		{name: "region", region: "us-east-1", want: ReasonWrongScope},
		{name: "service", service: "s3", want: ReasonWrongScope},
		{name: "terminator", mutate: setAuth(strings.Replace(auth, "aws4_request", "aws4_requesx", 1)), want: ReasonWrongScope},
		{name: "unknown key", mutate: setAuth(strings.Replace(auth, "AKIDEXAMPLE", "AKIDOTHER", 1)), want: ReasonUnknownKey},
		{name: "other known key", mutate: setAuth(strings.Replace(auth, "AKIDEXAMPLE", "AKIDSECOND", 1)), want: ReasonSignatureMismatch},
		{name: "added x-amz header", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Added", "1") }, want: ReasonUnsignedHeader},
		{name: "added x-amz header, lower-case key", mutate: func(r *http.Request) { r.Header["x-amz-acl"] = []string{"public-read"} }, want: ReasonUnsignedHeader},
		{name: "added other header", mutate: func(r *http.Request) { r.Header.Set("Accept", "text/html") }, want: ""},
		{name: "bad query", mutate: func(r *http.Request) { r.URL.RawQuery += "&x=%zz" }, want: ReasonMalformedQuery},
		{name: "semicolon query", mutate: func(r *http.Request) { r.URL.RawQuery += "&x=1;y=2" }, want: ReasonMalformedQuery},
		{name: "body without hash", mutate: func(r *http.Request) {
			r.Header.Del("X-Amz-Content-Sha256")
			r.Body = io.NopCloser(strings.NewReader("x"))
		}, want: ReasonMissingContentSHA256},
		{name: "hash removed", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, want: ReasonSignatureMismatch},
		{name: "streaming payload", mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		}, want: ReasonBadContentSHA256},
		{name: "upper-case hash", mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.ToUpper(EmptyPayloadHash))
		}, want: ReasonBadContentSHA256},
		{name: "signature flipped", mutate: func(r *http.Request) {
			i := strings.Index(auth, "Signature=") + len("Signature=")
			c := byte('0')
			if auth[i] == '0' {
				c = '1'
			}
			r.Header.Set("Authorization", auth[:i]+string(c)+auth[i+1:])
		}, want: ReasonSignatureMismatch},
		{name: "method", mutate: func(r *http.Request) { r.Method = "HEAD" }, want: ReasonSignatureMismatch},
		{name: "host", mutate: func(r *http.Request) { r.Host = "evil.example" }, want: ReasonSignatureMismatch},
		{name: "path", mutate: func(r *http.Request) { r.URL.Path = "/assets/app.js/" }, want: ReasonSignatureMismatch},
		{name: "query added", mutate: func(r *http.Request) { r.URL.RawQuery += "&debug=1" }, want: ReasonSignatureMismatch},
		{name: "query dropped", mutate: func(r *http.Request) { r.URL.RawQuery = "v=3" }, want: ReasonSignatureMismatch},
		{name: "query reordered", mutate: func(r *http.Request) { r.URL.RawQuery = "lang=en&v=3" }, want: ""},
		{name: "query re-encoded", mutate: func(r *http.Request) { r.URL.RawQuery = "%76=%33&lang=e%6E" }, want: ""},
		{name: "signed header changed", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Pop", "FRA2") }, want: ReasonSignatureMismatch},
		{name: "signed header whitespace", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Pop", "  FRA1 ") }, want: ""},
		{name: "signed header second value", mutate: func(r *http.Request) { r.Header.Add("X-Amz-Meta-Pop", "FRA1") }, want: ReasonSignatureMismatch},
		{name: "empty body with a hash of something", mutate: func(r *http.Request) {
			sum := sha256.Sum256([]byte("x"))
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		}, want: ReasonSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base.Clone(context.Background())
			if tc.mutate != nil {
				tc.mutate(r)
			}
			region, service, now := testRegion, "strata", testNow
			if tc.region != "" {
				region = tc.region
			}
			if tc.service != "" {
				service = tc.service
			}
			if !tc.now.IsZero() {
				now = tc.now
			}
			err := Verify(r, testSecrets, region, service, now, tc.skew)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %s", tc.want)
			}
			if got := reasonOf(t, err); got != tc.want {
				t.Fatalf("reason %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

// TestVerifyPayloadMismatchUpFront: a request with no body whose signature
// covers the hash of a non-empty body is refused without a read.
func TestVerifyPayloadMismatchUpFront(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	r, _ := http.NewRequest("PUT", "https://origin.example/o", nil)
	if err := Sign(r, testCreds, testRegion, "strata", testNow, hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	err := Verify(r, testSecrets, testRegion, "strata", testNow, 0)
	if reason := reasonOf(t, err); reason != ReasonPayloadMismatch {
		t.Fatalf("reason %s, want %s", reason, ReasonPayloadMismatch)
	}
}

func TestVerifyNoContentSHA256WithoutBody(t *testing.T) {
	// AWS's signer itself never sets X-Amz-Content-Sha256; a body-less
	// request signed without it is verified with the empty hash.
	r, _ := http.NewRequest("GET", "https://origin.example/o?x=1", nil)
	if err := awsv4Sign(r, "strata", EmptyPayloadHash); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-Amz-Content-Sha256") != "" {
		t.Fatal("the header is set; the test proves nothing")
	}
	if err := Verify(r, testSecrets, testRegion, "strata", testNow, 0); err != nil {
		t.Fatal(err)
	}
}

// replacements returns the bytes a tamper puts in place of c: always
// different from c.
func replacements(c byte) []byte {
	out := make([]byte, 0, 4)
	for _, set := range []string{"xy", "07", "/%", " ."} {
		if set[0] != c {
			out = append(out, set[0])
		} else {
			out = append(out, set[1])
		}
	}
	return out
}

// tampers calls f with every single-byte change of s.
func tampers(s string, f func(string)) {
	for i := 0; i < len(s); i++ {
		for _, c := range replacements(s[i]) {
			f(s[:i] + string(c) + s[i+1:])
		}
	}
}

// TestVerifyTamper: for requests signed by AWS's signer and by Sign, every
// single-byte change of the method, the path, a query name or value, a signed
// header or the Authorization header is refused.
func TestVerifyTamper(t *testing.T) {
	n := 0
	for _, c := range reqCases {
		for _, service := range []string{"s3", "strata"} {
			for _, signer := range []string{"aws", "sign"} {
				t.Run(c.name+"/"+service+"/"+signer, func(t *testing.T) {
					base := c.newRequest(t)
					if signer == "aws" {
						awsSign(t, base, testCreds, service, c.payloadHash())
					} else if err := Sign(base, testCreds, testRegion, service, testNow, c.payloadHash()); err != nil {
						t.Fatal(err)
					}
					n += tamperAll(t, base, c.body, service)
				})
			}
		}
	}
	t.Logf("%d tampered requests refused", n)
}

// tamperAll checks every single-byte tamper of r and returns how many it tried.
func tamperAll(t *testing.T, base *http.Request, body, service string) int {
	t.Helper()
	n := 0
	clone := func() *http.Request {
		r := base.Clone(context.Background())
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
		}
		return r
	}
	check := func(what string, r *http.Request, wantReason string) {
		t.Helper()
		n++
		err := Verify(r, testSecrets, testRegion, service, testNow, 0)
		if err == nil {
			t.Fatalf("tampered %s accepted", what)
		}
		if got := reasonOf(t, err); wantReason != "" && got != wantReason {
			t.Fatalf("tampered %s: reason %s (%v), want %s", what, got, err, wantReason)
		}
	}
	if err := Verify(clone(), testSecrets, testRegion, service, testNow, 0); err != nil {
		t.Fatalf("untampered request refused: %v", err)
	}

	tampers(base.Method, func(m string) {
		r := clone()
		r.Method = m
		check("method "+m, r, ReasonSignatureMismatch)
	})

	path := base.URL.Path
	if path == "" {
		path = "/" // an empty path is signed as "/"
	}
	tampers(path, func(p string) {
		r := clone()
		r.URL.Path, r.URL.RawPath = p, ""
		check("path "+p, r, ReasonSignatureMismatch)
	})

	q := base.URL.Query()
	{ // re-encoding the query the standard way changes nothing
		r := clone()
		r.URL.RawQuery = q.Encode()
		if err := Verify(r, testSecrets, testRegion, service, testNow, 0); err != nil {
			t.Fatalf("re-encoded query %q refused: %v", r.URL.RawQuery, err)
		}
	}
	for k, vs := range q {
		tampers(k, func(k2 string) {
			q2 := cloneValues(q)
			q2[k2] = append(q2[k2], q2[k]...)
			delete(q2, k)
			r := clone()
			r.URL.RawQuery = q2.Encode()
			check("query name "+k2, r, ReasonSignatureMismatch)
		})
		for j, v := range vs {
			tampers(v, func(v2 string) {
				q2 := cloneValues(q)
				q2[k][j] = v2
				r := clone()
				r.URL.RawQuery = q2.Encode()
				check("query value "+k+"="+v2, r, ReasonSignatureMismatch)
			})
			// an empty value has no byte to change: give it one
			if v == "" {
				q2 := cloneValues(q)
				q2[k][j] = "x"
				r := clone()
				r.URL.RawQuery = q2.Encode()
				check("query value "+k+"=x", r, ReasonSignatureMismatch)
			}
		}
	}
	{
		q2 := cloneValues(q)
		q2.Add("added", "")
		r := clone()
		r.URL.RawQuery = q2.Encode()
		check("query with a parameter added", r, ReasonSignatureMismatch)
	}

	a, err := parseAuthorization(base.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range a.headers {
		switch name {
		case "host":
			host := base.Host
			if host == "" {
				host = base.URL.Host
			}
			tampers(host, func(h string) {
				r := clone()
				r.Host = h
				check("host "+h, r, ReasonSignatureMismatch)
			})
			continue
		case "content-length":
			r := clone()
			r.ContentLength++
			check("content-length", r, ReasonSignatureMismatch)
			continue
		}
		want := ReasonSignatureMismatch
		if name == "x-amz-date" || name == "x-amz-content-sha256" {
			want = "" // a changed date or hash may be refused for another reason first
		}
		vs := base.Header.Values(name)
		for j, v := range vs {
			tampers(v, func(v2 string) {
				r := clone()
				r.Header[http.CanonicalHeaderKey(name)][j] = v2
				check("header "+name+": "+v2, r, want)
			})
		}
		r := clone()
		r.Header.Del(name)
		check("header "+name+" removed", r, "")
	}

	tampers(base.Header.Get("Authorization"), func(v string) {
		r := clone()
		r.Header.Set("Authorization", v)
		check("authorization "+v, r, "")
	})
	return n
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, vs := range q {
		out[k] = slices.Clone(vs)
	}
	return out
}
