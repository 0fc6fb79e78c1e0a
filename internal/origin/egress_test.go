package origin

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// countingRawConn counts the calls that would touch the socket.
type countingRawConn struct{ controls int }

func (c *countingRawConn) Control(func(uintptr)) error    { c.controls++; return nil }
func (c *countingRawConn) Read(func(uintptr) bool) error  { return nil }
func (c *countingRawConn) Write(func(uintptr) bool) error { return nil }

var _ syscall.RawConn = (*countingRawConn)(nil)

// Connections leave from the egress address: a loopback one for loopback
// destinations (the origin sees it), and no binding toward any other
// address, which a loopback source cannot reach.
func TestBindEgress(t *testing.T) {
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		seen <- host
	}))
	defer srv.Close()
	d := &net.Dialer{}
	BindEgress(d, net.ParseIP("127.0.0.77"))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-seen; got != "127.0.0.77" {
		t.Fatalf("the origin saw %s, want the egress 127.0.0.77", got)
	}
	for _, tc := range []struct {
		addr string
		bind bool
	}{{"127.0.0.1:80", true}, {"192.0.2.1:80", false}, {"[::1]:80", false}, {"[2001:db8::1]:443", false}} {
		var c countingRawConn
		if err := d.ControlContext(context.Background(), "tcp", tc.addr, &c); err != nil || (c.controls == 1) != tc.bind {
			t.Errorf("to %s: bound %v (%v), want %v", tc.addr, c.controls == 1, err, tc.bind)
		}
	}
	public := &net.Dialer{}
	BindEgress(public, net.ParseIP("192.0.2.10"))
	if a, ok := public.LocalAddr.(*net.TCPAddr); !ok || a.IP.String() != "192.0.2.10" || public.ControlContext != nil {
		t.Fatalf("a non-loopback egress: LocalAddr %v", public.LocalAddr)
	}
}
