package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// clientLog hands go-redis's own log lines (failed dials, Sentinel
// switches) to a slog.Logger, so that they come out in the node's log
// format instead of as plain text on stderr.
type clientLog struct{ l *slog.Logger }

func (c clientLog) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	// go-redis logs only trouble (bad connections dropped, Sentinel
	// failing over): a warning. Except failed dials: while Redis is down
	// it logs one per attempt of every connection, and the transport
	// already warns once that Redis is unreachable (and counts each
	// error in a metric), so they are debug lines.
	level := slog.LevelWarn
	if strings.Contains(msg, "failed to dial") {
		level = slog.LevelDebug
	}
	c.l.Log(ctx, level, msg, "component", "go-redis")
}

// RouteClientLogs sends the log lines of the Redis client library to l.
// The library keeps one logger for the whole process, so this is a
// process-wide setting: call it once, with the node's logger.
func RouteClientLogs(l *slog.Logger) {
	if l == nil {
		l = slog.Default()
	}
	goredis.SetLogger(clientLog{l: l})
}
