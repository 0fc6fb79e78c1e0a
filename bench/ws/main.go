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
package main

import (
	"context"
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
	if err := measure(*url, *conns, *duration, *size); err != nil {
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

func measure(url string, conns int, duration time.Duration, size int) error {
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Second)
	defer cancel()
	sockets := make([]*websocket.Conn, conns)
	for i := range sockets {
		c, _, err := websocket.Dial(ctx, url, nil)
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
