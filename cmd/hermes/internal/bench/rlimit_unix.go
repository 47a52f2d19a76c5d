//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseNoFile lifts the soft limit on open files to at least need (and the
// hard limit too when the process may), since every subscriber is a file
// descriptor. It returns the soft limit in force.
func raiseNoFile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := lim
	want.Cur = need
	if want.Max < need {
		want.Max = need // needs CAP_SYS_RESOURCE; falls back below
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return want.Cur, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	return lim.Cur, fmt.Errorf("open files limited to %d, fewer than the %d this run may need (ulimit -n)", lim.Cur, need)
}
