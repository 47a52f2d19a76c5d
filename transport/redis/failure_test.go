package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 30 * time.Second

// fastOpts fails fast while Redis is down, so that the tests do not wait
// for the production timeouts.
func fastOpts(stream string) Options {
	return Options{Stream: stream, DialTimeout: 300 * time.Millisecond, IOTimeout: time.Second}
}

// collector records what a feed delivers.
type collector struct {
	mu  sync.Mutex
	evs []*transport.Event
}

func collect(tr *Transport) *collector {
	c := &collector{}
	go func() {
		for ev := range tr.Feed() {
			c.mu.Lock()
			c.evs = append(c.evs, ev)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) snapshot() []*transport.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.evs)
}

// waitFor polls cond until it holds, failing after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitLoss waits for a loss report.
func waitLoss(t *testing.T, tr *Transport) transport.Loss {
	t.Helper()
	select {
	case l := <-tr.Losses():
		return l
	case <-time.After(waitLimit):
		t.Fatal("no loss reported")
		return transport.Loss{}
	}
}

func noLoss(t *testing.T, tr *Transport) {
	t.Helper()
	select {
	case l := <-tr.Losses():
		t.Fatalf("a loss was reported: %s", l.Reason)
	default:
	}
}

func mustAppend(t *testing.T, tr *Transport, id string) *transport.Event {
	t.Helper()
	ev := &transport.Event{ID: id, Topics: []string{"t"}, Data: id}
	if err := tr.Append(context.Background(), ev); err != nil {
		t.Fatalf("Append(%s): %v", id, err)
	}
	return ev
}

func rawClient(t *testing.T, srv *redistest.Server) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkDense fails unless evs have strictly consecutive Seqs and distinct
// ids, and returns their ids.
func checkDense(t *testing.T, evs []*transport.Event) map[string]bool {
	t.Helper()
	ids := make(map[string]bool, len(evs))
	for i, ev := range evs {
		if i > 0 && ev.Seq != evs[i-1].Seq+1 {
			t.Fatalf("feed position %d: Seq %d after %d (a gap or a duplicate)", i, ev.Seq, evs[i-1].Seq)
		}
		if ids[ev.ID] {
			t.Fatalf("event %q fed twice", ev.ID)
		}
		ids[ev.ID] = true
	}
	return ids
}

