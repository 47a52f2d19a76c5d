package hub

import (
	"strings"

	"github.com/hermes-hub/hermes/transport"
)

// Subscription events of other nodes.
//
// Several nodes on one shared transport (Redis) each emit the subscription
// events of their own streams, and every node's listeners want all of
// them. A transport that spans nodes offers a state channel
// (transport.StateBroadcaster): announce delivers a node's events to its
// own listeners at once and publishes them on the channel; every other node
// receives them here and emits them like its own: dispatched live to its
// listeners and kept in its state log, so that a listener resuming with a
// cursor on any node gets those it missed while they are kept. The
// publishing node does not receive its own back, so none is delivered
// twice; and since it delivers them itself, synchronously, the ordering
// rules of subscriptions.go (a legacy subscriber never receives its own
// creation event, a modern one does) hold exactly where the stream is.
// On other nodes a subscription event arrives one Redis round trip later,
// in the order the state stream took it (the same on every node), but
// without a fixed place among updates: it is state, not history.

// receiveState emits the state events of other nodes until the transport
// closes its state channel.
func (h *Hub) receiveState(sb transport.StateBroadcaster) {
	defer close(h.stateDone)
	for batch := range sb.State() {
		if !h.cfg.Subscriptions {
			continue // other nodes have the feature on, this one does not serve it
		}
		evs := batch[:0]
		for _, ev := range batch {
			if !isSubscriptionEvent(ev) {
				// Only the hub writes there; anything else comes from a
				// foreign writer and is not delivered.
				h.warnings.warn("state channel: ignoring an event that is not a subscription event", "id", ev.ID)
				continue
			}
			ev.Seq = 0
			ev.Frame = encodeEvent(ev)
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			continue
		}
		delivered, keptBytes := h.reg.emitState(evs)
		if delivered > 0 {
			h.metrics.Delivered(delivered)
		}
		// Counted where they were emitted; here only the memory they take.
		h.metrics.SubscriptionEvents(0, keptBytes)
	}
}

// isSubscriptionEvent reports whether ev has the shape of the events
// subscriptionEvent builds: private, on one subscription topic.
func isSubscriptionEvent(ev *transport.Event) bool {
	return ev.Private && len(ev.Topics) == 1 && strings.HasPrefix(ev.Topics[0], subscriptionsPath+"/")
}
