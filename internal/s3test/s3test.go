// Package s3test starts a real S3 server for tests: versitygw with its posix
// backend in a temporary directory, on loopback, with its static website
// endpoint. Requests the tests make to set buckets up are signed with AWS's
// own SigV4 signer (the reference), so a failure in Strata's signer cannot
// hide behind the same bug in the set-up.
//
// The binary is found through $STRATA_VERSITYGW, else in
// $STRATA_TOOLS or ~/.cache/strata-tools (scripts/test.sh installs it there).
// Without it a test is skipped, unless STRATA_REQUIRE_TOOLS=1 (the test
// command sets it), when it fails.
package s3test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Server is a running versitygw.
type Server struct {
	Endpoint      string // http://127.0.0.1:PORT, the S3 REST API
	WebsiteAddr   string // 127.0.0.1:PORT, the static website endpoint
	WebsiteDomain string // host <bucket>.<WebsiteDomain> serves bucket's website
	AccessKey     string
	SecretKey     string
	Region        string
	Dir           string // the posix backend's root: one directory per bucket
}

// Binary returns the path of the versitygw binary, or "".
func Binary() string {
	if p := os.Getenv("STRATA_VERSITYGW"); p != "" {
		return p
	}
	dir := os.Getenv("STRATA_TOOLS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "strata-tools")
	}
	p := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Start runs versitygw until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw not installed: run scripts/test.sh, or GOBIN=~/.cache/strata-tools go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
		if os.Getenv("STRATA_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := &Server{
		AccessKey:     "STRATATESTACCESSKEY1",
		SecretKey:     "strata/test/secret/key/0123456789abcdefgh",
		Region:        "us-east-1",
		Dir:           t.TempDir(),
		WebsiteDomain: "website.test",
	}
	api, web := freePort(t), freePort(t)
	s.Endpoint = "http://" + api
	s.WebsiteAddr = web
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--port", api, "--website", web, "--website-domain", s.WebsiteDomain,
		"--quiet", "posix", s.Dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", api, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("versitygw exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s: %s", api, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Do sends a request to the S3 API signed with AWS's signer (path style:
// /bucket/key) and returns the response with its body read.
func (s *Server) Do(method, path string, header http.Header, body []byte) (*http.Response, []byte, error) {
	p, query, _ := strings.Cut(path, "?")
	req, err := http.NewRequest(method, s.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	// The path goes on the wire encoded as S3 canonicalizes it (the signer
	// is told not to escape it again).
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = p, s3Escape(p), query
	for k, vv := range header {
		req.Header[k] = vv
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(context.Background(), creds, req, hash, "s3", s.Region, time.Now()); err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func (s *Server) must(t testing.TB, want int, method, path string, header http.Header, body []byte) []byte {
	t.Helper()
	resp, b, err := s.Do(method, path, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

// CreateBucket makes a private bucket.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	s.must(t, http.StatusOK, http.MethodPut, "/"+bucket, nil, nil)
}

// PutObject stores an object with the given content type.
func (s *Server) PutObject(t testing.TB, bucket, key, contentType string, body []byte) {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	s.must(t, http.StatusOK, http.MethodPut, "/"+bucket+"/"+key, h, body)
}

// GetObject reads an object with signed credentials; ok is false on 404.
func (s *Server) GetObject(t testing.TB, bucket, key string) (body []byte, ok bool) {
	t.Helper()
	resp, b, err := s.Do(http.MethodGet, "/"+bucket+"/"+key, nil, nil)
	if err != nil {
		t.Fatalf("GET %s/%s: %v", bucket, key, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return b, true
	case http.StatusNotFound:
		return nil, false
	}
	t.Fatalf("GET %s/%s: %d: %s", bucket, key, resp.StatusCode, b)
	return nil, false
}

// PutWebsite configures the bucket's website hosting and makes its objects
// publicly readable (a website endpoint serves anonymous viewers).
func (s *Server) PutWebsite(t testing.TB, bucket, index, errorDoc string) {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString(`<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&cfg, `<IndexDocument><Suffix>%s</Suffix></IndexDocument>`, index)
	if errorDoc != "" {
		fmt.Fprintf(&cfg, `<ErrorDocument><Key>%s</Key></ErrorDocument>`, errorDoc)
	}
	cfg.WriteString(`</WebsiteConfiguration>`)
	s.must(t, http.StatusOK, http.MethodPut, "/"+bucket+"?website", nil, []byte(cfg.String()))
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket)
	resp, b, err := s.Do(http.MethodPut, "/"+bucket+"?policy", nil, []byte(policy))
	if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent) {
		t.Fatalf("put bucket policy: %v %v %s", err, resp, b)
	}
}

// WebsiteHost is the Host under which the website endpoint serves bucket.
func (s *Server) WebsiteHost(bucket string) string { return bucket + "." + s.WebsiteDomain }

// s3Escape encodes every byte of a path but the unreserved ones and '/'.
func s3Escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
