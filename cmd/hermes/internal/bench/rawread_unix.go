//go:build unix

package bench

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawReader reads a plain TCP connection with read(2) made as a raw system
// call under the poller's read lock (syscall.RawConn.Read): a read with
// nothing to read still waits in the poller, within the connection's
// deadline. The tool reads thousands of streams on one core; through
// net.Conn.Read, each read is bracketed as a blocking system call, and the
// runtime's monitor thread, seeing reads of several microseconds back to
// back, kept waking every 20 µs to hand the processor between threads: a
// sixth of the tool's CPU in a 5,000-subscriber fan-out, which the tool
// must not spend if it is to measure the hub rather than itself.
type rawReader struct {
	rc syscall.RawConn
}

// newRawReader returns a raw reader for conn when it is a plain TCP
// connection, else conn itself.
func newRawReader(conn net.Conn) io.Reader {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return conn
	}
	return &rawReader{rc: rc}
}

func (r *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n    int
		rerr error
	)
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			m, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch {
			case errno == 0 && m == 0:
				rerr = io.EOF
			case errno == 0:
				n = int(m)
			case errno == syscall.EINTR:
				continue
			case errno == syscall.EAGAIN:
				return false // wait in the poller
			default:
				rerr = errno
			}
			return true
		}
	})
	if err != nil {
		return n, err
	}
	return n, rerr
}
