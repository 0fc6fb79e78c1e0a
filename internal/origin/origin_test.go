package origin

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, o *Origin, path string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://placeholder"+path, nil)
	req.URL = &url.URL{Path: path}
	return o.Do(req, "http", false)
}

func TestBaseURLPathHostAndCustomHeaders(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	o, err := New(Settings{ID: "o", HTTPBase: srv.URL + "/prefix", CustomHeaders: [][2]string{{"X-Origin-Verify", "s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	resp, err := get(t, o, "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.URL.Path != "/prefix/a/b" || got.Header.Get("X-Origin-Verify") != "s3cret" || got.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("path %q header %q host %q", got.URL.Path, got.Header.Get("X-Origin-Verify"), got.Host)
	}
}

func TestConnectionRefusedIsAConnectError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	o, _ := New(Settings{ID: "down", HTTPBase: "http://" + addr, ConnectionAttempts: 2, ConnectionTimeout: time.Second})
	_, err := get(t, o, "/")
	var oe *Error
	if !errors.As(err, &oe) || !oe.Connect || oe.Origin != "down" {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectionAttempts(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // refused: every attempt fails at once
	for _, n := range []int{1, 3} {
		var attempts atomic.Int32
		o, _ := New(Settings{ID: "o", HTTPBase: "http://" + addr, ConnectionAttempts: n, ConnectionTimeout: time.Second})
		o.netDialer.Control = func(string, string, syscall.RawConn) error {
			attempts.Add(1)
			return nil
		}
		if _, err := get(t, o, "/"); err == nil {
			t.Fatal("no error from a refused origin")
		}
		if attempts.Load() != int32(n) {
			t.Fatalf("connectionAttempts %d made %d attempts", n, attempts.Load())
		}
	}
}

func TestReadTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	o, _ := New(Settings{ID: "slow", HTTPBase: srv.URL, ReadTimeout: 200 * time.Millisecond})
	_, err := get(t, o, "/headers")
	var oe *Error
	if !errors.As(err, &oe) || !oe.Timeout {
		t.Fatalf("no headers in time: %v", err)
	}
	resp, err := get(t, o, "/body")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("stalled body: %v", err)
	}
}

func TestNoTransparentDecompression(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "" {
			t.Errorf("transport added Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		io.WriteString(w, "plain")
	}))
	defer srv.Close()
	o, _ := New(Settings{ID: "o", HTTPBase: srv.URL})
	resp, err := get(t, o, "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain" {
		t.Fatal(string(b))
	}
}

func TestBadBase(t *testing.T) {
	if _, err := New(Settings{ID: "x", HTTPBase: "ftp://x"}); err == nil {
		t.Fatal("ftp base accepted")
	}
}

// ReadTimeout is a bound on the wait for the answer, from the request's
// last byte: an upload that lasts several times longer, with bytes flowing,
// lands; an origin that then stalls still times out.
func TestReadTimeoutCountsFromTheEndOfTheUpload(t *testing.T) {
	var stall atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if stall.Load() {
			time.Sleep(time.Second)
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	defer srv.Close()
	const readTimeout = 300 * time.Millisecond
	o, err := New(Settings{ID: "o", HTTPBase: srv.URL, ReadTimeout: readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	upload := func() (*http.Response, time.Duration, error) {
		pr, pw := io.Pipe()
		go func() {
			chunk := make([]byte, 16<<10)
			for i := 0; i < 30; i++ { // 480 KiB over about 1.5 s: five read timeouts
				time.Sleep(50 * time.Millisecond)
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("PUT", "http://placeholder/up", pr)
		req.URL = &url.URL{Path: "/up"}
		start := time.Now()
		resp, err := o.Do(req, "http", false)
		return resp, time.Since(start), err
	}
	resp, took, err := upload()
	if err != nil {
		t.Fatalf("an upload of %v with bytes flowing failed (read timeout %v): %v", took, readTimeout, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != strconv.Itoa(30*16<<10) || took < 3*readTimeout {
		t.Fatalf("origin got %s bytes in %v", body, took)
	}
	stall.Store(true)
	_, _, err = upload()
	var oe *Error
	if !errors.As(err, &oe) || !oe.Timeout {
		t.Fatalf("an origin that stalls after the upload: err = %v, want a timeout", err)
	}
}
