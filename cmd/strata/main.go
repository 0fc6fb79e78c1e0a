// Command strata is the Strata CDN: one binary for the demo, a PoP, and the
// tools around them. Subcommands only parse flags and wire packages together.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

const usage = `strata — a self-hosted content delivery network

Usage:
  strata run [flags]          run Strata (with no flags: a demo world of PoPs in front of a built-in origin)
  strata pop --id ID --config F [--nats URL --nats-creds F [--nats-ca F]]
                              run one PoP of a configuration's topology (one per machine)
  strata control [flags]      run the control plane alone (API, store and NATS)
  strata nats-creds [revoke] pop|dns ID
                              issue (or revoke) NATS credentials for a PoP or DNS server (on the control plane's machine)
  strata dist create|list|get|update|delete ...
                              manage distributions through the control plane ("strata dist help")
  strata cache-policy | origin-request-policy | response-headers-policy | public-key | key-group
         create|list|get|update|delete ...
                              the same for policies, public keys and key groups
  strata invalidate DIST PATH... [--tag T]... [--wait]
                              remove objects from every PoP
  strata status               the PoPs: tier, region, config version, last heartbeat, health
  strata dns explain --name NAME --client IP
                              how the DNS router answers NAME for a viewer at IP
  strata validate --config F  check a configuration file; exit 1 with every error
  strata locations [flags]    the world catalog of PoP locations and regional edge caches
  strata sign-url --key F --key-id K --url U (--ttl D | --expires T) [--ip CIDR] [--start T]
                              a CloudFront-compatible signed URL
  strata sign-cookie --key F --key-id K (--url U | --resource P) (--ttl D | --expires T)
                              CloudFront-compatible signed cookies (Set-Cookie lines)
  strata keys create [--type rsa|ecdsa] [--out DIR] [--register]
                              a key pair for signed URLs; prints the public key, or registers it
  strata version              the module version and the VCS revision it was built from
  strata help                 this text

Run "strata <command> -h" for a command's flags.
`

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

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "pop":
		return cmdPop(args[1:], stdout, stderr)
	case "control":
		return cmdControl(args[1:], stdout, stderr)
	case "nats-creds":
		return cmdNATSCreds(args[1:], stdout, stderr)
	case "dist":
		return cmdDist(args[1:], stdout, stderr)
	case "invalidate":
		return cmdInvalidate(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "dns":
		return cmdDNS(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "locations":
		return cmdLocations(args[1:], stdout, stderr)
	case "sign-url":
		return cmdSignURL(args[1:], stdout, stderr)
	case "sign-cookie":
		return cmdSignCookie(args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(args[1:], stdout, stderr)
	case "version", "--version":
		return cmdVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if k, ok := kindByCommand(args[0]); ok {
			return cmdResource(k, args[1:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// cmdVersion is "strata version": the module version and the VCS revision
// of the build (runtime/debug.ReadBuildInfo).
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "strata version: unexpected argument %q\n", args[0])
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(bi, version))
	return 0
}

// versionText renders the build information: "strata <version>", then the
// revision (with its time, and "modified" for a build from a tree with
// uncommitted changes) and the Go version. A build without VCS
// information (go run, go test) says so.
func versionText(bi *debug.BuildInfo, override string) string {
	v := override
	if v == "" && bi != nil {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(unknown)"
	}
	out := "strata " + v + "\n"
	if bi == nil {
		return out + "no build information in the binary\n"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		out += "revision: unknown (built without VCS information)\n"
	} else {
		out += "revision: " + rev
		if at != "" {
			out += " (" + at + ")"
		}
		if modified == "true" {
			out += ", modified"
		}
		out += "\n"
	}
	return out + "go: " + bi.GoVersion + "\n"
}
