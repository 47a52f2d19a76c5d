//go:build unix

// Package rawnet reads and writes TCP sockets with raw system calls made
// under Go's poller: the hub's writes to taken-over subscriber streams
// (hub/h1conn.go) and the load tool's connections use it.
//
// Why: Go brackets each read(2) and write(2) it makes for a net.Conn as a
// system call that may block, and the runtime's monitor thread takes the
// processor back from a thread that stays in one for more than its tick
// (20 µs at the start, fewer once busy). On loopback and fast LANs a write
// runs the receiver's TCP input inside the call and takes 8-20 µs, so a
// hub writing to thousands of subscribers kept the monitor waking every
// tick and handing its processor between threads: 13 % of the hub's CPU
// in a 5,000-subscriber fan-out went to those switches (perf, README
// "Figures on a 2-core machine"), and as much of the load tool's. The sockets are non-blocking: such a call never waits,
// so the processor need not be handed over. A call that would block
// (EAGAIN) still waits in the poller, within the connection's deadlines,
// and the poller's locks keep a concurrent close from reusing the
// descriptor under the call.
package rawnet

import (
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Write writes all of b to the socket of rc, waiting in the poller while
// its buffer is full. It returns what was written and, on failure, the
// poller's error (os.ErrDeadlineExceeded past the write deadline,
// net.ErrClosed) or the system call's.
func Write(rc syscall.RawConn, b []byte) (int, error) {
	written := 0
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for written < len(b) {
			p := b[written:]
			n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch errno {
			case 0:
				written += int(n)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait for room
			default:
				werr = os.NewSyscallError("write", errno)
				return true
			}
		}
		return true
	})
	if err != nil {
		return written, err
	}
	return written, werr
}

// Read reads what the socket of rc has, up to len(p), waiting in the
// poller while it has nothing. The end of the stream is io.EOF.
func Read(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n    int
		rerr error
	)
	err := rc.Read(func(fd uintptr) bool {
		for {
			m, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch errno {
			case 0:
				n = int(m)
				if m == 0 {
					rerr = errEOF
				}
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for bytes
			default:
				rerr = os.NewSyscallError("read", errno)
			}
			return true
		}
	})
	if err != nil {
		return n, err
	}
	return n, rerr
}

// Conn is a TCP connection whose Read and Write are raw (Read, Write);
// everything else is the *net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// NewConn wraps c; it returns c itself when its descriptor is out of
// reach.
func NewConn(c *net.TCPConn) net.Conn {
	rc, err := c.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{TCPConn: c, rc: rc}
}

// Read is net.Conn's Read, with errors shaped as net.Conn's are
// (*net.OpError; io.EOF as is), which net/http looks at.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := Read(c.rc, p)
	if err != nil && err != errEOF {
		err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// Write is net.Conn's Write, with errors shaped as net.Conn's are.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := Write(c.rc, p)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}
