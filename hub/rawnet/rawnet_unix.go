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
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write are raw system calls under
// the poller; everything else is the *net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc   syscall.RawConn
	r, w op
}

// op is the state of the read or the write in progress. The function the
// poller calls is bound once per connection: a closure made per call, as
// RawConn.Read and Write take it, escapes to the heap with what it
// captures, two or three allocations per call on the hub's busiest paths.
// The mutex keeps concurrent calls in one direction, which net.Conn
// allows, from sharing the state.
type op struct {
	mu  sync.Mutex
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// NewConn wraps c; it returns c itself when its descriptor is out of
// reach.
func NewConn(c *net.TCPConn) net.Conn {
	rc, err := c.SyscallConn()
	if err != nil {
		return c
	}
	rcn := &Conn{TCPConn: c, rc: rc}
	rcn.r.fn = rcn.readFD
	rcn.w.fn = rcn.writeFD
	return rcn
}

// Read reads what the socket has, up to len(p), waiting in the poller
// while it has nothing. Errors are shaped as net.Conn's are
// (*net.OpError; the end of the stream is io.EOF as is), which net/http
// looks at.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.r.run(c.rc.Read, p)
	if err != nil && err != errEOF {
		err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// Write writes all of p, waiting in the poller while the socket's buffer
// is full. On failure it returns what was written and the poller's error
// (os.ErrDeadlineExceeded past the write deadline, net.ErrClosed) or the
// system call's, shaped as net.Conn's are.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.w.run(c.rc.Write, p)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// run makes one call of the poller (RawConn.Read or Write) with o's
// function over p.
func (o *op) run(call func(func(uintptr) bool) error, p []byte) (int, error) {
	o.mu.Lock()
	o.p, o.n, o.err = p, 0, nil
	err := call(o.fn)
	n, cerr := o.n, o.err
	o.p = nil // keep no reference to the caller's buffer
	o.mu.Unlock()
	if err == nil {
		err = cerr
	}
	return n, err
}

// readFD reads once into c.r.p; it reports false to wait for bytes.
func (c *Conn) readFD(fd uintptr) bool {
	o := &c.r
	for {
		m, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&o.p[0])), uintptr(len(o.p)))
		switch errno {
		case 0:
			o.n = int(m)
			if m == 0 {
				o.err = errEOF
			}
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			o.err = os.NewSyscallError("read", errno)
		}
		return true
	}
}

// writeFD writes the rest of c.w.p; it reports false to wait for room.
func (c *Conn) writeFD(fd uintptr) bool {
	o := &c.w
	for o.n < len(o.p) {
		p := o.p[o.n:]
		m, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch errno {
		case 0:
			o.n += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.err = os.NewSyscallError("write", errno)
			return true
		}
	}
	return true
}
