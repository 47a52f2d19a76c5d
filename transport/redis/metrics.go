package redis

import "time"

// Metrics receives the transport's operational figures. cmd/hermes wires a
// Prometheus implementation; every method must be cheap and must not block.
type Metrics interface {
	// RedisError counts a failed Redis call, by operation (one of the Op*
	// constants).
	RedisError(op string)
	// RedisRoundTrip observes the duration of a successful Redis call.
	RedisRoundTrip(op string, d time.Duration)
	// RedisFeedLag sets how many events the feed's reader is behind the
	// stream's head, as of its last read.
	RedisFeedLag(events uint64)
	// HistoryLost counts a detected loss of history (see transport.Loss).
	HistoryLost()
}

// Operations, the label values of Metrics.
const (
	OpAppend = "append"
	OpRead   = "read" // the feed's reader: its polls and blocking waits
	OpLookup = "lookup"
	OpReplay = "replay"
	OpTrim   = "trim"
	OpCheck  = "check"
	OpState  = "state" // the state stream: publishing state events and reading others'
)

// Ops lists every operation label, for metrics that pre-create series.
var Ops = []string{OpAppend, OpRead, OpLookup, OpReplay, OpTrim, OpCheck, OpState}

type nopMetrics struct{}

func (nopMetrics) RedisError(string)                    {}
func (nopMetrics) RedisRoundTrip(string, time.Duration) {}
func (nopMetrics) RedisFeedLag(uint64)                  {}
func (nopMetrics) HistoryLost()                         {}
