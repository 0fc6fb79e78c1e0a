package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// startPprof serves the Go profiler (net/http/pprof) on $STRATA_PPROF
// (host:port; meant for loopback) for profiling a running process. Unset:
// nothing is served. The endpoints are on their own listener, never on a
// PoP's ports.
func startPprof(stderr io.Writer) {
	addr := os.Getenv("STRATA_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(stderr, "strata: STRATA_PPROF:", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	fmt.Fprintln(stderr, "strata: profiler on http://"+ln.Addr().String()+"/debug/pprof/")
	go http.Serve(ln, mux)
}
