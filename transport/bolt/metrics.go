package bolt

import "time"

// Metrics receives what the transport measures for operators (package
// metrics implements it). The writer goroutine calls it once per commit:
// it must not block.
type Metrics interface {
	// HistoryCommit observes a committed transaction of appends: the
	// events it stored, which shared its fsyncs (group commit), and how
	// long it took, fsyncs included. A durable publish waits for one
	// commit, and for the one in progress before it: this duration is
	// what the disk adds to every publish.
	HistoryCommit(events int, d time.Duration)
}
