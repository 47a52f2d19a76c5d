package hub

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// Where active subscriptions live.
//
// By default a hub lists the subscriptions of its own process (the
// in-memory activeSubscriptions of subscriptions.go). Several hubs sharing
// one log (Redis) share one list instead: Config.SubscriptionStore. Each node
// writes its subscribers' records there and the API of any node reads
// every node's. A store shared by nodes that can die also implements
// subscriptionLeaser: the node keeps its records alive under a lease, and
// the records of a node whose lease ran out are handed to one surviving
// node, which announces their end. Subscription events reach the other
// nodes through the transport's state channel (subscriptionstate.go), never
// through the history.

// SubscriptionStore holds the active subscriptions of every node of a
// deployment. Records are opaque to the store (the hub encodes them); a
// store only keeps them under the subscriber's id, which is unique.
type SubscriptionStore interface {
	// Add lists a subscriber's record.
	Add(ctx context.Context, subscriber string, record []byte) error
	// Remove unlists a subscriber; removing an unknown one is not an error.
	Remove(ctx context.Context, subscriber string) error
	// List returns the records of every live node, in any order.
	List(ctx context.Context) ([][]byte, error)
}

// subscriptionLeaser is implemented by a SubscriptionStore whose nodes
// hold their records under a lease.
type subscriptionLeaser interface {
	// Keep renews this node's lease until ctx ends. It calls announce
	// with records whose events must be published: active=false for the
	// subscriptions of dead nodes that this node claimed (each dead node is
	// claimed by exactly one survivor, and its records are kept until
	// announce returned nil, so a failed announcement is retried);
	// active=true for this node's own records when it had lost its lease
	// (a Redis outage longer than the lease, or a Redis that lost its
	// data) and has listed them again, after other nodes announced them
	// ended.
	Keep(ctx context.Context, announce func(ctx context.Context, records [][]byte, active bool) error)
	// Close ends this node's lease at once, on a clean shutdown once
	// its streams have ended: survivors need not wait for the lease.
	Close(ctx context.Context) error
}

// subscriptionRecord is what the API and the subscription events need to
// know of one subscriber once its connection, grant and matchers are out
// of reach (on another node, or dead).
type subscriptionRecord struct {
	Subscriber string `json:"s"`
	// Since (Unix nanoseconds) orders the API's list, oldest first.
	Since   int64               `json:"t"`
	Entries []subscriptionEntry `json:"m"`
}

// subscriptionEntry is one subscription: one matcher parameter.
type subscriptionEntry struct {
	// Type is the matcher type: topic.TypeLegacy for a topic= parameter,
	// a draft-08 match type otherwise.
	Type    string          `json:"y"`
	Pattern string          `json:"p"`
	Payload json.RawMessage `json:"d,omitempty"`
}

func (e subscriptionEntry) modern() bool { return e.Type != topic.TypeLegacy }

// entryOf describes subscription m of s; the payload is the one PAY-1
// selects for m's own pattern (for a legacy token the token-wide one).
func entryOf(s *subscriber, m *topic.Matcher) subscriptionEntry {
	return subscriptionEntry{Type: m.Type(), Pattern: m.Pattern(), Payload: s.grant.PayloadFor(m.Pattern())}
}

// recordOf describes every subscription of s, in parameter order.
func recordOf(s *subscriber) subscriptionRecord {
	r := subscriptionRecord{Subscriber: s.id, Since: s.since.UnixNano(), Entries: make([]subscriptionEntry, len(s.matchers))}
	for i, m := range s.matchers {
		r.Entries[i] = entryOf(s, m)
	}
	return r
}

// decodeRecords decodes what a store listed, oldest first. A record that
// does not decode (written by an incompatible version) is skipped with a
// warning rather than failing the whole list.
func (h *Hub) decodeRecords(raw [][]byte) []subscriptionRecord {
	out := make([]subscriptionRecord, 0, len(raw))
	for _, b := range raw {
		var r subscriptionRecord
		if err := json.Unmarshal(b, &r); err != nil || r.Subscriber == "" {
			h.warnings.warn("subscription store: skipping an unreadable record", "error", err)
			continue
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b subscriptionRecord) int {
		return cmp.Or(cmp.Compare(a.Since, b.Since), cmp.Compare(a.Subscriber, b.Subscriber))
	})
	return out
}

