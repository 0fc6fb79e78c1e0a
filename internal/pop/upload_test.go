package pop

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/strata-cdn/strata/internal/config"
)

// uploadWorld is a PoP whose origin (originReadTimeout 1 s) reads each
// request body whole (the test origin does), then answers "stored".
func uploadWorld(t *testing.T, opts Options) *world {
	return newWorldOpts(t, func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "stored")
	}, func(c *config.Config) {
		c.Distributions[0].Origins[0].CustomOriginConfig = &config.CustomOriginConfig{OriginReadTimeout: config.Duration(time.Second)}
	}, opts)
}

// An upload that lasts several times originReadTimeout (1 s), with bytes
// flowing, lands: the timeout bounds the wait for the origin's answer from
// the upload's last byte, and the viewer's pace only each read (the scaled
// version of a 60 s upload at 1 MB/s under the default 30 s).
func TestSlowSteadyUploadLands(t *testing.T) {
	w := uploadWorld(t, Options{})
	pr, pw := io.Pipe()
	const chunks, size = 35, 32 << 10
	go func() {
		buf := make([]byte, size)
		for i := 0; i < chunks; i++ { // about 3.5 s
			time.Sleep(100 * time.Millisecond)
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	start := time.Now()
	r := w.doBody(http.MethodPut, "/up", pr)
	took := time.Since(start)
	if got := len(w.origin.lastBody("/up")); r.status != 200 || r.body != "stored" || got != chunks*size {
		t.Fatalf("a %v upload: %d %q (Cache-Status %q), %d bytes at the origin, want 200 and %d", took, r.status, r.body, r.header.Get("Cache-Status"), got, chunks*size)
	}
	if took < 3*time.Second {
		t.Fatalf("the upload took %v: not several read timeouts long", took)
	}
}

// rawRequest writes req to the PoP, then waits for its response.
func rawRequest(t *testing.T, url, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// A body the viewer breaks or stalls is the viewer's error: 400 for a
// malformed chunked body, 408 for one that stops arriving (before
// originReadTimeout, 1 s, could be blamed on the origin: it only runs once
// the request is sent), never a 502/504 from the origin.
func TestViewerBodyErrors(t *testing.T) {
	w := uploadWorld(t, Options{RequestBodyTimeout: 2 * time.Second})
	for _, tc := range []struct {
		name, req string
		status    int
		reason    string
	}{
		{"malformed chunked body", "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", 400, "malformed request body"},
		{"chunk without its CRLF", "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400, "malformed request body"},
		{"stalled body", "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", 408, "request body timed out"},
		{"stalled chunked body", "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 408, "request body timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp, body := rawRequest(t, w.url, tc.req)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.reason) || resp.Header.Get("X-Cache") != "Error from strata" {
				t.Fatalf("%d %q X-Cache %q, want %d %q", resp.StatusCode, body, resp.Header.Get("X-Cache"), tc.status, tc.reason)
			}
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "viewer-error") {
				t.Fatalf("Cache-Status %q does not blame the viewer", cs)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Fatalf("answered after %v", took)
			}
		})
	}
}

// Over HTTP/2 (the listener hands h2 connections to x/net/http2, here
// without TLS), a stalled body gets 408 as well.
func TestStalledBodyOverHTTP2(t *testing.T) {
	w := uploadWorld(t, Options{RequestBodyTimeout: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go (&http2.Server{}).ServeConn(c, &http2.ServeConnOpts{Handler: w.pop})
		}
	}()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go io.WriteString(pw, "hello") // then nothing
	req, _ := http.NewRequest(http.MethodPut, "http://"+ln.Addr().String()+"/up", pr)
	req.ContentLength = 100
	start := time.Now()
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "request body timed out") || resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/%d %d %q after %v, want 408", resp.ProtoMajor, resp.StatusCode, body, time.Since(start))
	}
}
