package pop

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
)

// An HTTPS API through the edge, over HTTP/1.1 and HTTP/2: every method with
// its body, Expect: 100-continue answered when the origin reads the body, a
// request body streamed to the origin while the response streams back (full
// duplex), nothing cached, and methods the behavior does not allow refused
// with 405.
func TestHTTPSAPIThroughEdge(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/duplex" {
			// Echo each line as it arrives, before the request body ends.
			http.NewResponseController(w).EnableFullDuplex()
			w.WriteHeader(http.StatusOK)
			sc := bufio.NewScanner(r.Body)
			for sc.Scan() {
				io.WriteString(w, "echo "+sc.Text()+"\n")
				http.NewResponseController(w).Flush()
			}
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600") // must not matter: the behavior caches nothing
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	defer api.Close()
	tw := newTLSWorld(t, "d", func(c *config.Config) {
		d := &c.Distributions[0]
		d.Origins = []config.Origin{{ID: "o", URL: api.URL}}
		d.CacheBehaviors = append([]config.CacheBehavior{
			{PathPattern: "/api/*", TargetOriginID: "o", CachePolicyID: "Managed-CachingDisabled",
				OriginRequestPolicyID: "Managed-AllViewer", ViewerProtocolPolicy: "https-only",
				AllowedMethods: []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}},
			{PathPattern: "/ro/*", TargetOriginID: "o", CachePolicyID: "Managed-CachingDisabled",
				AllowedMethods: []string{"GET", "HEAD"}},
		}, d.CacheBehaviors...)
	})
	for _, h2 := range []bool{false, true} {
		c := tw.client(h2, nil)
		proto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			body := strings.Repeat(m, 50000)
			req, _ := http.NewRequest(m, "https://d.strata.localhost/api/x", strings.NewReader(body))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", proto, m, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != proto || string(got) != m+" /api/x "+body {
				t.Fatalf("%s %s: %d %s, %d bytes", proto, m, resp.StatusCode, resp.Proto, len(got))
			}
		}
		for i := 0; i < 2; i++ { // never cached
			if resp, _ := tw.do(c, "GET", "https://d.strata.localhost/api/list"); resp.Header.Get("X-Cache") != "Miss from strata" {
				t.Fatalf("%s GET /api/list: X-Cache %q", proto, resp.Header.Get("X-Cache"))
			}
		}
		if resp, _ := tw.do(c, "DELETE", "https://d.strata.localhost/ro/x"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s DELETE on a read-only behavior: %d Allow %q", proto, resp.StatusCode, resp.Header.Get("Allow"))
		}

		// Full duplex: each line comes back before the next is sent.
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", "https://d.strata.localhost/api/duplex", pr)
		done := make(chan *http.Response, 1)
		errc := make(chan error, 1)
		go func() {
			resp, err := c.Do(req)
			if err != nil {
				errc <- err
				return
			}
			done <- resp
		}()
		io.WriteString(pw, "one\n")
		go func() { time.Sleep(3 * time.Second); pw.CloseWithError(errors.New("test: no answer within 3 s")) }()
		var resp *http.Response
		select {
		case resp = <-done:
		case err := <-errc:
			t.Fatalf("%s duplex: %v", proto, err)
		}
		rd := bufio.NewReader(resp.Body)
		for _, line := range []string{"one", "two", "three"} {
			if line != "one" {
				io.WriteString(pw, line+"\n")
			}
			got, err := rd.ReadString('\n')
			if err != nil || got != "echo "+line+"\n" {
				t.Fatalf("%s duplex: %q %v", proto, got, err)
			}
		}
		pw.Close()
		resp.Body.Close()
	}

	// Expect: 100-continue (HTTP/1.1): the 100 comes from the edge once the
	// origin starts reading, and the body then goes through.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tw.ca.Pool()}, ExpectContinueTimeout: 30e9,
		DialContext: tw.client(false, nil).Transport.(*http.Transport).DialContext}
	defer tr.CloseIdleConnections()
	got100 := false
	req, _ := http.NewRequest("PUT", "https://d.strata.localhost/api/big", bytes.NewReader(bytes.Repeat([]byte("b"), 1<<20)))
	req.Header.Set("Expect", "100-continue")
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: func() { got100 = true }}))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !got100 || resp.StatusCode != 200 || len(b) != len("PUT /api/big ")+1<<20 {
		t.Fatalf("100-continue: got 100 %v, %d, %d bytes", got100, resp.StatusCode, len(b))
	}
}
