package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// syncBuffer is a bytes.Buffer safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientLogsGoThroughSlog: a dial failure logged by go-redis itself
// comes out through the node's slog handler (here JSON), not as a plain
// line on stderr, so that --log-format json stays JSON.
func TestClientLogsGoThroughSlog(t *testing.T) {
	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var buf syncBuffer
	RouteClientLogs(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { RouteClientLogs(slog.Default()) })

	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping to a closed port succeeded")
	}
	out := strings.TrimSpace(buf.String())
	if out == "" {
		t.Fatal("the dial failure was not logged through slog")
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q (%v)", line, err)
		}
		if rec["component"] == "go-redis" && rec["level"] == "DEBUG" && strings.Contains(rec["msg"].(string), "dial") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no go-redis dial failure (at debug level) among %q", out)
	}
}

// TestClientLogsOtherThanDialsAreWarnings: go-redis's other lines
// (Sentinel switching masters, bad connections) stay warnings.
func TestClientLogsOtherThanDialsAreWarnings(t *testing.T) {
	var buf syncBuffer
	clientLog{l: slog.New(slog.NewJSONHandler(&buf, nil))}.Printf(context.Background(), "sentinel: new master=%q addr=%q\n", "m", "10.0.0.2:6379")
	var rec map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &rec); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["msg"] != `sentinel: new master="m" addr="10.0.0.2:6379"` {
		t.Fatalf("logged %v", rec)
	}
}
