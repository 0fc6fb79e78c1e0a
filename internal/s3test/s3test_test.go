package s3test

import (
	"io"
	"net/http"
	"testing"
)

// The server starts, keeps a bucket private to anonymous readers and serves
// its website endpoint.
func TestServer(t *testing.T) {
	s := Start(t)
	s.CreateBucket(t, "site")
	s.PutObject(t, "site", "index.html", "text/html", []byte("<h1>home</h1>"))
	if b, ok := s.GetObject(t, "site", "index.html"); !ok || string(b) != "<h1>home</h1>" {
		t.Fatalf("signed GET: %q %v", b, ok)
	}
	resp, err := http.Get(s.Endpoint + "/site/index.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET of a private bucket: %d, want 403", resp.StatusCode)
	}
	s.PutWebsite(t, "site", "index.html", "")
	req, _ := http.NewRequest("GET", "http://"+s.WebsiteAddr+"/", nil)
	req.Host = s.WebsiteHost("site")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "<h1>home</h1>" {
		t.Fatalf("website /: %d %q", resp.StatusCode, b)
	}
}
