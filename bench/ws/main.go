// Command ws measures WebSocket echo round trips: -conns WebSockets to -url,
// each sending a -size byte message and waiting for its echo, one after
// another, for -duration; it prints the messages per second and the p50,
// p99 and max round-trip times. With -echo it is instead the echo origin.
//
//	go run ./bench/ws -echo 127.0.0.1:18200 &                # the origin
//	strata run --origin http://127.0.0.1:18200 --listen 127.0.0.1:18201 … &
//	go run ./bench/ws -url ws://127.0.0.1:18200/ -conns 50 -duration 10s   # direct
//	go run ./bench/ws -url ws://127.0.0.1:18201/ -conns 50 -duration 10s   # through the edge
//
// bench/ws/run.sh does all of that.
//
// Go cannot resolve *.strata.localhost names (curl and browsers do): to
// reach a distribution by name, put the loopback address in -url and the
// name in -host, which becomes the Host header and, for wss://, the TLS
// server name (SNI); -cacert trusts the development CA:
//
//	go run ./bench/ws -url wss://127.0.0.1:8443/ -host quick.strata.localhost \
//	    -cacert ~/.local/share/strata/tls/ca.pem
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

func main() {
	url := flag.String("url", "", "WebSocket URL to measure (ws:// or wss://)")
	conns := flag.Int("conns", 50, "concurrent WebSockets")
	duration := flag.Duration("duration", 10*time.Second, "how long to measure")
	size := flag.Int("size", 64, "message size in bytes")
	echo := flag.String("echo", "", "serve a WebSocket echo origin on this address instead")
	host := flag.String("host", "", "Host header and TLS server name (SNI) to send, e.g. quick.strata.localhost, while -url names the address to connect to (Go does not resolve *.localhost names)")
	caFile := flag.String("cacert", "", "PEM file of the CA to trust for wss:// (e.g. <data dir>/tls/ca.pem of strata run)")
	flag.Parse()
	if *echo != "" {
		if err := serveEcho(*echo); err != nil {
			fmt.Fprintln(os.Stderr, "ws:", err)
			os.Exit(1)
		}
		return
	}
	if *url == "" || *conns < 1 || *size < 1 {
		fmt.Fprintln(os.Stderr, "ws: -url is required; -conns and -size must be positive")
		os.Exit(2)
	}
	opts, err := dialOptions(*host, *caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ws:", err)
		os.Exit(2)
	}
	if err := measure(*url, opts, *conns, *duration, *size); err != nil {
		fmt.Fprintln(os.Stderr, "ws:", err)
		os.Exit(1)
	}
}

func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("echo origin on", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(64 << 20)
		ctx := context.Background()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, b); err != nil {
				return
			}
		}
	}))
}

// dialOptions sends host as the Host header and the TLS server name, and
// trusts the CA in caFile.
func dialOptions(host, caFile string) (*websocket.DialOptions, error) {
	tc := &tls.Config{ServerName: host}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no certificate", caFile)
		}
	}
	return &websocket.DialOptions{Host: host, HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}}, nil
}

func measure(url string, opts *websocket.DialOptions, conns int, duration time.Duration, size int) error {
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Second)
	defer cancel()
	sockets := make([]*websocket.Conn, conns)
	for i := range sockets {
		c, _, err := websocket.Dial(ctx, url, opts)
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		c.SetReadLimit(64 << 20)
		defer c.CloseNow()
		sockets[i] = c
	}
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	rtts := make([][]time.Duration, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i, c := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					errs[i] = err
					break
				}
				_, b, err := c.Read(ctx)
				if err != nil {
					errs[i] = err
					break
				}
				if len(b) != size {
					errs[i] = fmt.Errorf("echo of %d bytes, sent %d", len(b), size)
					break
				}
				own = append(own, time.Since(t0))
			}
			rtts[i] = own
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	all := slices.Concat(rtts...)
	if len(all) == 0 {
		return errors.New("no round trip completed")
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("url=%s conns=%d size=%d duration=%s\n", url, conns, size, elapsed.Round(time.Millisecond))
	fmt.Printf("round trips: %d (%.0f/s)\n", len(all), float64(len(all))/elapsed.Seconds())
	fmt.Printf("rtt ms: p50 %.3f  p99 %.3f  max %.3f\n", ms(q(0.50)), ms(q(0.99)), ms(all[len(all)-1]))
	return nil
}
