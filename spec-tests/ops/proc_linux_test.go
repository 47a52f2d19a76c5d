package ops_test

import (
	"os/exec"
	"syscall"
)

// detach makes the kernel kill the hub when the test binary dies, so that
// a test timeout leaves no stray hub behind holding ports and a bolt lock.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