// listRecords is the API's list: the shared store's when there is one,
// this process's otherwise.
func (h *Hub) listRecords(ctx context.Context) ([]subscriptionRecord, error) {
	if st := h.cfg.SubscriptionStore; st != nil {
		raw, err := st.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the subscriptions: %w", err)
		}
		return h.decodeRecords(raw), nil
	}
	subs := h.reg.active.snapshot()
	out := make([]subscriptionRecord, len(subs))
	for i, s := range subs {
		out[i] = recordOf(s)
	}
	return out, nil
}

// storeAdd writes s's record to the shared store. A failure is logged, not
// fatal: the stream works without it, and a leasing store rewrites its
// node's records once it can reach its backend again.
func (h *Hub) storeAdd(s *subscriber) {
	st := h.cfg.SubscriptionStore
	if st == nil {
		return
	}
	b, err := json.Marshal(recordOf(s))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.DispatchTimeout)
		err = st.Add(ctx, s.id, b)
		cancel()
	}
	if err != nil {
		h.warnings.warn("subscription store: listing a subscriber failed", "subscriber", s.id, "error", err)
	}
}

// storeRemove unlists s from the shared store.
func (h *Hub) storeRemove(s *subscriber) {
	st := h.cfg.SubscriptionStore
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.DispatchTimeout)
	defer cancel()
	if err := st.Remove(ctx, s.id); err != nil {
		h.warnings.warn("subscription store: unlisting a subscriber failed", "subscriber", s.id, "error", err)
	}
}

// keepSubscriptions runs a leasing store's renewals until the hub closes.
func (h *Hub) keepSubscriptions() {
	l, ok := h.cfg.SubscriptionStore.(subscriptionLeaser)
	if !ok || !h.cfg.Subscriptions {
		return
	}
	h.keeping.Add(1)
	go func() {
		defer h.keeping.Done()
		l.Keep(h.ctx, h.announceRecords)
	}()
}

// leaveSubscriptions ends a leasing store's lease once the keeper has
// stopped, before the transport (whose client the store may share)
// closes.
func (h *Hub) leaveSubscriptions(ctx context.Context) error {
	l, ok := h.cfg.SubscriptionStore.(subscriptionLeaser)
	if !ok || !h.cfg.Subscriptions {
		return nil
	}
	h.keeping.Wait()
	if err := l.Close(ctx); err != nil {
		return fmt.Errorf("hub: ending the subscription lease: %w", err)
	}
	return nil
}

// announceRecords emits one event per subscription of the records: the
// end of a dead node's subscriptions, or the return of this node's own.
// With several nodes they go out on the transport's state channel first,
// as one batch; when that fails, nothing is emitted here either and the
// error makes the store keep the records and try again, so that every
// node sees them once.
func (h *Hub) announceRecords(ctx context.Context, raw [][]byte, active bool) error {
	recs := h.decodeRecords(raw)
	var evs []*transport.Event
	for _, r := range recs {
		for _, e := range r.Entries {
			ev, err := entryEvent(r.Subscriber, e, active)
			if err != nil {
				h.log.Warn("subscription event: encoding failed", "subscriber", r.Subscriber, "error", err)
				continue
			}
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return nil
	}
	if sb, ok := h.cfg.Transport.(transport.StateBroadcaster); ok {
		if err := sb.PublishState(ctx, evs); err != nil {
			return fmt.Errorf("sending %d subscription events to the other nodes: %w", len(evs), err)
		}
	}
	delivered, keptBytes := h.reg.emitState(evs)
	if delivered > 0 {
		h.metrics.Delivered(delivered)
	}
	h.metrics.SubscriptionEvents(len(evs), keptBytes)
	if !active {
		h.log.Info("announced the end of the subscriptions of a node that stopped renewing its lease", "subscribers", len(recs), "events", len(evs))
	}
	return nil
}
