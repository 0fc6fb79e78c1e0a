package pop

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener ports. A PoP can be served on several listeners at once (its own
// addresses, and the front door of `strata run --listen`), each plain HTTP
// listener paired with an HTTPS one and its HTTP/3 socket. What a response
// tells the viewer about other ports speaks for the listener the request
// came in on (its local address, http.LocalAddrContextKey):
//
//   - a redirect-to-https Location names the HTTPS port paired with the
//     plain listener of the request;
//   - Alt-Svc names the HTTP/3 (UDP) port beside the HTTPS listener of the
//     request.
//
// Listeners the PoP was not told about (AddListeners) use
// Options.HTTPSPort and Options.HTTP3Port.

// listenerPorts is what the listeners of one pair advertise.
type listenerPorts struct {
	https  int      // the HTTPS port of the pair (0: none)
	altSvc []string // the Alt-Svc value naming its HTTP/3 port (nil: none)
}

// portTable maps a listener's local address to its pair's ports. A listener
// on an unspecified address (0.0.0.0, ::) is stored under :: with its port. Written rarely (copy on write), read on every redirect and
// HTTPS response.
type portTable struct {
	mu sync.Mutex
	m  atomic.Pointer[map[netip.AddrPort]listenerPorts]
}

// AddListeners tells the PoP that it is served on a pair of listeners:
// plain HTTP on plain, HTTPS (TCP) on https and HTTP/3 (UDP) on http3; any
// of them may be nil. Requests that come in on them are redirected to the
// pair's HTTPS port and are told (Alt-Svc) of its HTTP/3 port.
func (p *PoP) AddListeners(plain, https, http3 net.Addr) {
	lp := listenerPorts{https: int(addrPort(https).Port())}
	if h3 := addrPort(http3).Port(); h3 != 0 {
		lp.altSvc = altSvcValue(int(h3))
	}
	p.ports.mu.Lock()
	defer p.ports.mu.Unlock()
	m := map[netip.AddrPort]listenerPorts{}
	if old := p.ports.m.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	for _, a := range []net.Addr{plain, https, http3} {
		if ap := tableKey(addrPort(a)); ap.IsValid() {
			m[ap] = lp
		}
	}
	p.ports.m.Store(&m)
}

// listenerPortsFor returns the ports of the listener r came in on.
func (p *PoP) listenerPortsFor(r *http.Request) listenerPorts {
	if m := p.ports.m.Load(); m != nil {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			ap := addrPort(la)
			if lp, ok := (*m)[ap]; ok {
				return lp
			}
			if lp, ok := (*m)[netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())]; ok {
				return lp
			}
		}
	}
	return listenerPorts{https: p.opts.HTTPSPort, altSvc: p.altSvc}
}

// redirectPort is the HTTPS port a redirect-to-https Location names for r
// (0: none, the scheme's default).
func (p *PoP) redirectPort(r *http.Request) int {
	return p.listenerPortsFor(r).https
}

func altSvcValue(port int) []string {
	return []string{fmt.Sprintf(`h3=":%d"; ma=86400`, port)}
}

// addrPort is a TCP or UDP address as a comparable value (invalid for
// anything else, and for nil).
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func tableKey(ap netip.AddrPort) netip.AddrPort {
	if ap.Port() == 0 {
		return netip.AddrPort{}
	}
	if ap.Addr().IsUnspecified() {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
	}
	return ap
}

// altSvcFor is the Alt-Svc of a response to a viewer: the HTTP/3 port
// beside the HTTPS listener the request came in on, for distributions that
// offer HTTP/3 (nil: none).
func (p *PoP) altSvcFor(ex *exchange) []string {
	if ex.scheme != "https" || ex.dist == nil || !offersHTTP3(ex.dist.cfg.HTTPVersion) {
		return nil
	}
	return p.listenerPortsFor(ex.r).altSvc
}
