// Package cli implements the axon command and the Synapse-named tools
// (register_new_matrix_user, hash_password) that dispatch to it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Env is what a command may touch of its process, so tests can run commands
// in-process with their own streams and environment.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OSEnv is the real process environment.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// errUsage marks errors that are the caller's fault; the command prints its
// usage and exits 2 as argparse does.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the homeserver (the default)", runServe},
		{"generate", "write homeserver.yaml, signing key and log config, as Synapse's generate does", runGenerate},
		{"register", "create a user through the admin API (register_new_matrix_user)", runRegister},
		{"hash-password", "print a password hash for the database (hash_password)", runHashPassword},
		{"check-config", "report every problem in a homeserver.yaml", runCheckConfig},
		{"complement", "prepare and run the server inside the Complement test image", runComplement},
		{"version", "print the version", runVersion},
	}
}

// Main runs the command named by args (args[0] is the program name) and
// returns the process exit code.
func Main(ctx context.Context, env Env, args []string) int {
	name, rest := route(args)
	if name == "help" {
		usage(env.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, env, rest)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
			return 2
		default:
			fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "axon: unknown command %q\n\n", name)
	usage(env.Stderr)
	return 2
}

// route picks the command: the tool names Synapse installs dispatch by the
// name they were started under; Synapse's own --generate-config spelling
// means generate; otherwise the first argument names it, and serve is the
// default.
func route(args []string) (string, []string) {
	var rest []string
	if len(args) > 1 {
		rest = args[1:]
	}
	switch filepath.Base(args[0]) {
	case "register_new_matrix_user":
		return "register", rest
	case "hash_password":
		return "hash-password", rest
	}
	if slices.Contains(rest, "--generate-config") || slices.Contains(rest, "-generate-config") {
		return "generate", rest
	}
	if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help") {
			return "help", nil
		}
		return "serve", rest
	}
	return rest[0], rest[1:]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: axon <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'axon <command> -h' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseArgs parses flags that may come before or after positional
// arguments, as Python's argparse allows (register_new_matrix_user URL -u x).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// stringFlag registers one string flag under several names (-c, --config-path).
func stringFlag(fs *flag.FlagSet, p *string, value, usage string, names ...string) {
	*p = value
	for _, n := range names {
		fs.StringVar(p, n, value, usage)
	}
}

// boolFlag registers one bool flag under several names (-a, --admin).
func boolFlag(fs *flag.FlagSet, p *bool, usage string, names ...string) {
	for _, n := range names {
		fs.BoolVar(p, n, false, usage)
	}
}
