// Package cli is the operator's side of the strata command: the
// subcommands that talk to a running control plane (dist and the other
// resource kinds, invalidate, status), the ones that work on files (validate,
// locations, sign-url, sign-cookie, keys, nats-creds), and the help and
// version text. cmd/strata keeps main and the process subcommands (run, pop,
// control) and dispatches to these through its one table of subcommands.
//
// Every command is a Func: it takes the arguments after its name, writes to
// stdout and stderr, and returns the exit status (0 done, 1 failed, 2 a
// mistake in the command line).
package cli

import "io"

// Func is a subcommand: its arguments (after the command's name), where it
// prints, and its exit status.
type Func func(args []string, stdout, stderr io.Writer) int
