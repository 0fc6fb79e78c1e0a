package pop

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/s3test"
)

// s3World is a PoP whose distribution's origin is a bucket of a real S3
// server (versitygw), with the given signing behavior.
func s3World(t *testing.T, s3 *s3test.Server, bucket, signing string, mutate func(*config.Config)) *world {
	t.Helper()
	return newWorld(t, func(w http.ResponseWriter, r *http.Request) {}, func(c *config.Config) {
		oac := config.OriginAccessControl{SigningBehavior: signing}
		if signing != config.SigningNever {
			oac.AccessKeyID, oac.SecretAccessKey = s3.AccessKey, s3.SecretKey
		}
		c.Distributions[0].Origins = []config.Origin{{ID: "o", S3OriginConfig: &config.S3OriginConfig{
			Bucket: bucket, Region: s3.Region, Endpoint: s3.Endpoint, PathStyle: true,
			OriginAccessControl: oac,
		}}}
		if mutate != nil {
			mutate(c)
		}
	})
}

// The bucket is private: an anonymous request is refused, the same object
// through Strata (origin access control, every request signed) is served
// and cached; unsigned origin requests get S3's refusal.
func TestS3OriginAccessControl(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "private-assets")
	logo := []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)
	s3.PutObject(t, "private-assets", "img/logo.svg", "image/svg+xml", logo)
	s3.PutObject(t, "private-assets", "docs/a b+c.txt", "text/plain", []byte("spaces and plus"))
	s3.PutObject(t, "private-assets", "docs/héllo.txt", "text/plain", []byte("unicode"))

	anon, err := http.Get(s3.Endpoint + "/private-assets/img/logo.svg")
	if err != nil {
		t.Fatal(err)
	}
	anon.Body.Close()
	if anon.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET of the bucket: %d, want 403", anon.StatusCode)
	}

	w := s3World(t, s3, "private-assets", config.SigningAlways, nil)
	r := w.get("/img/logo.svg")
	if r.status != 200 || r.body != string(logo) || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("through Strata: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	expectXCache(t, r, "Miss")
	expectXCache(t, w.get("/img/logo.svg"), "Hit")
	for path, want := range map[string]string{"/docs/a%20b%2Bc.txt": "spaces and plus", "/docs/h%C3%A9llo.txt": "unicode"} {
		if r := w.get(path); r.status != 200 || r.body != want {
			t.Errorf("GET %s: %d %q, want %q", path, r.status, r.body, want)
		}
	}
	// A viewer's own Authorization never replaces Strata's signature.
	if r := w.get("/img/logo.svg?v=2", "Authorization", "AWS4-HMAC-SHA256 Credential=x"); r.status != 200 {
		t.Fatalf("always with a viewer Authorization: %d %s", r.status, r.body)
	}
	if r := w.get("/img/missing.svg"); r.status != http.StatusNotFound && r.status != http.StatusForbidden {
		t.Fatalf("missing object: %d, want S3's 404 (or 403)", r.status)
	}

	unsigned := s3World(t, s3, "private-assets", config.SigningNever, nil)
	r = unsigned.get("/img/logo.svg")
	if r.status != http.StatusForbidden || strings.Contains(r.body, "svg") {
		t.Fatalf("signingBehavior never on a private bucket: %d %q, want S3's 403", r.status, r.body)
	}
	expectXCache(t, r, "Error")
}

// no-override: a viewer's Authorization (forwarded through the cache
// policy) goes to S3 as it is; without one, Strata signs.
func TestS3SigningNoOverride(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "media")
	s3.PutObject(t, "media", "v.txt", "text/plain", []byte("video"))
	w := s3World(t, s3, "media", config.SigningNoOverride, func(c *config.Config) {
		c.CachePolicies[0].CacheKey.Headers = config.KeyList{Behavior: "whitelist", Items: []string{"Authorization"}}
	})
	if r := w.get("/v.txt"); r.status != 200 || r.body != "video" {
		t.Fatalf("no Authorization: %d %q", r.status, r.body)
	}
	r := w.get("/v.txt", "Authorization", "AWS4-HMAC-SHA256 Credential=NOTAKEY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
	if r.status != http.StatusForbidden {
		t.Fatalf("viewer's bad Authorization passed through: %d %q, want S3's 403", r.status, r.body)
	}
}

// Uploads through the edge are re-signed for S3: PUT /uploads/x.bin lands
// in the bucket, streamed (UNSIGNED-PAYLOAD), and DELETE removes it.
func TestS3UploadThroughEdge(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "uploads-bucket")
	w := s3World(t, s3, "uploads-bucket", config.SigningAlways, nil)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	r := w.doBody(http.MethodPut, "/uploads/x.bin", bytes.NewReader(data), "Content-Type", "application/octet-stream")
	if r.status != http.StatusOK {
		t.Fatalf("PUT through Strata: %d %s", r.status, r.body)
	}
	got, ok := s3.GetObject(t, "uploads-bucket", "uploads/x.bin")
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("object in the bucket: %d bytes (found %v), want the %d uploaded", len(got), ok, len(data))
	}
	if r := w.get("/uploads/x.bin"); r.status != 200 || r.body != string(data) {
		t.Fatalf("GET after upload: %d, %d bytes", r.status, len(r.body))
	}
	if r := w.do(http.MethodDelete, "/uploads/x.bin"); r.status != http.StatusNoContent && r.status != http.StatusOK {
		t.Fatalf("DELETE through Strata: %d %s", r.status, r.body)
	}
	if _, ok := s3.GetObject(t, "uploads-bucket", "uploads/x.bin"); ok {
		t.Fatal("object still in the bucket after DELETE")
	}
	// The DELETE invalidated the cached copy.
	if r := w.get("/uploads/x.bin"); r.status == 200 {
		t.Fatalf("GET after DELETE: %d, want the bucket's 404/403", r.status)
	}
}

// An S3 website endpoint is a custom origin; the bucket is chosen by Host
// (a CNAME-style bucket named after the site), with index and error
// documents.
func TestS3WebsiteOrigin(t *testing.T) {
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "www")
	s3.PutObject(t, "www", "index.html", "text/html", []byte("<h1>home</h1>"))
	s3.PutObject(t, "www", "blog/index.html", "text/html", []byte("<h1>blog</h1>"))
	s3.PutObject(t, "www", "404.html", "text/html", []byte("<h1>not here</h1>"))
	s3.PutWebsite(t, "www", "index.html", "404.html")
	host := s3.WebsiteHost("www")
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {}, func(c *config.Config) {
		c.Distributions[0].Origins = []config.Origin{{ID: "o", URL: "http://" + s3.WebsiteAddr}}
		c.Distributions[0].Aliases = []string{host}
		c.Distributions[0].DefaultCacheBehavior.OriginRequestPolicyID = "Managed-AllViewer"
	})
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<h1>home</h1>"},
		{"/blog/", 200, "<h1>blog</h1>"},
		{"/nope.html", 404, "<h1>not here</h1>"},
	} {
		r := w.get(tc.path, "Host", host)
		if r.status != tc.status || r.body != tc.body {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, r.status, r.body, tc.status, tc.body)
		}
	}
	expectXCache(t, w.get("/", "Host", host), "Hit")
}
