//go:build unix

package hub

import (
	"net"
	"syscall"
	"unsafe"
)

// rawWriter writes to a plain TCP connection with write(2) called as a raw
// system call, under the poller's write lock (syscall.RawConn.Write), so a
// write that would block still waits in the poller, bound by the
// connection's write deadline, and a close cannot reuse the descriptor
// under it.
//
// Why not net.Conn.Write: the runtime brackets a system call it makes for
// net.Conn with entersyscall/exitsyscall, and its monitor thread takes the
// processor back from a thread that stays in a system call for more than
// one of its ticks (20 µs at the start, fewer once busy). A write to a
// loopback or LAN socket runs the receiver's TCP input inside the call and
// takes 8-20 µs, so a pass over thousands of subscribers kept the monitor
// waking every tick and handing the processor between threads: 25 % of the
// hub's CPU in a 5,000-subscriber fan-out went to those switches (perf,
// see the README's figures). A non-blocking write never waits, so the
// processor need not be handed over.
type rawWriter struct{ rc syscall.RawConn }

// newRawWriter returns a raw writer for conn when it is a plain TCP
// connection; TLS connections must go through their own Write.
func newRawWriter(conn net.Conn) (rawWriter, bool) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return rawWriter{}, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return rawWriter{}, false
	}
	return rawWriter{rc: rc}, true
}

// write writes all of b, waiting in the poller when the socket's buffer is
// full; errors are the poller's (os.ErrDeadlineExceeded past the deadline,
// net.ErrClosed) or the system call's.
func (w rawWriter) write(b []byte) error {
	var werr error
	err := w.rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch {
			case errno == 0:
				b = b[n:]
			case errno == syscall.EINTR:
			case errno == syscall.EAGAIN:
				return false // wait for room, within the deadline
			default:
				werr = errno
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}
