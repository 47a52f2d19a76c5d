//go:build unix && !linux

package ops_test

import "os/exec"

// detach has no portable equivalent of Linux's parent-death signal; the
// test cleanups stop the hub instead.
func detach(*exec.Cmd) {}
