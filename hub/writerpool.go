package hub

import (
	"runtime"
	"sync"
	"time"
)

// writerPool writes to the HTTP/1.1 connections the hub took over
// (h1conn.go): a ready queue of connections that have something to do
// (frames queued, a heartbeat or an end due) and at most max goroutines
// serving it. Workers start when work arrives and exit when the queue is
// empty, so idle subscribers cost no goroutine at all, and a hub without
// taken-over connections runs none.
//
// Each connection is in the queue at most once (h1conn's state says
// whether it is), so the queue is bounded by the number of connections. A
// worker serves one connection at a time with one write per batch, bounded
// by a write deadline: a stuck client holds a worker for one DispatchTimeout
// at most, and is then disconnected.
type writerPool struct {
	max int

	mu      sync.Mutex
	queue   []*h1conn
	head    int // queue[head:] is waiting
	running int

	watcher closeWatcher // notices idle connections closed by their client

	coalesce coalescer
	holds    *holdWheel // ends the holds of the coalescing window
}

// writersPerProc is how many workers the pool runs per CPU at most: more
// than one, so that a few clients stuck until their write deadline do not
// hold up the others.
const writersPerProc = 8

func newWriterPool(floor, ceiling time.Duration) *writerPool {
	p := &writerPool{max: max(4, writersPerProc*runtime.GOMAXPROCS(0))}
	p.holds = newHoldWheel((*h1conn).holdEnded)
	p.coalesce.init(floor, ceiling, runtime.GOMAXPROCS(0))
	return p
}

// submit queues c and starts a worker if fewer than max are running. The
// caller has marked c queued, so c is not in the queue already.
func (p *writerPool) submit(c *h1conn) {
	p.mu.Lock()
	p.queue = append(p.queue, c)
	start := p.running < p.max
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// work serves queued connections until the queue is empty.
func (p *writerPool) work() {
	served := 0
	start := p.coalesce.clock()
	for {
		p.mu.Lock()
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			p.running--
			p.mu.Unlock()
			return
		}
		c := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if p.head > 1024 && p.head > len(p.queue)/2 {
			// Never empty under steady load: reclaim the served prefix.
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		p.mu.Unlock()
		c.run()
		// One clock reading ends this run and starts the next.
		start = p.coalesce.account(start)
		if served++; served%yieldEvery == 0 {
			runtime.Gosched()
			start = p.coalesce.clock() // the time given away is not the pool's
		}
	}
}

// yieldEvery is how many connections a worker serves before it lets other
// goroutines run. Writes to sockets with room never block, so a worker
// would otherwise keep its processor until the scheduler preempts it,
// 10 ms or more later, and with several workers queued, a publish or the
// dispatcher waiting for the processor would wait for each of them in
// turn: the latency of every update grew with the backlog of writes.
const yieldEvery = 32
