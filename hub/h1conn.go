package hub

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/hub/rawnet"
)

// HTTP/1.1 streams are taken over after their headers (and replay): the
// connection is hijacked from net/http, its state kept in an h1conn, and
// its writes done by the writer pool (writerpool.go). An idle subscriber
// then costs no goroutine and none of net/http's per-connection buffers
// (design.md, "Memory per idle subscriber"): the handler goroutine returns,
// the buffered reader and writer Hijack hands back are dropped, and no
// goroutine reads the connection. A client that went away is noticed at the
// latest at the next heartbeat, which first checks the socket for its end
// (peerClosed), or at the next write.
//
// The response's framing is the hub's from then on: Transfer-Encoding:
// chunked is set by the hub (HTTP/1.1; an HTTP/1.0 response is the raw
// stream, ended by closing), each batch is one chunk in one write, and a
// clean end writes the last chunk (0\r\n\r\n) before closing. The response
// says Connection: close, so that no client queues a request behind the
// stream on a connection that will be closed.
//
// Heartbeats and the stream's ends (deadline, drain) come from one
// time.AfterFunc timer per connection, which costs no goroutine until it
// fires, and then only long enough to queue the connection. The ends of
// coalescing holds come from the pool's holdWheel (holdwheel.go).

// canTakeOver reports whether r's stream will be taken over: HTTP/1.x on a
// ResponseWriter that can be hijacked (directly or through Unwrap, as
// http.ResponseController looks for it).
func canTakeOver(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// h1conn is a taken-over HTTP/1.1 stream.
type h1conn struct {
	st      *stream
	conn    net.Conn
	chunked bool
	timer   *time.Timer // wakes the connection for its next heartbeat or end
	// watchedFD is the descriptor closeWatcher watches, -1 when none.
	watchedFD int32

	mu    sync.Mutex
	state connState
	again bool // woken while running: run once more
	// abort: the stream was stopped for a reason that does not wait for
	// the writes in hand (overflow, the end of a shutdown's drain window):
	// no batch starts any more and the one in progress is broken. The last
	// chunk is still sent when the connection is not broken (finish).
	abort     bool
	writing   bool
	probe     bool      // closeWatcher saw the client's end: check the socket
	lastWrite time.Time // of the last write, for the heartbeat
	drainAt   time.Time // when the drain ends this stream; zero: no drain
	// holdUntil: frames queued less than coalesceWindow after the last
	// write wait for this moment (the pool's holdWheel ends the hold),
	// zero when none wait.
	holdUntil time.Time
	// timerAt is the moment timer is set for, zero when stopped (arm).
	timerAt time.Time
	// deadline is the write deadline set on conn, reused while it is far
	// enough away (send).
	deadline time.Time
}

// coalesceWindow is the least time between two writes of frames to one
// connection: frames that arrive sooner after a write wait for the end of
// the window and go out together, in one write. A write costs a system
// call in the hub and a wake-up of the reader, several microseconds on
// loopback, far more than copying a frame; a subscriber receiving a few
// hundred updates a second would otherwise cost one write per update.
// A frame after a quiet period is written at once: only subscribers that
// receive more than one update per window wait, by at most the window.
const coalesceWindow = 10 * time.Millisecond

type connState uint8

const (
	connIdle    connState = iota // waits for a wake
	connQueued                   // in the pool's queue
	connRunning                  // a worker runs it
	connDone                     // ended
)

// takeOver hijacks the stream's connection and hands it to the writer
// pool; the caller's handler then returns. It reports false, with nothing
// changed, when the connection cannot be hijacked: the handler serves the
// stream itself. Everything written through net/http must have been
// flushed.
func (st *stream) takeOver(chunked bool) bool {
	h := st.h
	conn, brw, err := st.rc.Hijack()
	if err != nil {
		return false
	}
	// brw's reader may hold bytes the client sent after its request (it
	// should send none); they are not read. Neither of its buffers is
	// kept: they are what an idle connection must not cost.
	_ = brw
	if tc, ok := conn.(*net.TCPConn); ok {
		// Raw non-blocking writes (package rawnet): a pass over thousands
		// of subscribers makes one write each, and as ordinary blocking
		// system calls they had the runtime hand the processor between
		// threads on almost every one. TLS connections write through
		// their own Write.
		conn = rawnet.NewConn(tc)
	}
	now := time.Now()
	c := &h1conn{st: st, conn: conn, chunked: chunked, lastWrite: now, watchedFD: -1}
	c.timer = time.AfterFunc(math.MaxInt64, c.wake)
	h.writers.watcher.watch(c)

	st.stopMu.Lock()
	st.conn = c
	// The request's context ends with the handler; nothing reads it after
	// the takeover, and it must not keep the request alive.
	st.cancel()
	st.ctx, st.cancel = context.Background(), func() {}
	st.w, st.rc = nil, nil
	st.stopMu.Unlock()

	if h.stopping.Err() != nil {
		// Shutdown's drain started; its walk (drainTakenOver) may have
		// passed this stream before it had a connection.
		c.drain()
	}
	c.mu.Lock()
	c.arm(now)
	c.mu.Unlock()
	if st.s.setNotify(c.framesQueued) || st.stopped() != "" {
		// Frames queued before the takeover, or a stop that came first.
		c.wake()
	}
	return true
}

// wake queues c for a worker unless it is queued or ended already; a
// running connection runs once more.
func (c *h1conn) wake() {
	c.mu.Lock()
	switch c.state {
	case connIdle:
		c.state = connQueued
		c.mu.Unlock()
		c.st.h.writers.submit(c)
		return
	case connRunning:
		c.again = true
	}
	c.mu.Unlock()
}

// framesQueued is the subscriber's notification that frames are waiting.
// Within the coalescing window after the last write they are held until
// the window's end (the pool's holdWheel), without a worker's turn;
// otherwise c is woken.
func (c *h1conn) framesQueued() {
	c.mu.Lock()
	if c.state == connIdle {
		now := time.Now()
		if hold := c.lastWrite.Add(c.st.h.writers.coalesce.current()); now.Before(hold) {
			if c.holdUntil.IsZero() {
				c.holdUntil = hold
				c.st.h.writers.holds.add(c, hold, now)
			}
			c.mu.Unlock()
			return
		}
	}
	c.mu.Unlock()
	c.wake()
}

// checkPeer wakes c to look at its socket: closeWatcher saw the client's
// end of stream.
func (c *h1conn) checkPeer() {
	c.mu.Lock()
	c.probe = true
	c.mu.Unlock()
	c.wake()
}

// stop is stream.stop's part for a taken-over connection: it wakes it to
// end, at once for an overflow or a shutdown past its drain window (a
// write in progress is broken), cleanly otherwise.
func (c *h1conn) stop(reason string) {
	if reason == DisconnectOverflow || reason == DisconnectShutdown {
		c.mu.Lock()
		c.abort = true
		if c.writing {
			_ = c.conn.SetWriteDeadline(time.Now())
		}
		c.mu.Unlock()
	}
	c.wake()
}

// drain starts the shutdown's drain for c: it ends cleanly at a random
// moment of the window, so that clients do not all reconnect at once.
func (c *h1conn) drain() {
	c.mu.Lock()
	if c.drainAt.IsZero() {
		c.drainAt = time.Now().Add(c.st.h.drainDelay())
	}
	c.mu.Unlock()
	c.wake()
}

// holdEnded is the holdWheel's release of the hold that ends at at: c is
// woken, unless a run has written or held anew since (the hold is stale).
func (c *h1conn) holdEnded(at time.Time) {
	c.mu.Lock()
	current := c.holdUntil.Equal(at)
	c.mu.Unlock()
	if current {
		c.wake()
	}
}

// arm sets the timer to the next moment c has something to do: its next
// heartbeat, its end or its drain moment. Called with c.mu held.
//
// A timer already set for an earlier moment is kept: it wakes c early, for
// a run that finds nothing due and arms it again. A busy stream's
// heartbeat moment moves with every write; resetting the timer each time
// cost a timer update per write, and this costs one idle run per
// heartbeat period.
func (c *h1conn) arm(now time.Time) {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if hb := c.st.h.cfg.Heartbeat; hb > 0 {
		earlier(c.lastWrite.Add(hb))
	}
	earlier(c.st.deadline)
	earlier(c.drainAt)
	if next.IsZero() {
		if !c.timerAt.IsZero() {
			c.timer.Stop()
			c.timerAt = time.Time{}
		}
		return
	}
	if !c.timerAt.IsZero() && c.timerAt.After(now) && !c.timerAt.After(next) {
		return
	}
	c.timerAt = next
	c.timer.Reset(max(next.Sub(now), 0))
}

// run is one worker's turn on c: end it if its time has come, else write
// what is queued, or a heartbeat when it was idle for a heartbeat period,
// in one write.
func (c *h1conn) run() {
	st, h := c.st, c.st.h
	c.mu.Lock()
	if c.state == connDone {
		c.mu.Unlock()
		return
	}
	c.state, c.again = connRunning, false
	drainAt, lastWrite, probe := c.drainAt, c.lastWrite, c.probe
	c.probe = false
	c.mu.Unlock()

	now := time.Now()
	switch reason := st.stopped(); {
	case reason != "":
		c.finish(reason, false)
		return
	case !st.deadline.IsZero() && !now.Before(st.deadline):
		c.finish(DisconnectDeadline, false)
		return
	case !drainAt.IsZero() && !now.Before(drainAt):
		c.finish(DisconnectShutdown, false)
		return
	case probe && peerClosed(c.conn):
		c.finish(DisconnectClient, true)
		return
	}

	if hold := lastWrite.Add(h.writers.coalesce.current()); now.Before(hold) && st.s.pending() {
		// Too soon after the last write: these frames wait for the
		// window's end, with whatever else arrives meanwhile.
		c.mu.Lock()
		// Added even when c holds for this moment already: this run may
		// be the wheel's early release of a moment beyond its ring.
		c.holdUntil = hold
		h.writers.holds.add(c, hold, now)
		c.arm(now)
		c.idleOrAgain()
		return
	}

	buf := getChunkBuffer()
	defer putChunkBuffer(buf)
	wrote, _ := st.s.writeQueued(buf) // a chunkBuffer never fails
	if !wrote {
		if hb := h.cfg.Heartbeat; hb > 0 && now.Sub(lastWrite) >= hb {
			if peerClosed(c.conn) {
				c.finish(DisconnectClient, true)
				return
			}
			_, _ = buf.Write(heartbeat)
			wrote = true
		}
	}
	if wrote {
		if err := c.send(buf.frame(c.chunked), st.writeDeadline(now), now); err != nil {
			c.finish(c.failReason(err), true)
			return
		}
	}

	c.mu.Lock()
	if wrote {
		c.lastWrite = now
	}
	c.holdUntil = time.Time{}
	c.arm(now)
	c.idleOrAgain()
}

// idleOrAgain ends a run, with c.mu held, which it releases: c is queued
// again when it was woken while running, else it waits idle.
func (c *h1conn) idleOrAgain() {
	if c.again {
		c.state = connQueued
		c.mu.Unlock()
		c.st.h.writers.submit(c)
		return
	}
	c.state = connIdle
	c.mu.Unlock()
}

// errAborted is a write that did not start because the stream was stopped.
var errAborted = errors.New("stream stopped")

// send writes b in one write under deadline; stop can break it.
func (c *h1conn) send(b []byte, deadline, now time.Time) error {
	c.mu.Lock()
	if c.abort {
		c.mu.Unlock()
		return errAborted
	}
	c.writing = true
	// Setting a deadline costs a timer update in the runtime's poller; the
	// one set by an earlier write is kept while at least half of a
	// DispatchTimeout is left of it and it is not later than this write's.
	if keep := c.deadline; keep.IsZero() || keep.After(deadline) || keep.Sub(now) < c.st.h.cfg.DispatchTimeout/2 {
		_ = c.conn.SetWriteDeadline(deadline)
		c.deadline = deadline
	}
	c.mu.Unlock()
	_, err := c.conn.Write(b)
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
	return err
}

// failReason is why a stream ends after a failed write: the reason it was
// stopped for (the write was broken or did not start), a client too slow
// to take a write within its deadline (counted as an overflow: the queue
// bound and the deadline both protect the hub from slow readers), or the
// client gone.
func (c *h1conn) failReason(err error) string {
	if reason := c.st.stopped(); reason != "" {
		return reason
	}
	if c.st.s.kicked() {
		return DisconnectOverflow
	}
	if isTimeout(err) {
		c.st.h.warnings.warn("subscriber too slow: a write did not finish within its deadline; disconnected", "dispatch_timeout", c.st.h.cfg.DispatchTimeout)
		return DisconnectOverflow
	}
	return DisconnectClient
}

// finish ends c for reason and tears the stream down; it runs once.
// Unless the connection is broken (a write failed or was broken, or the
// client is gone), the response ends cleanly, as net/http ends a handler's:
// the last chunk, under a write deadline of its own, then close, so that
// the client sees the end of the stream and reconnects with its
// Last-Event-ID.
func (c *h1conn) finish(reason string, broken bool) {
	st, h := c.st, c.st.h
	c.mu.Lock()
	if c.state == connDone {
		c.mu.Unlock()
		return
	}
	c.state = connDone
	c.mu.Unlock()
	c.timer.Stop()
	if !broken && c.chunked {
		_ = c.conn.SetWriteDeadline(time.Now().Add(h.cfg.DispatchTimeout))
		_, _ = c.conn.Write(lastChunk)
	}
	h.writers.watcher.unwatch(c)
	_ = c.conn.Close()
	if reason == DisconnectOverflow && st.s.kicked() {
		st.warnOverflow()
	}
	// Not on the worker: the teardown stores end events (subscriptions.go),
	// which may wait for the transport.
	go st.close(reason)
}

// lastChunk ends a chunked response (RFC 9112 §7.1), without trailers.
var lastChunk = []byte("0\r\n\r\n")

// chunkBuffer collects one batch of frames behind room for its chunk
// header, so that the batch goes out as one chunk in one write.
type chunkBuffer struct{ b []byte }

// chunkHeadRoom fits a chunk size in hex and its CRLF.
const chunkHeadRoom = 16 + 2

func (w *chunkBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// frame returns the batch as one chunk (or as is, for HTTP/1.0).
func (w *chunkBuffer) frame(chunked bool) []byte {
	if !chunked {
		return w.b[chunkHeadRoom:]
	}
	var size [chunkHeadRoom]byte
	head := strconv.AppendUint(size[:0], uint64(len(w.b)-chunkHeadRoom), 16)
	head = append(head, '\r', '\n')
	start := chunkHeadRoom - len(head)
	copy(w.b[start:], head)
	w.b = append(w.b, '\r', '\n')
	return w.b[start:]
}

var chunkBuffers = sync.Pool{New: func() any { return &chunkBuffer{b: make([]byte, chunkHeadRoom, 4096)} }}

func getChunkBuffer() *chunkBuffer { return chunkBuffers.Get().(*chunkBuffer) }

// putChunkBuffer returns buf to the pool unless a large batch grew it:
// the pool should not hold a queue's worth of memory per worker.
func putChunkBuffer(buf *chunkBuffer) {
	if cap(buf.b) > 64<<10 {
		return
	}
	buf.b = buf.b[:chunkHeadRoom]
	chunkBuffers.Put(buf)
}
