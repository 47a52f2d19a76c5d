package hub

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLog writes a warning at most once per interval per key and counts
// what it held back, so that a failing disk or a wave of slow clients
// produces one line a second with a count instead of thousands of lines.
// Keys are constants in the code (the message itself), so the map stays as
// small as the set of warnings the hub can emit.
type rateLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time // time.Now; replaced in tests

	mu   sync.Mutex
	keys map[string]*rateEntry
}

type rateEntry struct {
	last       time.Time
	suppressed int
}

func newRateLog(log *slog.Logger, interval time.Duration) *rateLog {
	return &rateLog{log: log, interval: interval, now: time.Now, keys: make(map[string]*rateEntry)}
}

// warn logs msg at warn level unless msg was logged less than an interval
// ago; the next line that gets through carries the number of lines held
// back as "suppressed".
func (l *rateLog) warn(msg string, args ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	now := l.now()
	l.mu.Lock()
	e := l.keys[msg]
	if e == nil {
		e = &rateEntry{}
		l.keys[msg] = e
	} else if now.Sub(e.last) < l.interval {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	e.last = now
	suppressed := e.suppressed
	e.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Warn(msg, args...)
}
