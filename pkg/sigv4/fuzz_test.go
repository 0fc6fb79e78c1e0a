package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzVerify feeds Verify arbitrary Authorization, X-Amz-Date and
// X-Amz-Content-Sha256 values on an otherwise valid request. It never
// panics, every refusal is an *Error with a known reason, and whatever it
// accepts says the same as the valid header: the same key, scope, signed
// headers and signature (only the separators may differ).
func FuzzVerify(f *testing.F) {
	base := signedGET(f)
	auth := base.Header.Get("Authorization")
	date := base.Header.Get("X-Amz-Date")
	sha := base.Header.Get("X-Amz-Content-Sha256")
	want, err := parseAuthorization(auth)
	if err != nil {
		f.Fatal(err)
	}
	sig := want.signature

	for _, a := range []string{
		auth,
		strings.ReplaceAll(auth, ", ", ","),
		strings.ReplaceAll(auth, ", ", ",  "),
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256  " + strings.TrimPrefix(auth, Algorithm+" "),
		"aws4-hmac-sha256 " + strings.TrimPrefix(auth, Algorithm+" "),
		auth + ",",
		auth + ", Signature=" + sig,
		auth + ", Foo=bar",
		strings.Replace(auth, "Credential=", "Credential =", 1),
		strings.Replace(auth, "/aws4_request", "/aws4_request/", 1),
		strings.Replace(auth, "AKIDEXAMPLE", "", 1),
		strings.Replace(auth, "AKIDEXAMPLE", "AKID EXAMPLE", 1),
		strings.Replace(auth, "20260304", "2026034", 1),
		strings.Replace(auth, "20260304", "20260230", 1),
		strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=;host;", 1),
		strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=Host;", 1),
		strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=host;host;", 1),
		strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=x-amz-date;host;", 1),
		strings.Replace(auth, sig, strings.ToUpper(sig), 1),
		strings.Replace(auth, sig, sig[:63], 1),
		strings.Replace(auth, sig, sig+"0", 1),
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;, Signature=",
		"AWS4-HMAC-SHA256 ,,,,,,,,",
		"AWS4-HMAC-SHA256 Credential=\x00/20260304/\xff/strata/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
		"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
		"AWS4-HMAC-SHA256 Credential=" + strings.Repeat("A/", 1000) + ", SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 SignedHeaders=" + strings.Repeat("a;", 500) + "host",
	} {
		f.Add(a, date, sha)
	}
	f.Add(auth, "20260304T050607", sha)
	f.Add(auth, "20260304T050607Z ", sha)
	f.Add(auth, "99999999T999999Z", sha)
	f.Add(auth, "00000101T000000Z", sha)
	f.Add(auth, "+0260304T050607Z", sha)
	f.Add(auth, date, UnsignedPayload)
	f.Add(auth, date, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	f.Add(auth, date, "")

	f.Fuzz(func(t *testing.T, a, d, s string) {
		r := base.Clone(context.Background())
		r.Header.Set("Authorization", a)
		r.Header.Set("X-Amz-Date", d)
		r.Header.Set("X-Amz-Content-Sha256", s)
		err := Verify(r, testSecrets, testRegion, "strata", testNow, 0)
		if err != nil {
			reasonOf(t, err)
			return
		}
		if d != date || s != sha {
			t.Fatalf("accepted a changed date %q or payload hash %q", d, s)
		}
		got, perr := parseAuthorization(a)
		if perr != nil {
			t.Fatalf("accepted %q, which does not parse: %v", a, perr)
		}
		if got.accessKey != want.accessKey || got.date != want.date || got.region != want.region ||
			got.service != want.service || got.terminator != want.terminator ||
			got.signedHeaders != want.signedHeaders || got.signature != want.signature {
			t.Fatalf("accepted %q, which says something else than %q", a, auth)
		}
	})
}

// FuzzSignVerify: whatever path and query Sign signs, Verify accepts, over
// the request as Go's client would send it and Go's server would parse it.
func FuzzSignVerify(f *testing.F) {
	f.Add("/a b/ü/%2F/+=;", "a=1&a=&b=%20+&~=~")
	f.Add("", "")
	f.Add("//./../", "x")
	f.Fuzz(func(t *testing.T, path, query string) {
		r, err := http.NewRequest("GET", "https://origin.example/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.Path = path
		r.URL.RawQuery = query
		if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
			return // a query that does not parse is not signed
		}
		// what the server sees: the request line, parsed again as Go's
		// server parses it
		uri := r.URL.RequestURI()
		u, err := url.ParseRequestURI(uri)
		if err != nil || u.Path != r.URL.Path && !(r.URL.Path == "" && u.Path == "/") {
			return // not a path Go's client can send faithfully
		}
		srv := r.Clone(context.Background())
		srv.URL = u
		srv.Host = "origin.example"
		if err := Verify(srv, testSecrets, testRegion, "strata", testNow, 0); err != nil {
			t.Fatalf("path %q query %q (sent as %q): %v", path, query, uri, err)
		}
	})
}
