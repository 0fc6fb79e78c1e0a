package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/strata-cdn/strata/internal/control"
)

// NATSCreds is "strata nats-creds [revoke] pop|dns ID": it issues (or
// revokes) NATS credentials from the control plane's keys, on its machine.
func NATSCreds(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nats-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", DefaultDataDir(), "the control plane's data dir (holds "+control.NATSKeysFile+")")
	out := fs.String("out", "", "file to write (default: <data dir>/"+control.CredsDir+"/<role>-<ID>.creds)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: strata nats-creds pop|dns ID [--data-dir D] [--out FILE]\n       strata nats-creds revoke pop|dns ID [--data-dir D]")
		fs.PrintDefaults()
	}
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	revoke := len(pos) > 0 && pos[0] == "revoke"
	if revoke {
		pos = pos[1:]
	}
	if len(pos) != 2 || (pos[0] != string(control.RolePoP) && pos[0] != string(control.RoleDNS)) || (revoke && *out != "") {
		fs.Usage()
		return 2
	}
	role, id := control.Role(pos[0]), pos[1]
	keys := filepath.Join(*dataDir, control.NATSKeysFile)
	if _, err := os.Stat(keys); err != nil {
		fmt.Fprintf(stderr, "strata nats-creds: no NATS keys in %s: start the control plane (strata control or strata run) with --data-dir %s first\n", *dataDir, *dataDir)
		return 1
	}
	auth, _, err := control.LoadOrCreateNATSAuth(keys)
	if err != nil {
		fmt.Fprintln(stderr, "strata nats-creds:", err)
		return 1
	}
	path := *out
	if path == "" {
		path = filepath.Join(*dataDir, control.CredsDir, control.UserName(role, id)+".creds")
	}
	if revoke {
		if err := auth.Revoke(role, id); err != nil {
			fmt.Fprintln(stderr, "strata nats-creds:", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked the NATS credentials of %s (a running control plane closes its connections within seconds)\n", control.UserName(role, id))
		if err := os.Remove(path); err == nil {
			fmt.Fprintf(stdout, "removed %s\n", path)
		}
		fmt.Fprintf(stdout, "new credentials: strata nats-creds %s %s --data-dir %s\n", role, id, *dataDir)
		return 0
	}
	created, err := auth.WriteCreds(path, role, id)
	if err != nil {
		fmt.Fprintln(stderr, "strata nats-creds:", err)
		return 1
	}
	if !created {
		fmt.Fprintf(stdout, "%s exists; kept as it is\n", path)
		return 0
	}
	fmt.Fprintf(stdout, "NATS credentials of %s: %s\n", control.UserName(role, id), path)
	return 0
}
