package main

import (
	"context"
	"os"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench"
)

// bench runs `hermes bench`: the load tool lives in its own package.
func (a *app) bench(ctx context.Context, args []string) int {
	tty := false
	if f, ok := a.stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return bench.Main(ctx, args, bench.IO{Stdout: a.stdout, Stderr: a.stderr, ReadKey: readKey, StderrIsTerminal: tty})
}
