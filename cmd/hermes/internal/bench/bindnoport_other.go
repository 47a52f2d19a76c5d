//go:build !linux

package bench

import "syscall"

// bindWithoutPort is Linux's IP_BIND_ADDRESS_NO_PORT; elsewhere a bound
// socket gets its port at bind, as the system chooses.
func bindWithoutPort(_, _ string, _ syscall.RawConn) error { return nil }
