package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/sse"
)

// pollers read the tool's plain-TCP streams with one epoll instance and
// one goroutine per processor instead of a goroutine per stream.
//
// Why: the tool must cost less per event than the hub it measures, or it
// measures itself. With a goroutine per stream, every event meant a wake
// of that goroutine by the runtime's poller, a switch to it and back, and
// a read bracketed as a blocking system call: in a 5,000-subscriber
// fan-out that was a third of the tool's CPU besides the read itself, and
// the tool's core saturated before the hub's did, so the latencies it
// reported were its own queue's. A poller reads each ready stream once
// per round (level-triggered, so a read that leaves bytes behind comes
// back next round), decodes the chunked body and parses the events where
// it reads them.
type pollers struct {
	e    *env
	set  []*poller
	next atomic.Uint64
	ctx  context.Context // the run's: the pollers stop with it
}

type poller struct {
	p    *pollers
	epfd int

	mu     sync.Mutex
	conns  map[int32]*polled
	closed bool // the run is over: no stream is added any more

	scratch []byte
}

// polled is one stream on a poller.
type polled struct {
	ctx     context.Context // the subscriber's: its end ends the stream
	stop    func() bool     // the AfterFunc that does so
	s       *subscriber
	st      *stream
	fd      int32
	chunked bool
	dec     chunkDecoder
	body    bodyFeed
	sse     *sse.Reader
}

// bodyFeed holds a stream's body bytes not yet parsed; the parser reads
// them and gets sse.ErrWouldBlock when they are used up.
type bodyFeed struct {
	b   []byte
	off int
	end error // io.EOF once the body ended
}

func (f *bodyFeed) Read(p []byte) (int, error) {
	if f.off == len(f.b) {
		f.b, f.off = f.b[:0], 0
		if f.end != nil {
			return 0, f.end
		}
		return 0, sse.ErrWouldBlock
	}
	n := copy(p, f.b[f.off:])
	f.off += n
	return n, nil
}

// pollWaitMS is how long a poller waits for events before it looks at
// its context again.
const pollWaitMS = 100

func newPollers(e *env) *pollers { return &pollers{e: e} }

// start creates the pollers for the run whose context is ctx; an error
// leaves set empty, and streams go to goroutines.
func (ps *pollers) start(ctx context.Context) {
	ps.ctx = ctx
	for range runtime.GOMAXPROCS(0) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			break
		}
		p := &poller{p: ps, epfd: epfd, conns: map[int32]*polled{}, scratch: make([]byte, 64<<10)}
		ps.set = append(ps.set, p)
		ps.e.readers.Go(p.run)
	}
}

// add puts st on a poller until ctx ends; it reports false when st cannot
// be polled (TLS, no descriptor, the run is over), and the caller reads
// it otherwise.
func (ps *pollers) add(ctx context.Context, s *subscriber, st *stream) bool {
	if len(ps.set) == 0 {
		return false
	}
	tc, ok := st.conn.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := int32(-1)
	if err := rc.Control(func(f uintptr) { fd = int32(f) }); err != nil || fd < 0 {
		return false
	}
	pc := &polled{ctx: ctx, s: s, st: st, fd: fd, chunked: st.chunked}
	pc.sse = sse.NewReader(&pc.body, 4096, maxEventBytes)
	p := ps.set[ps.next.Add(1)%uint64(len(ps.set))]
	// The bytes read with the headers come first, before the poller can
	// see the stream.
	err = pc.take(st.buffered)
	if err == nil {
		err = p.parse(pc)
	}
	if err != nil {
		p.end(pc, err, false)
		return true
	}
	// The subscriber's end shuts the socket's reading side: the poller
	// then reads its end of stream and closes it. Closing it here instead
	// would free the descriptor's number under the poller.
	pc.stop = context.AfterFunc(ctx, func() { _ = tc.CloseRead() })
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.stop()
		return false
	}
	p.conns[fd] = pc
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, fd)
		p.mu.Unlock()
		pc.stop()
		return false
	}
	return true
}

// take decodes bytes read from pc's connection into its body.
func (pc *polled) take(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if !pc.chunked {
		pc.body.b = append(pc.body.b, b...)
		return nil
	}
	var err error
	pc.body.b, err = pc.dec.decode(pc.body.b, b)
	if errors.Is(err, io.EOF) {
		pc.body.end = io.EOF
		return nil
	}
	return err
}

// run serves the poller's streams until the run's context ends, then
// closes those left.
func (p *poller) run() {
	defer syscall.Close(p.epfd)
	events := make([]syscall.EpollEvent, 512)
	for {
		n, err := syscall.EpollWait(p.epfd, events, pollWaitMS)
		if p.p.ctx.Err() != nil {
			p.closeAll()
			return
		}
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			p.closeAll()
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			pc := p.conns[ev.Fd]
			p.mu.Unlock()
			if pc != nil {
				p.service(pc)
			}
		}
	}
}

// service reads pc once and hands out the events it completes.
func (p *poller) service(pc *polled) {
	buf := p.scratch
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(pc.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return // nothing after all; asked again next round if there is
	case errno != 0:
		p.end(pc, errno, true)
		return
	case n == 0:
		if pc.chunked && pc.body.end == nil {
			pc.body.end = io.ErrUnexpectedEOF
		} else {
			pc.body.end = io.EOF
		}
	default:
		if err := pc.take(buf[:n]); err != nil {
			p.end(pc, err, true)
			return
		}
	}
	if err := p.parse(pc); err != nil {
		p.end(pc, err, true)
	}
}

// parse hands out every complete event of pc's body; it returns the
// stream's end (io.EOF, a parse error), nil while it goes on.
func (p *poller) parse(pc *polled) error {
	for {
		ev, err := pc.sse.Next()
		switch {
		case err == nil:
			p.p.e.event(pc.s, ev)
		case errors.Is(err, sse.ErrWouldBlock):
			return nil
		default:
			return err
		}
	}
}

// end takes pc off the poller, closes it and, off the poller, counts the
// end and reconnects as the goroutine reader does.
func (p *poller) end(pc *polled, err error, registered bool) {
	if registered {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(pc.fd), nil)
		p.mu.Lock()
		delete(p.conns, pc.fd)
		p.mu.Unlock()
	}
	if pc.stop != nil {
		pc.stop()
	}
	pc.st.Close()
	e, ctx := p.p.e, pc.ctx
	e.readers.Go(func() {
		if st := e.streamEnded(ctx, pc.s, err); st != nil {
			e.startReading(ctx, pc.s, st)
		}
	})
}

// closeAll ends every stream at the end of the run.
func (p *poller) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range conns {
		if pc.stop != nil {
			pc.stop()
		}
		pc.st.Close()
		p.p.e.open.Add(-1)
	}
}
