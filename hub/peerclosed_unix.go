//go:build unix

package hub

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the client ended a taken-over connection: a
// non-blocking read of the socket sees its end (or a reset). Nobody reads
// these connections otherwise (that would cost a goroutine each), so this
// runs before each heartbeat; a write to a connection the client closed
// usually succeeds once (the client's reset only comes back afterwards),
// and without this check the end would be noticed one heartbeat later.
// Bytes the client sent after its request are read and dropped.
func peerClosed(conn net.Conn) bool {
	if tc, ok := conn.(*tls.Conn); ok {
		// The TLS records are not decoded: only the socket's end matters.
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [512]byte
	err = raw.Read(func(fd uintptr) bool {
		// Go's sockets are non-blocking: with nothing to read, EAGAIN.
		for range 16 {
			n, err := syscall.Read(int(fd), buf[:])
			switch {
			case n > 0:
				continue
			case err == nil:
				closed = true // n == 0: the client's end of stream
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
			default:
				closed = true // reset or otherwise broken
			}
			return true
		}
		return true // still sending: alive, looked at again next time
	})
	return closed || err != nil
}
