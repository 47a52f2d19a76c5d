package spectests_test

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/metrics"
)

// Hostile inputs of issue 10 (findings 1, 3, 4 and 8): what a client that
// needs no token can send to exhaust the hub. Each test is named after its
// finding and fails on a hub without the fix.

// rawConn opens a plain TCP connection to the harness' server: the tests
// below need clients that write slowly or never read, which net/http's
// client does not let one be.
func rawConn(t testing.TB, h *Harness) *net.TCPConn {
	t.Helper()
	u, err := url.Parse(h.Origin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, arrive)
	if err != nil {
		t.Fatalf("dialing %s: %v", u.Host, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestHostile_OverflowCountedAsOverflow_Finding8: subscribers that never
// read, flooded until their queues overflow, are counted as disconnected for
// "overflow", not "client", and promptly: the writer of such a stream is
// blocked in a write to a full socket, and the overflow has to break that
// write rather than wait for the write deadline (5 s), after which the old
// hub counted a client disconnect.
func TestHostile_OverflowCountedAsOverflow_Finding8(t *testing.T) {
	t.Parallel()
	const n = 20
	mm := metrics.New()
	h := newHarness(t, "h1", Options{Anonymous: true, Metrics: mm, QueueBytes: 256 << 10})
	req := fmt.Sprintf("GET %s?%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", hub.Path, q("topic", topicA))
	for range n {
		c := rawConn(t, h)
		// A small receive window: the hub's writes block sooner.
		_ = c.SetReadBuffer(4096)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	waitMetric(t, mm, n, "hermes_subscribers")

	// Flood: 128 KiB updates until every queue overflowed. Each subscriber
	// can hold a few MiB in socket buffers before its writer blocks.
	data := strings.Repeat("x", 128<<10)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.tryPublish(t.Context(), h.pubAll, form("topic", topicA, "data", data)); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	waitUntil(t, 4*arrive, "every subscriber to overflow", func() bool {
		return metricValue(t, mm, "hermes_subscriber_overflows_total") == n
	})
	// The overflow broke the blocked writes: the disconnects follow at once,
	// well before the 5 s write deadline, and carry the right reason.
	waitUntil(t, 2*time.Second, "the overflowed streams to end as overflows", func() bool {
		return metricValue(t, mm, "hermes_subscribers_disconnected_total", "reason", "overflow") == n
	})
	if c := metricValue(t, mm, "hermes_subscribers_disconnected_total", "reason", "client"); c > 0 {
		t.Errorf("%v overflowed subscribers counted as client disconnects", c)
	}
}
