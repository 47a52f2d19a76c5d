package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hermes-hub/hermes/transport"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // something went wrong while running
	exitUsage   = 2 // the command line or environment is wrong
	exitDamaged = 3 // the history file is damaged (see the README to recover)
)

// app carries what a command may touch, so tests run commands in-process
// with their own writers and environment.
type app struct {
	stdout, stderr io.Writer
	env            lookupEnv
	stdin          io.Reader // nil: os.Stdin (read by `token check -`)
}

// run is main without the process: it parses args (without the program
// name), runs the command until it finishes or ctx is cancelled, and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, env: os.LookupEnv}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.writeUsage(a.stderr)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return a.serve(ctx, rest)
	case "token":
		if len(rest) > 0 && rest[0] == "check" {
			return a.tokenCheck(ctx, rest[1:])
		}
		return a.token(rest)
	case "bench":
		return a.bench(ctx, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(a.stdout, versionString())
		return exitOK
	case "help", "-h", "--help", "-help":
		a.writeUsage(a.stdout)
		return exitOK
	default:
		a.errorf("unknown command %q", cmd)
		a.writeUsage(a.stderr)
		return exitUsage
	}
}

func (a *app) writeUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hermes <command> [flags]

Commands:
  serve     run the hub (hermes serve -h lists the flags)
  token     print a signed JWT for publishers or subscribers (hermes token -h)
  token check
            say whether the hub accepts a token, and why not (hermes token check -h)
  bench     put load on a Mercure hub and measure it (hermes bench -h)
  version   print the version

Try it: hermes serve --dev
`)
}

// errorf prints a "hermes: " line per line of the message on stderr.
func (a *app) errorf(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprintf(a.stderr, "hermes: %s\n", line)
	}
}

// fail prints err and picks the exit code: usage mistakes exit 2, a
// damaged history file 3 (a supervisor should not restart the hub on it
// in a loop: an operator has to repair or move the file).
func (a *app) fail(err error) int {
	a.errorf("%v", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, transport.ErrCorrupt) {
		return exitDamaged
	}
	return exitFailure
}
