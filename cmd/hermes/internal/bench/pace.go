package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// publishPlan is one publishing phase: workers publish for duration at
// rate updates/s (paced on a fixed schedule, so that a slow response does
// not lower the offered load), or as fast as they can when rate is 0.
type publishPlan struct {
	step     int
	workers  int
	rate     float64
	duration time.Duration
	// make builds the update for seq, published by worker w.
	make func(w int, seq int64, p payload) update
	// target is the subscriber seq is meant for (-1: all).
	target func(seq int64) int
	// limit stops the phase after that many publishes (0: no limit).
	limit int64
	// keepIDs records the id the hub assigned to each acknowledged seq.
	keepIDs bool
}

// publishPhase runs plan and returns how long it took.
func (e *env) publishPhase(ctx context.Context, plan publishPlan) time.Duration {
	st := e.step(plan.step)
	if st == nil {
		st = e.newStep(plan.step)
	}
	start := time.Now()
	end := start.Add(plan.duration)
	var slot atomic.Int64
	var wg sync.WaitGroup
	for w := range plan.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := slot.Add(1) - 1
				if plan.limit > 0 && k >= plan.limit {
					return
				}
				if plan.rate > 0 {
					at := start.Add(time.Duration(float64(k) / plan.rate * float64(time.Second)))
					if !at.Before(end) {
						return
					}
					if wait := time.Until(at); wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-ctx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					}
				} else if !time.Now().Before(end) {
					return
				}
				seq := e.seq.Add(1) - 1
				p := payload{run: e.runID, step: plan.step, pub: w, seq: seq, target: -1}
				if plan.target != nil {
					p.target = plan.target(seq)
				}
				p.sent = e.now()
				u := plan.make(w, seq, p)
				st.published.Add(1)
				id, err := e.pub.publish(ctx, u)
				st.publish.Record(e.now() - p.sent)
				st.mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						st.errs[errorKey(err)]++
					}
				} else {
					st.acked.Add(1)
					st.ackedSeqs = append(st.ackedSeqs, seq)
					if plan.keepIDs {
						if st.ids == nil {
							st.ids = map[int64]string{}
						}
						st.ids[seq] = id
					}
				}
				st.mu.Unlock()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
