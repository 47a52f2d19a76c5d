package hub

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// closeWatcher notices clients that close a taken-over connection while
// it is idle, with one goroutine for all of them: an epoll instance of its
// own watches every connection for the client's end of stream (EPOLLRDHUP,
// edge-triggered, so bytes a client sends do not wake it again and again).
// A connection it reports is only woken: the writer pool checks the socket
// itself (peerClosed) before it ends the stream, so a report that comes
// late, for a descriptor number already reused, costs one look and no
// wrong disconnect. Without it a closed connection would be noticed at the
// next heartbeat or write (peerClosed), which is also what happens where
// it cannot start.
type closeWatcher struct {
	mu      sync.Mutex
	started bool
	failed  bool // epoll unavailable: heartbeats notice closes
	epfd    int
	wake    [2]int // a pipe whose read end stops the watching goroutine
	conns   map[int32]*h1conn
	done    chan struct{}
}

// epollET is EPOLLET as the uint32 of EpollEvent.Events (the syscall
// package declares it as a negative int).
const epollET = 1 << 31

// watch adds c; it reports false when c cannot be watched.
func (w *closeWatcher) watch(c *h1conn) bool {
	fd, ok := connFD(c.conn)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started && !w.failed {
		if err := w.start(); err != nil {
			w.failed = true
		}
	}
	if w.failed {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | epollET, Fd: fd}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return false
	}
	w.conns[fd] = c
	c.watchedFD = fd
	return true
}

// unwatch removes c before its connection is closed.
func (w *closeWatcher) unwatch(c *h1conn) {
	if c.watchedFD < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns[c.watchedFD] == c {
		delete(w.conns, c.watchedFD)
		_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(c.watchedFD), nil)
	}
}

// start opens the epoll instance and starts the goroutine; w.mu is held.
func (w *closeWatcher) start() error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(w.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(w.wake[0])
		_ = syscall.Close(w.wake[1])
		return err
	}
	w.epfd, w.started = epfd, true
	w.conns = make(map[int32]*h1conn)
	w.done = make(chan struct{})
	go w.loop()
	return nil
}

func (w *closeWatcher) loop() {
	defer close(w.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(w.wake[0]) {
				return
			}
			w.mu.Lock()
			c := w.conns[ev.Fd]
			w.mu.Unlock()
			if c != nil {
				c.checkPeer()
			}
		}
	}
}

// stop ends the goroutine and closes the descriptors; the hub calls it once
// every stream has ended.
func (w *closeWatcher) stop() {
	w.mu.Lock()
	started := w.started
	w.started, w.failed = false, true
	w.mu.Unlock()
	if !started {
		return
	}
	_, _ = syscall.Write(w.wake[1], []byte{0})
	<-w.done
	_ = syscall.Close(w.epfd)
	_ = syscall.Close(w.wake[0])
	_ = syscall.Close(w.wake[1])
}

// connFD is the socket descriptor of conn.
func connFD(conn net.Conn) (int32, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var fd int32
	if err := raw.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		return 0, false
	}
	return fd, true
}
