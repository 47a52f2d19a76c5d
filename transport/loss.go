package transport

import "time"

// Loss reports that history the hub relied on is gone: the backend's
// storage was recreated, rolled back or trimmed past what this node had
// delivered (a shared Redis restarted without persistence, a failover to a
// replica that had not received the latest writes, FLUSHALL, a node so far
// behind that retention removed events before it fed them). Events the
// open streams expected may never reach them, so the hub ends those
// streams: clients reconnect and resume from what history still holds.
type Loss struct {
	// Reason says what was detected, for the log.
	Reason string
	// Time is when it was detected.
	Time time.Time
}

// LossNotifier is implemented by transports that can detect a loss of
// history. It is optional: a transport that cannot lose acknowledged events
// behind the hub's back (memory, bolt) does not implement it.
type LossNotifier interface {
	// Losses delivers detected losses. Deliveries are coalesced: while one
	// is waiting to be received, later ones are dropped, because ending
	// every open stream once covers them all. Feed keeps delivering, in
	// Seq order and with Seqs still increasing, what the backend holds
	// after the loss. The channel is closed by Close.
	Losses() <-chan Loss
}
