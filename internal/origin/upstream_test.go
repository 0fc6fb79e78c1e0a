package origin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestUpstreamDownAndUp(t *testing.T) {
	u, err := NewUpstream("R1", "http://127.0.0.1:1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		at       time.Duration // after t0
		markDown bool
		healthy  bool // after the mark, if any
	}{
		{at: 0, healthy: true}, // a new upstream is up
		{at: time.Second, markDown: true, healthy: false},
		{at: time.Second + parentDownFor - time.Nanosecond, healthy: false},
		{at: time.Second + parentDownFor, healthy: true}, // down for exactly parentDownFor
		{at: time.Hour, healthy: true},
		{at: time.Hour, markDown: true, healthy: false},
		{at: time.Hour + 2*time.Second, markDown: true, healthy: false}, // failing again extends it
		{at: time.Hour + parentDownFor, healthy: false},
		{at: time.Hour + 2*time.Second + parentDownFor, healthy: true},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.markDown {
			u.MarkDown(now)
		}
		if got := u.Healthy(now); got != s.healthy {
			t.Fatalf("step %d (t0+%v, markDown %v): healthy %v, want %v", i, s.at, s.markDown, got, s.healthy)
		}
	}
}

func TestUpstreamDo(t *testing.T) {
	var host string
	parent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		io.WriteString(w, "from parent "+r.URL.Path)
	}))
	defer parent.Close()
	u, err := NewUpstream("R1", parent.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.ID() != "R1" {
		t.Fatalf("id %q", u.ID())
	}
	req, _ := http.NewRequest("GET", "http://placeholder/a", nil)
	req.URL, req.Host = &url.URL{Path: "/a"}, "viewer.example"
	resp, err := u.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "from parent /a" || host != "viewer.example" {
		t.Fatalf("body %q host %q: the parent gets the viewer's Host", body, host)
	}

	down, err := NewUpstream("R2", refusedURL(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	req, _ = http.NewRequest("GET", "http://placeholder/a", nil)
	req.URL = &url.URL{Path: "/a"}
	var oe *Error
	if _, err := down.Do(req); !errors.As(err, &oe) || !oe.Connect || oe.Origin != "R2" {
		t.Fatalf("err %v: want a connect error of R2", err)
	}

	if _, err := NewUpstream("R3", "ftp://x", "", ""); err == nil {
		t.Fatal("a bad url was accepted")
	}
}
