package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// A file body framed by Content-Length goes out through the TCP
// connection's ReadFrom (sendfile), and the connection stays usable.
func TestReadFromFileKeepsFraming(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		off := int64(100)
		f.Seek(off, io.SeekStart)
		n := int64(len(content)) - 200
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("X-Early", "yes")
		io.WriteString(w, "") // nothing: the header must still go first
		if got, err := io.Copy(w, &io.LimitedReader{R: f, N: n}); err != nil || got != n {
			t.Errorf("copied %d, %v", got, err)
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	for i := 0; i < 3; i++ { // the same keep-alive connection each time
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, content[100:len(content)-100]) || resp.Header.Get("X-Early") != "yes" {
			t.Fatalf("round %d: %d bytes, err %v", i, len(b), err)
		}
	}
}