// TestKillRedisMidBurst: redis-server is SIGKILLed during a burst of
// appends and restarted on its AOF (appendfsync always). Every
// acknowledged event is kept; the feed resumes after the last event it fed,
// with no gap and no duplicate; appends made while Redis was down failed;
// no loss is reported (nothing was lost).
func TestKillRedisMidBurst(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tr := openTest(t, srv, fastOpts("burst"))
	fd := collect(tr)

	var (
		mu      sync.Mutex
		acked   = map[string]uint64{}
		failed  atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		counter atomic.Int64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ev := &transport.Event{ID: fmt.Sprintf("w%d-%d", w, i), Topics: []string{"t"}, Data: "x"}
				if err := tr.Append(context.Background(), ev); err != nil {
					failed.Add(1)
					time.Sleep(20 * time.Millisecond) // pace retries while Redis is down
					continue
				}
				counter.Add(1)
				mu.Lock()
				acked[ev.ID] = ev.Seq
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "500 acknowledged appends", func() bool { return counter.Load() >= 500 })
	srv.Kill()
	waitFor(t, "appends to fail while Redis is down", func() bool { return failed.Load() >= 8 })
	before := counter.Load()
	srv.Restart()
	waitFor(t, "500 more acknowledged appends after the restart", func() bool { return counter.Load() >= before+500 })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	waitFor(t, "the feed to deliver every acknowledged event", func() bool {
		evs := fd.snapshot()
		return len(evs) > 0 && evs[len(evs)-1].Seq >= tr.LastSeq()
	})
	evs := fd.snapshot()
	fed := checkDense(t, evs)
	for id, seq := range acked {
		if !fed[id] {
			t.Fatalf("acknowledged event %s (Seq %d) never fed", id, seq)
		}
	}
	var replayed int
	err := tr.Replay(context.Background(), 0, tr.LastSeq(), func(ev *transport.Event) error {
		if seq, ok := acked[ev.ID]; ok && seq != ev.Seq {
			return fmt.Errorf("%s replayed with Seq %d, acknowledged with %d", ev.ID, ev.Seq, seq)
		}
		replayed++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if replayed < len(acked) {
		t.Fatalf("history holds %d events, fewer than the %d acknowledged", replayed, len(acked))
	}
	noLoss(t, tr)
	t.Logf("%d acknowledged, %d failed while Redis was down, %d fed", len(acked), failed.Load(), len(evs))
}

// TestFlushAllIsDetected: FLUSHALL empties Redis behind the node's back.
// The idle node notices without any append, reports the loss, and its Seqs
// keep increasing on the new stream, whose events it feeds.
func TestFlushAllIsDetected(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tr := openTest(t, srv, fastOpts("flush"))
	fd := collect(tr)
	for i := range 10 {
		mustAppend(t, tr, fmt.Sprint("old-", i))
	}
	waitFor(t, "10 events fed", func() bool { return len(fd.snapshot()) == 10 })
	noLoss(t, tr)
	if err := rawClient(t, srv).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	loss := waitLoss(t, tr)
	t.Logf("loss: %s", loss.Reason)
	ev := mustAppend(t, tr, "new-0")
	if ev.Seq <= 10 {
		t.Fatalf("first Seq after the loss = %d, want above 10 (Seqs never go back)", ev.Seq)
	}
	waitFor(t, "the new event fed", func() bool { return len(fd.snapshot()) == 11 })
	if got := fd.snapshot()[10]; got.ID != "new-0" || got.Seq != ev.Seq {
		t.Fatalf("fed %q Seq %d after the loss, want new-0 Seq %d", got.ID, got.Seq, ev.Seq)
	}
	if _, ok, err := tr.Lookup(context.Background(), "old-3"); err != nil || ok {
		t.Fatalf("Lookup of a lost event = %v, %v; want not found", ok, err)
	}
	if seq, ok, err := tr.Lookup(context.Background(), "new-0"); err != nil || !ok || seq != ev.Seq {
		t.Fatalf("Lookup(new-0) = %d, %v, %v; want %d", seq, ok, err, ev.Seq)
	}
}

// TestRestartEmptyIsDetected: Redis without persistence restarts empty;
// the next append finds the stream recreated, reports the loss and gets a
// Seq above everything before.
func TestRestartEmptyIsDetected(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, fastOpts("empty"))
	fd := collect(tr)
	for i := range 5 {
		mustAppend(t, tr, fmt.Sprint("old-", i))
	}
	waitFor(t, "5 events fed", func() bool { return len(fd.snapshot()) == 5 })
	srv.Restart()
	var ev *transport.Event
	waitFor(t, "an append to succeed after the restart", func() bool {
		ev = &transport.Event{ID: "new"}
		return tr.Append(context.Background(), ev) == nil
	})
	waitLoss(t, tr)
	if ev.Seq <= 5 {
		t.Fatalf("Seq after the loss = %d, want above 5", ev.Seq)
	}
	waitFor(t, "the new event fed", func() bool { return len(fd.snapshot()) == 6 })
	if got := fd.snapshot(); got[5].ID != "new" || got[5].Seq <= got[4].Seq {
		t.Fatalf("fed %q with Seq %d after Seq %d", got[5].ID, got[5].Seq, got[4].Seq)
	}
}

// TestRollbackIsDetected: the stream loses its last writes but keeps its
// epoch (a failover to a replica that missed them). A node that had read
// them notices: first because the stream's last seq is below its position,
// then, after others appended past it again, because the entry at its
// position is another event.
func TestRollbackIsDetected(t *testing.T) {
	for _, c := range []struct {
		name   string
		refill int // events appended by another node after the rollback
	}{
		{"below the position", 0},
		{"another event at the position", 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{})
			a := openTest(t, srv, fastOpts("rollback"))
			fd := collect(a)
			for i := range 10 {
				mustAppend(t, a, fmt.Sprint("a-", i))
			}
			waitFor(t, "10 events fed", func() bool { return len(fd.snapshot()) == 10 })
			// Roll the stream back to seq 7, as a replica that missed the
			// last three writes would hold it.
			rc := rawClient(t, srv)
			ctx := context.Background()
			if err := rc.XDel(ctx, "{rollback}:events", "8-0", "9-0", "10-0").Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.HDel(ctx, "{rollback}:ids", "a-7", "a-8", "a-9").Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.HSet(ctx, "{rollback}:meta", "seq", 7).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.Do(ctx, "XSETID", "{rollback}:events", "7-0").Err(); err != nil {
				t.Fatal(err)
			}
			if c.refill > 0 {
				b := openTest(t, srv, fastOpts("rollback")) // a node that never saw 8..10
				for i := range c.refill {
					mustAppend(t, b, fmt.Sprint("other-", i))
				}
			}
			waitLoss(t, a)
			ev := mustAppend(t, a, "after")
			if ev.Seq <= 10 {
				t.Fatalf("Seq after the loss = %d, want above 10", ev.Seq)
			}
			waitFor(t, "the event after the loss fed", func() bool {
				evs := fd.snapshot()
				return evs[len(evs)-1].ID == "after"
			})
			evs := fd.snapshot()
			for i := 1; i < len(evs); i++ {
				if evs[i].Seq <= evs[i-1].Seq {
					t.Fatalf("feed Seqs go back: %d after %d", evs[i].Seq, evs[i-1].Seq)
				}
			}
		})
	}
}

