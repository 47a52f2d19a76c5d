//go:build unix && !linux

package binary_test

import "os/exec"

// detachFromTest has no portable equivalent of Linux's parent-death signal
// outside Linux; the cleanups stop the hub in every normal case.
func detachFromTest(*exec.Cmd) {}
