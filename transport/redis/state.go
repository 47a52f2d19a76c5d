package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
)

// State between nodes (transport.StateBroadcaster): the subscription
// events of --subscriptions, which every node's listeners want live but
// which must never enter the history (issue 10 finding 3).
//
// They go to a second stream, {STREAM}:state, capped at Options.StateSize
// entries by each XADD (exact MAXLEN: the stream is small, so trimming
// costs one deletion per addition and the bound is the one configured).
// Churn can fill only this stream, never the history. Each node tails it
// with a second blocking reader, started at the stream's end when the node
// opens, and hands the hub what other nodes published. A node never
// receives its own events: its hub delivered them already, at once, in
// the order its streams opened and closed.
//
// Each entry has these fields:
//
//	n  the state counter, from {STREAM}:state:n, one per event: a reader
//	   that finds a jump in it missed events (trimmed before it read them)
//	o  the publishing node's random id, so that it skips its own
//	e  "1" on the last event of a batch, so that a batch reaches the hub
//	   whole even when a read ends in its middle
//	i  the event id
//	d  the event, encoded like history entries' d (codec.go)
//
// One script numbers and adds a whole batch, so its entries are contiguous
// in the stream.

// DefaultStateSize is how many state events the state stream keeps when
// Options.StateSize is zero: the hub keeps as many in memory.
const DefaultStateSize = 1000

// maxStateSize bounds Options.StateSize.
const maxStateSize = 1 << 20

// stateScript numbers and adds a batch of state events.
// KEYS[1] the state stream, KEYS[2] its counter; ARGV[1] MAXLEN, ARGV[2]
// node id, then an id and a payload per event.
var stateScript = goredis.NewScript(`
local count = (#ARGV - 2) / 2
local n = redis.call('INCRBY', KEYS[2], count) - count
for i = 3, #ARGV, 2 do
  n = n + 1
  local e = '0'
  if i + 1 == #ARGV then e = '1' end
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'n', n, 'o', ARGV[2], 'e', e, 'i', ARGV[i], 'd', ARGV[i + 1])
end
return n
`)

// stateCursor is where the state reader stands.
type stateCursor struct {
	id string // stream entry ID of the last entry read, "0-0" before any
	n  int64  // its counter value, 0 when unknown
}

// stateStart finds the end of the state stream, where a node opening
// starts reading: older state is of no use to its hub, whose kept
// subscription events start empty.
func (t *Transport) stateStart(ctx context.Context) (stateCursor, error) {
	msgs, err := t.c.XRevRangeN(ctx, t.stateKeys[0], "+", "-", 1).Result()
	if err != nil {
		return stateCursor{}, fmt.Errorf("finding the end of the state stream: %w", err)
	}
	if len(msgs) == 0 {
		return stateCursor{id: "0-0"}, nil
	}
	n, _ := strconv.ParseInt(fmt.Sprint(msgs[0].Values["n"]), 10, 64)
	return stateCursor{id: msgs[0].ID, n: n}, nil
}

// PublishState adds evs to the state stream as one batch, for the other
// nodes (transport.StateBroadcaster). It does not set or change anything
// in the events.
func (t *Transport) PublishState(ctx context.Context, evs []*transport.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := t.open(); err != nil {
		return err
	}
	args := make([]any, 0, 2+2*len(evs))
	args = append(args, t.opts.stateSize(), t.node)
	now := time.Now()
	for i, ev := range evs {
		if ev == nil {
			return fmt.Errorf("redis: publish state: event %d is nil", i)
		}
		if len(ev.ID) > MaxIDLength {
			return fmt.Errorf("redis: publish state: event %d: id of %d bytes, longer than %d", i, len(ev.ID), MaxIDLength)
		}
		e := *ev
		if e.Time.IsZero() {
			e.Time = now
		}
		args = append(args, e.ID, encodePayload(&e))
	}
	start := time.Now()
	if err := stateScript.Run(ctx, t.c, t.stateKeys, args...).Err(); err != nil {
		t.m.RedisError(OpState)
		return fmt.Errorf("redis: publish state: %w", err)
	}
	t.m.RedisRoundTrip(OpState, time.Since(start))
	return nil
}

