package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/histogram"
	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/sse"
)

// subscriber is one simulated EventSource: it reads its stream, checks
// every event, and reconnects with Last-Event-ID when the hub ends the
// stream, as a browser does.
type subscriber struct {
	i   int
	req streamRequest
	tr  *tracker
	// connectedAt is when the current stream's headers arrived.
	connectedAt time.Time
}

// connectStats describes opening a set of subscribers.
type connectStats struct {
	Opened   int            `json:"opened"`
	Failed   map[string]int `json:"failed,omitempty"`
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Latency  latencyFigures `json:"latency"`
	PerSec   float64        `json:"per_second"`
	firstErr error
}

// connectAll opens n subscribers, at most o.ConnectConcurrency at a time,
// and starts a reader for each. Those that fail are left out.
func (e *env) connectAll(ctx context.Context, n int, mk func(i int) *subscriber) ([]*subscriber, connectStats) {
	var (
		mu    sync.Mutex
		subs  = make([]*subscriber, 0, n)
		stats = connectStats{Failed: map[string]int{}}
		lat   histogram.H
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	e.status.Store(func() string {
		return "connecting " + itoa(int(lat.Count())) + "/" + itoa(n)
	})
	for range min(e.o.ConnectConcurrency, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s := mk(i)
				st, err := e.openStream(ctx, s.req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					stats.Failed[errorKey(err)]++
					if stats.firstErr == nil {
						stats.firstErr = err
					}
					mu.Unlock()
					continue
				}
				lat.Record(st.connected)
				s.connectedAt = time.Now()
				e.open.Add(1)
				mu.Lock()
				subs = append(subs, s)
				mu.Unlock()
				e.startReading(ctx, s, st)
			}
		})
	}
	wg.Wait()
	stats.Elapsed = time.Since(start)
	stats.Opened = len(subs)
	stats.Latency = figures(&lat)
	if stats.Elapsed > 0 {
		stats.PerSec = float64(stats.Opened) / stats.Elapsed.Seconds()
	}
	if len(stats.Failed) == 0 {
		stats.Failed = nil
	}
	return subs, stats
}

// startReading reads st for s: on a poller when the tool has them and st
// can be polled, else on a goroutine of its own.
func (e *env) startReading(ctx context.Context, s *subscriber, st *stream) {
	if e.pollers != nil && e.pollers.add(ctx, s, st) {
		return
	}
	e.readers.Go(func() { e.read(ctx, s, st) })
}

// read consumes s's stream until ctx ends, reconnecting when the hub ends
// it (unless the scenario measures idle connections, where a drop is what
// it counts).
func (e *env) read(ctx context.Context, s *subscriber, st *stream) {
	for st != nil {
		stop := context.AfterFunc(ctx, func() { st.Close() })
		var err error
		for err == nil {
			var ev sse.Event
			if ev, err = st.sse.Next(); err == nil {
				e.event(s, ev)
			}
		}
		stop()
		st.Close()
		st = e.streamEnded(ctx, s, err)
	}
}

// event takes one event of s's stream.
func (e *env) event(s *subscriber, ev sse.Event) {
	s.tr.mu.Lock()
	s.tr.lastID = ev.ID
	s.tr.mu.Unlock()
	e.deliver(s, ev)
}

// streamEnded counts the end of s's stream (closed by the caller) with err,
// and reconnects as a browser does unless the run is over or the scenario
// counts drops: it returns the new stream, nil when s is done.
func (e *env) streamEnded(ctx context.Context, s *subscriber, err error) *stream {
	e.open.Add(-1)
	if ctx.Err() != nil {
		return nil
	}
	e.dropped.Add(1)
	if errors.Is(err, sse.ErrTooLarge) {
		s.tr.count(&s.tr.malformed)
	}
	if !e.reconnect {
		return nil
	}
	st := e.reopen(ctx, s)
	if st != nil {
		e.open.Add(1)
	}
	return st
}

// reopen reconnects s with the last event id it saw, with a backoff like
// EventSource's retry.
func (e *env) reopen(ctx context.Context, s *subscriber) *stream {
	backoff := 50 * time.Millisecond
	for {
		s.tr.mu.Lock()
		s.tr.reconnects++
		req := s.req
		if s.tr.lastID != "" {
			req.lastEventID, req.hasCursor = s.tr.lastID, true
		}
		s.tr.mu.Unlock()
		st, err := e.openStream(ctx, req)
		if err == nil {
			return st
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// deliver checks one event against what the run published.
func (e *env) deliver(s *subscriber, ev sse.Event) {
	now := e.now()
	p, err := parsePayload(ev.Data)
	if err != nil {
		if errors.Is(err, errNotOurs) {
			s.tr.count(&s.tr.foreign)
		} else {
			s.tr.count(&s.tr.malformed)
		}
		return
	}
	if p.run != e.runID {
		s.tr.count(&s.tr.foreign)
		return
	}
	authorized := p.target == -1 || p.target == s.i
	slot := p.seq
	if e.slot != nil {
		slot = e.slot(p.seq)
	}
	if !s.tr.observe(p, ev.ID, slot, authorized, int64(now)) {
		return
	}
	if st := e.step(p.step); st != nil {
		st.latency.Record(now - p.sent)
		st.deliveries.Add(1)
	}
}
