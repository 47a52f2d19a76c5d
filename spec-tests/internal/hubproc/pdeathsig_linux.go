package hubproc

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill the hub when the test binary dies, so
// that a test timeout or a panic leaves no stray hub holding a port and a
// bolt file lock.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
