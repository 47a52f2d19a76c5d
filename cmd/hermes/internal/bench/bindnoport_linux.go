package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindWithoutPort asks the kernel to choose a bound socket's source port
// at connect, not at bind (IP_BIND_ADDRESS_NO_PORT). Dialing from a chosen
// local address binds first, and a bind must find a port that no socket on
// that address holds, whatever its peer, TIME_WAIT ones included: after a
// run of 19,000 streams, the next run's connects spent most of their time
// in that search (1,200/s against 6,000/s). Chosen at connect, a port only
// needs a free four-tuple, and loopback may reuse one in TIME_WAIT.
func bindWithoutPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	// A kernel without the option (before 4.2) binds as before.
	if serr == unix.ENOPROTOOPT {
		return nil
	}
	return serr
}
