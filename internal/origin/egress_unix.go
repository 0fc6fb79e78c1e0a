//go:build unix

package origin

import (
	"net"
	"syscall"
)

// bindSource binds the socket fd to ip (port chosen by the system).
func bindSource(fd uintptr, ip net.IP) error {
	if v4 := ip.To4(); v4 != nil {
		return syscall.Bind(int(fd), &syscall.SockaddrInet4{Addr: [4]byte(v4)})
	}
	return syscall.Bind(int(fd), &syscall.SockaddrInet6{Addr: [16]byte(ip.To16())})
}
