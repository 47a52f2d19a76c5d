//go:build !linux

package hubproc

import "os/exec"

// dieWithTest has no portable equivalent of Linux's parent-death signal
// elsewhere; the test cleanups stop the hub in every normal case.
func dieWithTest(*exec.Cmd) {}