// TestUnreachable: with Redis down, Append and Check fail (the hub answers
// 503 to publishers and to /readyz) instead of hanging or succeeding; the
// feed stays open and delivers what is appended once Redis is back.
func TestUnreachable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tr := openTest(t, srv, fastOpts("down"))
	fd := collect(tr)
	mustAppend(t, tr, "before")
	srv.Kill()
	start := time.Now()
	if err := tr.Append(context.Background(), &transport.Event{ID: "during"}); err == nil {
		t.Fatal("Append succeeded with Redis down")
	} else if errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Append with Redis down = %v, want a connection error", err)
	}
	if err := tr.Check(context.Background()); err == nil {
		t.Fatal("Check succeeded with Redis down")
	}
	t.Logf("Append and Check failed within %v", time.Since(start).Round(time.Millisecond))
	if _, _, err := tr.Lookup(context.Background(), "before"); err == nil {
		t.Fatal("Lookup succeeded with Redis down")
	}
	srv.Restart()
	waitFor(t, "Check to pass again", func() bool { return tr.Check(context.Background()) == nil })
	var ev *transport.Event
	waitFor(t, "an append to succeed", func() bool {
		ev = &transport.Event{ID: "after"}
		return tr.Append(context.Background(), ev) == nil
	})
	waitFor(t, "the feed to deliver the event appended after the outage", func() bool {
		evs := fd.snapshot()
		return len(evs) > 0 && evs[len(evs)-1].ID == "after"
	})
	evs := fd.snapshot()
	if evs[0].ID != "before" || evs[len(evs)-1].Seq != ev.Seq {
		t.Fatalf("feed = %v", evs)
	}
	noLoss(t, tr)
}

// TestOpenUnreachable: Open fails with an error naming the address when
// nothing answers.
func TestOpenUnreachable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Kill()
	_, err := Open(Options{Addrs: []string{srv.Addr}, DialTimeout: 200 * time.Millisecond, IOTimeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
	if !strings.Contains(err.Error(), srv.Addr) {
		t.Fatalf("Open error %q does not name %s", err, srv.Addr)
	}
}

// TestTwoNodesSeeOneOrder: two transports on one stream (two hub nodes)
// append concurrently; both feeds deliver every event, in the same order
// with the same Seqs.
func TestTwoNodesSeeOneOrder(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a := openTest(t, srv, Options{Stream: "shared"})
	b := openTest(t, srv, Options{Stream: "shared"})
	fa, fb := collect(a), collect(b)
	const perNode, workers = 400, 4
	var wg sync.WaitGroup
	for _, tr := range []*Transport{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perNode / workers {
					ev := &transport.Event{ID: fmt.Sprintf("%p-%d-%d", tr, w, i), Topics: []string{"t"}}
					if err := tr.Append(context.Background(), ev); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	const total = 2 * perNode
	waitFor(t, "both feeds to deliver everything", func() bool {
		return len(fa.snapshot()) == total && len(fb.snapshot()) == total
	})
	ea, eb := fa.snapshot(), fb.snapshot()
	checkDense(t, ea)
	for i := range ea {
		if ea[i].ID != eb[i].ID || ea[i].Seq != eb[i].Seq {
			t.Fatalf("position %d: node A fed %q (Seq %d), node B %q (Seq %d)", i, ea[i].ID, ea[i].Seq, eb[i].ID, eb[i].Seq)
		}
	}
}

// TestGroupCommit: concurrent appends share script calls.
func TestGroupCommit(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tr := openTest(t, srv, Options{Stream: "group"})
	collect(tr)
	const workers, per = 64, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := tr.Append(context.Background(), &transport.Event{ID: fmt.Sprint(w, "-", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if c := tr.commits.Load(); c > workers*per/2 {
		t.Fatalf("%d script calls for %d concurrent appends: no group commit", c, workers*per)
	}
}
