package hub

import "time"

// Metrics receives the hub's operational counts. The hub defines the
// interface and the cmd package wires an implementation (Prometheus), so
// that the hub does not depend on any metrics library.
//
// Every method may be called from many goroutines at once and must not
// block: some are called on the dispatch path. Labels passed as strings
// come from the small fixed sets of constants below, never from client
// input, so an implementation may use them as label values safely.
type Metrics interface {
	// SubscriberConnected is called when a stream starts, with the number
	// of topic selectors (subscriptions) it carries.
	SubscriberConnected(subscriptions int)
	// SubscriberDisconnected is called when that stream ends, with the same
	// count and one of the Disconnect* reasons.
	SubscriberDisconnected(subscriptions int, reason string)
	// Published is called for every update stored, with the time from the
	// request's arrival to the transport's acknowledgement.
	Published(latency time.Duration)
	// Delivered adds n updates handed to subscribers: queued for live
	// delivery (counted once per dispatched update, not per subscriber) or
	// written during a replay.
	Delivered(n int)
	// Overflow is called when a subscriber's queue passed its byte bound
	// and the subscriber was disconnected.
	Overflow()
	// Replay is called for every subscribe request that carries a cursor:
	// unknownCursor is true when the cursor names no stored update (the
	// subscriber gets "earliest" and no history).
	Replay(unknownCursor bool)
	// AuthFailure is called for every refused token, with one of the
	// AuthFailure* reasons.
	AuthFailure(reason string)
	// Rejected is called when a request is refused by a limit or because
	// the hub is shutting down, with one of the Reject* reasons.
	Rejected(reason string)
	// TransportError is called when the transport fails, with one of the
	// Op* operations.
	TransportError(op string)
	// SubscriptionEvents is called when n subscription events were
	// emitted, with the bytes the hub now keeps of them (they are kept in
	// memory, bounded, never stored in the transport).
	SubscriptionEvents(n int, keptBytes int)
}

// Reasons a stream ended.
const (
	DisconnectClient   = "client"   // the client went away or a write failed
	DisconnectDeadline = "deadline" // the write timeout or the token's expiry
	DisconnectOverflow = "overflow" // the subscriber's queue overflowed
	DisconnectShutdown = "shutdown" // the hub is shutting down
	DisconnectError    = "error"    // the history could not be read, or was lost (transport.LossNotifier)
)

// Reasons a token was refused: the RFC 6750 error code, or "missing" when
// no token was presented. The free-text reason is logged, never a label.
const (
	AuthFailureMissing           = "missing"
	AuthFailureInvalidRequest    = "invalid_request"
	AuthFailureInvalidToken      = "invalid_token"
	AuthFailureInsufficientScope = "insufficient_scope"
	AuthFailureInternal          = "internal" // verification itself failed (a JWKS outage, say)
)

// Reasons a request was refused before it was served.
const (
	RejectMaxSubscribers          = "max_subscribers"
	RejectMaxSubscribersPerClient = "max_subscribers_per_client"
	RejectBodyTooLarge            = "body_too_large"
	RejectBodyTimeout             = "body_timeout"      // the body did not arrive within BodyTimeout
	RejectBodyBudget              = "body_budget"       // BodyBytesInFlight used up by bodies still arriving (503)
	RejectSubscriptionCost        = "subscription_cost" // one subscription's matchers over MaxSubscriptionCost (400)
	RejectMatcherBudget           = "matcher_budget"    // the hub-wide MaxMatcherCost is used up (503)
	RejectShuttingDown            = "shutting_down"
)

// Transport operations whose failures are counted.
const (
	OpAppend = "append"
	OpLookup = "lookup"
	OpReplay = "replay"
	OpCheck  = "check"
)

// publishLoopReporter is implemented by a Metrics that reports the publish
// loop's counts (metrics.Metrics does): the hub registers a function that
// reads them, instead of calling the Metrics on the loop's path.
type publishLoopReporter interface {
	PublishLoop(stats func() (takenOver, served, handedBack uint64))
}

// NopMetrics discards everything. It is the default, and implementations
// may embed it so that methods added later have a default.
type NopMetrics struct{}

func (NopMetrics) SubscriberConnected(int)            {}
func (NopMetrics) SubscriberDisconnected(int, string) {}
func (NopMetrics) Published(time.Duration)            {}
func (NopMetrics) Delivered(int)                      {}
func (NopMetrics) Overflow()                          {}
func (NopMetrics) Replay(bool)                        {}
func (NopMetrics) AuthFailure(string)                 {}
func (NopMetrics) Rejected(string)                    {}
func (NopMetrics) TransportError(string)              {}
func (NopMetrics) SubscriptionEvents(int, int)        {}
