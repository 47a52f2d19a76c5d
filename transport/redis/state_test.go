package redis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/internal/redistest"
	"github.com/hermes-hub/hermes/transport"
)

// logBuffer is a concurrency-safe log sink for assertions on warnings.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// stateEvent is a subscription-like state event.
func stateEvent(id string) *transport.Event {
	return &transport.Event{
		ID:      id,
		Topics:  []string{"/.well-known/mercure/subscriptions/exact/x/" + id},
		Private: true,
		Type:    "mercure",
		Data:    "{\n  \"id\": \"" + id + "\"\n}",
		Time:    time.Unix(1700000000, 123456789),
	}
}

func stateBatch(prefix string, n int) []*transport.Event {
	evs := make([]*transport.Event, n)
	for i := range evs {
		evs[i] = stateEvent(fmt.Sprintf("%s-%d", prefix, i))
	}
	return evs
}

// nextState returns the next batch tr's state channel delivers, failing
// after waitLimit.
func nextState(t *testing.T, tr *Transport) []*transport.Event {
	t.Helper()
	select {
	case b, ok := <-tr.State():
		if !ok {
			t.Fatal("the state channel closed")
		}
		return b
	case <-time.After(waitLimit):
		t.Fatal("no state batch")
		return nil
	}
}

func ids(evs []*transport.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// A batch one node publishes reaches every other node whole, in order,
// with every field but Seq and Frame, and never the publisher; nothing of
// it enters the history (its stream, its feed, its Seqs).
func TestStateReachesOtherNodesNotThePublisher(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a := openTest(t, srv, Options{Stream: "state1"})
	b := openTest(t, srv, Options{Stream: "state1"})
	c := openTest(t, srv, Options{Stream: "state1"})
	fa, fb := collect(a), collect(b)

	sent := stateBatch("a", 3)
	sent[0].Frame = []byte("id: a-0\n\n")
	if err := a.PublishState(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Transport{b, c} {
		got := nextState(t, n)
		if strings.Join(ids(got), ",") != "a-0,a-1,a-2" {
			t.Fatalf("received %q, want a-0,a-1,a-2 as one batch", ids(got))
		}
		for i, ev := range got {
			w := sent[i]
			if ev.Seq != 0 || ev.Frame != nil || !ev.Private || ev.Type != w.Type || ev.Data != w.Data || !ev.Time.Equal(w.Time) || len(ev.Topics) != 1 || ev.Topics[0] != w.Topics[0] {
				t.Errorf("received %+v, want %+v without Seq and Frame", ev, w)
			}
		}
	}
	// The publisher's next batch is b's: its own never came back.
	if err := b.PublishState(context.Background(), stateBatch("b", 1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(nextState(t, a)); strings.Join(got, ",") != "b-0" {
		t.Errorf("the publisher received %q first, want b's b-0 (never its own)", got)
	}
	if got := ids(nextState(t, c)); strings.Join(got, ",") != "b-0" {
		t.Errorf("c received %q, want b-0", got)
	}

	rc := rawClient(t, srv)
	if n, err := rc.XLen(context.Background(), "{state1}:events").Result(); err != nil || n != 0 {
		t.Errorf("history stream holds %d entries (%v), want none", n, err)
	}
	mustAppend(t, a, "update")
	waitFor(t, "the update fed on both nodes", func() bool { return len(fa.snapshot()) == 1 && len(fb.snapshot()) == 1 })
	if ev := fb.snapshot()[0]; ev.ID != "update" || ev.Seq != 1 {
		t.Errorf("feed of b: %q with Seq %d, want the update with Seq 1 (state takes no Seq)", ev.ID, ev.Seq)
	}
}

// The state stream keeps at most state_size entries, however many are
// published; a batch longer than one read still arrives whole.
func TestStateStreamCappedAndBatchesWhole(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a := openTest(t, srv, Options{Stream: "state2", StateSize: 400})
	b := openTest(t, srv, Options{Stream: "state2", StateSize: 400})
	big := stateBatch("big", pageEvents+44)
	if err := a.PublishState(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	got := nextState(t, b)
	if len(got) != len(big) || got[0].ID != "big-0" || got[len(got)-1].ID != big[len(big)-1].ID {
		t.Fatalf("received a batch of %d (%s..%s), want the %d events as one", len(got), got[0].ID, got[len(got)-1].ID, len(big))
	}
	for i := range 250 {
		if err := a.PublishState(context.Background(), stateBatch(fmt.Sprint("s", i), 2)); err != nil {
			t.Fatal(err)
		}
	}
	rc := rawClient(t, srv)
	n, err := rc.XLen(context.Background(), "{state2}:state").Result()
	if err != nil || n != 400 {
		t.Errorf("state stream holds %d entries (%v), want state_size 400", n, err)
	}
	if err := a.PublishState(context.Background(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// A node that falls further behind than state_size misses events: it says
// so in the log, and goes on with what the stream still holds.
func TestStateMissedEventsAreLogged(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var log logBuffer
	a := openTest(t, srv, Options{Stream: "state3", StateSize: 5})
	b := openTest(t, srv, Options{Stream: "state3", StateSize: 5, Logger: log.logger()})
	if err := a.PublishState(context.Background(), stateBatch("first", 1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(nextState(t, b)); got[0] != "first-0" {
		t.Fatalf("got %q", got)
	}
	// b's channel holds 64 batches; nobody reads it while a publishes
	// far more, so b's reader stops and the stream moves past it.
	for i := range 200 {
		if err := a.PublishState(context.Background(), stateBatch(fmt.Sprint("m", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	var last string
	for last != "m199-0" {
		got := nextState(t, b)
		last = got[len(got)-1].ID
	}
	if !strings.Contains(log.String(), "missed subscription events") {
		t.Errorf("no warning about missed events in the log:\n%s", log.String())
	}
}

// The state reader survives a restart of Redis (here empty: the stream
// is recreated), says so, and delivers what is published afterwards.
func TestStateReaderSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	var log logBuffer
	a := openTest(t, srv, fastOpts("state4"))
	ob := fastOpts("state4")
	ob.Logger = log.logger()
	b := openTest(t, srv, ob)
	if err := a.PublishState(context.Background(), stateBatch("before", 1)); err != nil {
		t.Fatal(err)
	}
	nextState(t, b)
	srv.Restart()
	waitFor(t, "a publish to succeed after the restart", func() bool {
		return a.PublishState(context.Background(), stateBatch("after", 1)) == nil
	})
	if got := ids(nextState(t, b)); got[0] != "after-0" {
		t.Fatalf("after the restart b received %q, want after-0", got)
	}
	waitFor(t, "the recreated state stream logged", func() bool {
		return strings.Contains(log.String(), "state stream was recreated")
	})
}

// After Close, PublishState fails with ErrClosed and State is closed.
func TestStateAfterClose(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a := openTest(t, srv, Options{Stream: "state5"})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishState(context.Background(), stateBatch("x", 1)); err != transport.ErrClosed {
		t.Errorf("PublishState after Close: %v, want ErrClosed", err)
	}
	select {
	case _, ok := <-a.State():
		if ok {
			t.Error("a batch on a closed transport's state channel")
		}
	case <-time.After(waitLimit):
		t.Error("State not closed by Close")
	}
}
