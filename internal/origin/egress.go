package origin

import (
	"context"
	"net"
	"syscall"
)

// BindEgress makes d's connections leave from ip, a PoP's egress address:
// the address ip-ranges.json publishes, so that an origin that allows only
// those lets them in. A loopback ip can reach only loopback destinations
// (the kernel refuses it as the source of anything else): a connection to
// any other address leaves from the address the system picks, as it would
// without an egress, and is not bound.
func BindEgress(d *net.Dialer, ip net.IP) {
	if ip == nil {
		return
	}
	if !ip.IsLoopback() {
		d.LocalAddr = &net.TCPAddr{IP: ip}
		return
	}
	d.ControlContext = func(_ context.Context, network, address string, c syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil
		}
		dst := net.ParseIP(host)
		if dst == nil || !dst.IsLoopback() || (dst.To4() == nil) != (ip.To4() == nil) {
			return nil
		}
		var berr error
		if err := c.Control(func(fd uintptr) { berr = bindSource(fd, ip) }); err != nil {
			return err
		}
		return berr
	}
}