// State delivers the batches of state events other nodes published
// (transport.StateBroadcaster). It is closed by Close.
func (t *Transport) State() <-chan []*transport.Event { return t.state }

// stateEntry is one decoded entry of the state stream.
type stateEntry struct {
	n      int64
	origin string
	end    bool
	ev     *transport.Event
}

// parseStateEntry decodes one state stream entry.
func parseStateEntry(m goredis.XMessage) (stateEntry, error) {
	str := func(k string) (string, bool) {
		s, ok := m.Values[k].(string)
		return s, ok
	}
	ns, ok1 := str("n")
	origin, ok2 := str("o")
	end, ok3 := str("e")
	id, ok4 := str("i")
	d, ok5 := str("d")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return stateEntry{}, fmt.Errorf("%w: state entry %s lacks a field", errCorrupt, m.ID)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil || n <= 0 {
		return stateEntry{}, fmt.Errorf("%w: state entry %s: counter %q", errCorrupt, m.ID, ns)
	}
	ev, err := decodePayload(id, []byte(d))
	if err != nil {
		return stateEntry{}, fmt.Errorf("state entry %s: %w", m.ID, err)
	}
	return stateEntry{n: n, origin: origin, end: end == "1", ev: ev}, nil
}

// readState tails the state stream from cur until the transport closes,
// handing the hub what other nodes published, a batch at a time. Like the
// feed's reader it survives Redis errors with backoff, resuming after the
// last entry it read. What it cannot deliver is not critical (state is not
// history) but never silent: missed events and a recreated stream are
// logged.
func (t *Transport) readState(cur stateCursor) {
	defer t.others.Done()
	backoff := time.Duration(0)
	failing := false
	var pending []*transport.Event
	// send hands a batch to the hub; false when the transport is closing.
	send := func(evs []*transport.Event) bool {
		if len(evs) == 0 {
			return true
		}
		select {
		case t.state <- evs:
			return true
		case <-t.closing:
			return false
		}
	}
	for {
		if t.isClosing() {
			return
		}
		start := time.Now()
		res, err := t.c.XRead(t.ctx, &goredis.XReadArgs{
			Streams: []string{t.stateKeys[0], cur.id},
			Count:   pageEvents,
			Block:   blockFor,
		}).Result()
		switch {
		case t.isClosing():
			return
		case errors.Is(err, goredis.Nil):
			t.m.RedisRoundTrip(OpState, time.Since(start))
			continue // nothing new within blockFor
		case err != nil:
			t.m.RedisError(OpState)
			if !failing {
				t.log.Warn("redis: cannot read the state stream (subscription events of other nodes); retrying with backoff", "error", err)
				failing = true
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			select {
			case <-time.After(backoff):
			case <-t.closing:
				return
			}
			continue
		}
		t.m.RedisRoundTrip(OpState, time.Since(start))
		if failing {
			t.log.Info("redis: reading the state stream again", "after", cur.id)
			failing, backoff = false, 0
		}
		for _, s := range res {
			for _, m := range s.Messages {
				cur.id = m.ID
				e, err := parseStateEntry(m)
				if err != nil {
					t.log.Error("redis: skipping an unreadable state entry", "error", err)
					continue
				}
				switch {
				case cur.n != 0 && e.n > cur.n+1:
					missed := e.n - cur.n - 1
					t.log.Warn("redis: missed subscription events of other nodes: the state stream was trimmed past this node's position (it fell behind, or state_size is too small for the churn)", "missed", missed, "state_size", t.opts.stateSize())
					if !send(pending) {
						return
					}
					pending = nil
				case e.n <= cur.n:
					t.log.Warn("redis: the state stream was recreated (Redis restarted or lost its data); subscription events of other nodes may have been missed")
					if !send(pending) {
						return
					}
					pending = nil
				}
				cur.n = e.n
				if e.origin == t.node {
					continue // delivered by this node's hub when published
				}
				pending = append(pending, e.ev)
				if e.end {
					if !send(pending) {
						return
					}
					pending = nil
				}
			}
		}
	}
}

func (t *Transport) isClosing() bool {
	select {
	case <-t.closing:
		return true
	default:
		return false
	}
}
