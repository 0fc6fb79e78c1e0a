// Command waf serves a fixed 1 KiB answer through Strata's HTTP/1 server
// with a managed rule group in front (or none), for bench/waf/run.sh to
// compare with nginx + ModSecurity v3 + CRS: the WAF's cost per request on
// a request that a cache would answer.
package main

import (
	"bytes"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/strata-cdn/strata/internal/h1"
	"github.com/strata-cdn/strata/internal/waf/managed"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "address to serve on")
	groups := flag.String("groups", "OWASP/CoreRuleSet", "comma-separated Vendor/Name managed groups; empty: no WAF")
	pl := flag.Int("paranoia", 1, "paranoia level")
	flag.Parse()

	var gs []*managed.Group
	for _, vn := range strings.Split(*groups, ",") {
		if vn == "" {
			continue
		}
		v, n, _ := strings.Cut(vn, "/")
		g, err := managed.New(managed.Options{Vendor: v, Name: n, ParanoiaLevel: *pl})
		if err != nil {
			log.Fatal(err)
		}
		gs = append(gs, g)
	}
	page := bytes.Repeat([]byte("x"), 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(gs) > 0 {
			in := managed.Input{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host, Header: r.Header}
			if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
				in.ClientIP = ap.Addr()
			}
			if r.ContentLength != 0 && r.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, managed.DefaultBodyLimit))
				in.Body = b
			}
			for _, g := range gs {
				if m := g.Inspect(in); m != nil {
					w.WriteHeader(http.StatusForbidden)
					return
				}
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(page)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal((&h1.Server{Handler: h}).Serve(ln))
}
