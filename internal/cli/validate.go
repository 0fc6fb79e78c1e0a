package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/strata-cdn/strata/internal/config"
)

// Validate is "strata validate --config F": it loads a configuration file
// as strata run would and prints every error (exit 1), or ok and the fields
// set but not yet acted on.
func Validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML or JSON)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "strata validate: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintf(stderr, "%s: %s\n", *path, e.Error())
			}
			fmt.Fprintf(stderr, "%d error(s)\n", len(errs))
		} else {
			fmt.Fprintf(stderr, "strata validate: %v\n", err)
		}
		return 1
	}
	ws := cfg.Warnings()
	for _, w := range ws {
		fmt.Fprintf(stderr, "%s: warning: %s\n", *path, w)
	}
	if len(ws) > 0 {
		fmt.Fprintf(stdout, "%s: ok (%d distribution(s), %d warning(s))\n", *path, len(cfg.Distributions), len(ws))
		return 0
	}
	fmt.Fprintf(stdout, "%s: ok (%d distribution(s))\n", *path, len(cfg.Distributions))
	return 0
}
