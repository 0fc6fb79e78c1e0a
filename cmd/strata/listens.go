package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/world"
)

// listenCheck is an address strata run will listen on and the flag (or
// configuration field) that chooses it.
type listenCheck struct {
	addr, flag string
}

// listensOf lists the TCP addresses strata run will listen on, with what
// chooses each. Port 0 cannot be taken and is left out.
func listensOf(cfg *config.Config, f runFlags, front, httpsFront string) []listenCheck {
	var out []listenCheck
	add := func(addr, flag string) {
		if addr != "" && !strings.HasSuffix(addr, ":0") {
			out = append(out, listenCheck{addr: addr, flag: flag})
		}
	}
	add(front, "--listen")
	add(httpsFront, "--https-port")
	switch {
	case len(cfg.Topology.PoPs) == 0 && (f.config == "" || f.listen != ""):
		add(cfg.PoP.Listen, "--listen")
		if f.config == "" {
			add(cfg.PoP.HTTPSListen, "--https-port")
		} else {
			add(cfg.PoP.HTTPSListen, "pop.httpsListen in "+f.config)
		}
	case len(cfg.Topology.PoPs) == 0:
		add(cfg.PoP.Listen, "pop.listen in "+f.config)
		add(cfg.PoP.HTTPSListen, "pop.httpsListen in "+f.config)
	default:
		for i, p := range cfg.Topology.PoPs {
			if f.config == "" {
				add(p.Listen, "--pop-port")
				add(p.HTTPSListen, "--https-port")
			} else {
				add(p.Listen, fmt.Sprintf("topology.pops[%d].listen in %s", i, f.config))
				add(p.HTTPSListen, fmt.Sprintf("topology.pops[%d].httpsListen in %s", i, f.config))
			}
		}
	}
	if !f.noControl {
		out = append(out, controlListens(f.control)...)
	}
	return out
}

// controlListens lists the addresses of the control plane.
func controlListens(f controlFlags) []listenCheck {
	var out []listenCheck
	if f.apiListen != "" && !strings.HasSuffix(f.apiListen, ":0") {
		out = append(out, listenCheck{addr: f.apiListen, flag: "--api-listen"})
	}
	if f.nats == "" && f.natsListen != "" && !strings.HasSuffix(f.natsListen, ":0") {
		out = append(out, listenCheck{addr: f.natsListen, flag: "--nats-listen"})
	}
	return out
}

// popListens lists the addresses of one PoP of a configuration (strata pop).
func popListens(cfg *config.Config, id, file string) []listenCheck {
	var out []listenCheck
	for i, p := range cfg.Topology.PoPs {
		if p.ID != id {
			continue
		}
		if !strings.HasSuffix(p.Listen, ":0") {
			out = append(out, listenCheck{addr: p.Listen, flag: fmt.Sprintf("topology.pops[%d].listen in %s", i, file)})
		}
		if p.HTTPSListen != "" && !strings.HasSuffix(p.HTTPSListen, ":0") {
			out = append(out, listenCheck{addr: p.HTTPSListen, flag: fmt.Sprintf("topology.pops[%d].httpsListen in %s", i, file)})
		}
	}
	return out
}

// takenError lists the addresses that cannot be listened on.
type takenError struct {
	taken []listenCheck
	errs  []error
}

func (e *takenError) Error() string {
	var b strings.Builder
	for i, c := range e.taken {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%v (choose another with %s)", e.errs[i], c.flag)
	}
	return b.String()
}

// checkListens tries every address (and lets it go again): a taken port
// fails start-up before anything is created, naming what to change.
func checkListens(checks []listenCheck) *takenError {
	var e takenError
	for _, c := range checks {
		ln, err := net.Listen("tcp", c.addr)
		if err != nil {
			e.taken, e.errs = append(e.taken, c), append(e.errs, err)
			continue
		}
		ln.Close()
	}
	if e.taken == nil {
		return nil
	}
	return &e
}

// viewerPortsOnly reports whether only the PoPs' and the front door's
// ports, which free ports can replace, are taken.
func viewerPortsOnly(e *takenError) bool {
	for _, c := range e.taken {
		switch c.flag {
		case "--listen", "--pop-port", "--https-port":
		default:
			return false
		}
	}
	return true
}

// withFlag adds the flag to change to a front-door listen error.
func withFlag(err error) error {
	var le *world.ListenError
	if !errors.As(err, &le) {
		return err
	}
	if le.HTTPS {
		return fmt.Errorf("%w (choose another port with --https-port)", err)
	}
	return fmt.Errorf("%w (choose another address with --listen)", err)
}
