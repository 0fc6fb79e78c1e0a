//go:build !unix

package origin

import "net"

// bindSource leaves the source to the system where binding a raw socket is
// not supported.
func bindSource(uintptr, net.IP) error { return nil }
