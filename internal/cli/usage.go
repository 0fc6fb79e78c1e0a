package cli

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Usage is the help text of the strata command: every subcommand in one line
// or two.
const Usage = `strata — a self-hosted content delivery network

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
  strata waf acl | waf ipset | waf regex-set create|list|get|update|delete ...
                              web ACLs, IP sets and regex pattern sets (AWS WAFv2 JSON; "strata waf help")
  strata waf test (--acl ID | --file F) --request 'GET /x?q=1' [--header 'K: V']... [--body S] [--client IP]
                              evaluate one request against a web ACL; exit 0 allowed, 1 blocked
  strata invalidate DIST PATH... [--tag T]... [--wait]
                              remove objects from every PoP
  strata status               the PoPs: tier, region, config version, last heartbeat, health
  strata dns --nats URL --nats-creds F [--nats-ca F] [--config F] [--listen ADDR]
                              run the DNS router alone, on its own machine
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

// Help is "strata help": the usage text, on stdout.
func Help(args []string, stdout, stderr io.Writer) int {
	fmt.Fprint(stdout, Usage)
	return 0
}

// Version is "strata version" for a binary whose version was set at link
// time to override (empty: the module version of the build information).
func Version(override string) Func {
	return func(args []string, stdout, stderr io.Writer) int {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "strata version: unexpected argument %q\n", args[0])
			return 2
		}
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(bi, override))
		return 0
	}
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
