package pop

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"testing"
)

// The ports a response advertises are those of the listener pair the
// request came in on; a listener on an unspecified address matches any
// local address with its port; an unknown listener gets the PoP's own.
func TestListenerPorts(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1", nil)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTPSPort: 8443, HTTP3Port: 8443})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	udp := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
	p.AddListeners(tcp("127.0.0.1", 8080), tcp("127.0.0.1", 8443), udp("127.0.0.1", 8443))
	p.AddListeners(tcp("127.0.0.1", 9080), tcp("127.0.0.1", 9443), udp("127.0.0.1", 9443))
	p.AddListeners(tcp("0.0.0.0", 7080), tcp("::", 7443), nil) // no HTTP/3 there
	p.AddListeners(tcp("127.0.0.2", 6080), nil, nil)           // no HTTPS there
	for _, tc := range []struct {
		name   string
		local  net.Addr
		https  int
		altSvc string
	}{
		{"own plain", tcp("127.0.0.1", 8080), 8443, `h3=":8443"; ma=86400`},
		{"front door plain", tcp("127.0.0.1", 9080), 9443, `h3=":9443"; ma=86400`},
		{"front door https", tcp("127.0.0.1", 9443), 9443, `h3=":9443"; ma=86400`},
		{"front door http3", udp("127.0.0.1", 9443), 9443, `h3=":9443"; ma=86400`},
		{"all addresses, seen on loopback", tcp("127.0.0.9", 7080), 7443, ""},
		{"all addresses, IPv4-mapped", tcp("::ffff:10.0.0.1", 7443), 7443, ""},
		{"plain without https", tcp("127.0.0.2", 6080), 0, ""},
		{"unknown listener", tcp("127.0.0.3", 5080), 8443, `h3=":8443"; ma=86400`},
		{"no local address", nil, 8443, `h3=":8443"; ma=86400`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			if tc.local != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tc.local))
			}
			lp := p.listenerPortsFor(r)
			var want []string
			if tc.altSvc != "" {
				want = []string{tc.altSvc}
			}
			if lp.https != tc.https || !slices.Equal(lp.altSvc, want) {
				t.Fatalf("https %d Alt-Svc %q, want %d %q", lp.https, lp.altSvc, tc.https, want)
			}
		})
	}
}
