// Command strata is the Strata CDN: one binary for the demo, a PoP, and the
// tools around them. Subcommands only parse flags and wire packages together.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/strata-cdn/strata/internal/cli"
)

// version, when set at link time (-ldflags "-X main.version=v1.2.3"),
// overrides the module version of the build information.
var version = ""

func main() {
	// A PoP is throughput-bound and its caches are bounded in bytes: give
	// the collector room (fewer cycles, shorter tails) unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	startPprof(os.Stderr)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands is the table of subcommands, by name. The processes (run, pop,
// control) are this package's: flags and wiring. The operator commands are
// internal/cli's; so are the resource kinds (dist, cache-policy, ...), looked
// up by cli.ResourceCommand when a name is not here.
var commands = map[string]cli.Func{
	"run":         cmdRun,
	"pop":         cmdPop,
	"control":     cmdControl,
	"nats-creds":  cli.NATSCreds,
	"invalidate":  cli.Invalidate,
	"waf":         cli.WAF,
	"status":      cli.Status,
	"validate":    cli.Validate,
	"locations":   cli.Locations,
	"sign-url":    cli.SignURL,
	"sign-cookie": cli.SignCookie,
	"keys":        cli.Keys,
	"dns":         cmdDNS,
	"version":     cli.Version(version),
	"--version":   cli.Version(version),
	"help":        cli.Help,
	"-h":          cli.Help,
	"--help":      cli.Help,
}

// run runs the subcommand args[0] and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, cli.Usage)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		cmd, ok = cli.ResourceCommand(args[0])
	}
	if !ok {
		fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", args[0], cli.Usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}
