package main

import (
	"fmt"
	"net"
)

// besidePort is the HTTPS address next to an HTTP one: the same host on
// port (0: any free port).
func besidePort(addr string, port int) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, fmt.Sprint(port))
}
