package sigv4

import (
	"net/http"
	"testing"
)

// benchRequest is a typical origin fetch: a GET with a query and two
// x-amz-* headers besides the ones Sign adds.
func benchRequest(b *testing.B) *http.Request {
	r, err := http.NewRequest("GET", "https://origin.example.com/assets/img/photo%20one.jpg?w=640&fmt=webp", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("X-Amz-Meta-Pop", "FRA1")
	r.Header.Set("X-Amz-Meta-Request-Id", "0123456789abcdef")
	r.Header.Set("Accept", "image/webp,*/*")
	return r
}

func BenchmarkSign(b *testing.B) {
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	r := benchRequest(b)
	if err := Sign(r, testCreds, testRegion, "strata", testNow, EmptyPayloadHash); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(r, testSecrets, testRegion, "strata", testNow, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignAWS is AWS's signer on the same request, for comparison: a
// new signer each time, so it derives the key every time, as Sign does.
func BenchmarkSignAWS(b *testing.B) {
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("X-Amz-Content-Sha256", EmptyPayloadHash)
		if err := awsv4Sign(r, "strata", EmptyPayloadHash); err != nil {
			b.Fatal(err)
		}
	}
}
