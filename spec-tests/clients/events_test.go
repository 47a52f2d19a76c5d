package clients_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientEvent is one thing a client reported: a JSON line of
// js/subscribe.mjs or a report of web/subscribe.js.
type clientEvent struct {
	// Event is open, message, error or probe.
	Event string `json:"event"`
	// Type is the event name ("message" unless the update had a type), ID
	// the event id the client saw (lastEventId), Data its data.
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Data string `json:"data,omitempty"`
	// For errors and probes.
	ReadyState int    `json:"readyState,omitempty"`
	Code       int    `json:"code,omitempty"`
	Status     int    `json:"status,omitempty"`
	Message    string `json:"message,omitempty"`
	OK         bool   `json:"ok,omitempty"`
	// Seq numbers a page's reports per subscription, from 1.
	Seq int `json:"seq,omitempty"`
}

func (e clientEvent) String() string {
	switch e.Event {
	case "message":
		return fmt.Sprintf("message{type %q, id %q, data %q}", e.Type, e.ID, e.Data)
	case "error":
		return fmt.Sprintf("error{readyState %d, code %d, status %d, %q}", e.ReadyState, e.Code, e.Status, e.Message)
	case "probe":
		return fmt.Sprintf("probe{ok %v, status %d, %q}", e.OK, e.Status, e.Message)
	default:
		return e.Event
	}
}

// eventLog collects what one client received, in order, and lets a test
// wait for a condition on it with a deadline.
type eventLog struct {
	name    string
	mu      sync.Mutex
	events  []clientEvent
	changed chan struct{} // closed and replaced on every add
}

func newEventLog(name string) *eventLog {
	return &eventLog{name: name, changed: make(chan struct{})}
}

func (l *eventLog) add(e clientEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) snapshot() ([]clientEvent, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events), l.changed
}

// waitFor waits until cond holds on the events so far and returns them;
// past waitTimeout the test fails with what the client did receive.
func (l *eventLog) waitFor(t *testing.T, what string, cond func([]clientEvent) bool) []clientEvent {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		evs, changed := l.snapshot()
		if cond(evs) {
			return evs
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s: no %s within %v; received:\n%s", l.name, what, waitTimeout, describe(evs))
			return nil
		}
	}
}

// waitOpen waits for the n-th open event (n counts reconnections too).
func (l *eventLog) waitOpen(t *testing.T, n int) {
	t.Helper()
	l.waitFor(t, fmt.Sprintf("open #%d", n), func(evs []clientEvent) bool {
		return count(evs, func(e clientEvent) bool { return e.Event == "open" }) >= n
	})
}

// waitMessages waits for the message with id last and then requires the
// messages received so far to be exactly want: nothing lost, nothing
// duplicated, nothing unauthorized, in order. Because last is published
// after every update the client must not get, an update missing from want
// that was going to arrive would have arrived before it.
func (l *eventLog) waitMessages(t *testing.T, want ...string) []clientEvent {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("waitMessages needs the id of the last message")
	}
	last := want[len(want)-1]
	evs := l.waitFor(t, "message "+last, func(evs []clientEvent) bool {
		return slices.ContainsFunc(evs, func(e clientEvent) bool { return e.Event == "message" && e.ID == last })
	})
	msgs := messages(evs)
	if got := ids(msgs); !slices.Equal(got, want) {
		t.Fatalf("%s received ids %q, want %q; events:\n%s", l.name, got, want, describe(evs))
	}
	return msgs
}

// message returns the received message with the id; the test fails if
// there is none.
func (l *eventLog) message(t *testing.T, id string) clientEvent {
	t.Helper()
	evs, _ := l.snapshot()
	for _, e := range evs {
		if e.Event == "message" && e.ID == id {
			return e
		}
	}
	t.Fatalf("%s has no message %q; events:\n%s", l.name, id, describe(evs))
	return clientEvent{}
}

func messages(evs []clientEvent) []clientEvent {
	var out []clientEvent
	for _, e := range evs {
		if e.Event == "message" {
			out = append(out, e)
		}
	}
	return out
}

func ids(msgs []clientEvent) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func count(evs []clientEvent, f func(clientEvent) bool) int {
	n := 0
	for _, e := range evs {
		if f(e) {
			n++
		}
	}
	return n
}

func describe(evs []clientEvent) string {
	if len(evs) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}
