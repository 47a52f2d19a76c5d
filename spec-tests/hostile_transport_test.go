package spectests_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile inputs aimed at the history (issue 10): what a client without a
// token can make the transport hold, and what a damaged or full store does
// to the hub. Tests are named after the finding they reproduce.

// liveHeap is the heap still referenced after a collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// stalledReader opens an anonymous `Last-Event-ID: earliest` stream on
// topic over a raw connection with a small receive buffer, reads until it
// has seen at least min bytes of the response, and then stops reading,
// leaving the hub blocked writing to it. The connection is closed when the
// test ends.
func stalledReader(t *testing.T, h *Harness, topic string, min int) {
	t.Helper()
	u, err := url.Parse(h.Origin)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	req := fmt.Sprintf("GET /.well-known/mercure?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nLast-Event-ID: earliest\r\n\r\n",
		q("topic", topic), u.Host)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(arrive))
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response headers: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("earliest stream: status %d", resp.StatusCode)
	}
	if n, err := io.CopyN(io.Discard, resp.Body, int64(min)); err != nil {
		t.Fatalf("read %d bytes of the replay, want %d: %v", n, min, err)
	}
	// From here on nothing reads: the hub's writes block once the socket
	// buffers are full.
}

// TestHostile_ReplayMemory_Finding2: 8 anonymous `earliest` readers that
// stop reading after their first update, over 48 stored updates of
// 512 KiB, on each stored transport. Before the fix each replay read a page
// of many events before writing the first (up to 256 on bolt, 32 on
// redis), so the 8 stalled replays kept the history in the heap 8 times
// over (8 x 16 to 24 MiB); now a page is bounded in bytes and holds one
// such update, so they keep a few MiB in all.
func TestHostile_ReplayMemory_Finding2(t *testing.T) {
	for _, name := range []string{"bolt", "redis"} {
		t.Run(name, func(t *testing.T) { testReplayMemory(t, name) })
	}
}

func testReplayMemory(t *testing.T, transportName string) {
	h := newHarness(t, "h1", Options{Anonymous: true, Transport: transportName})
	const n, size, readers = 48, 512 << 10, 8
	topic := "https://example.com/finding2/big"
	data := strings.Repeat("x", size)
	for range n {
		h.publish(t, "topic", topic, "data", data)
	}
	base := liveHeap()
	for range readers {
		stalledReader(t, h, topic, size+1)
	}
	held := int64(liveHeap()) - int64(base)
	t.Logf("%d stalled replays over %d updates of %d bytes hold %d KiB of heap", readers, n, size, held>>10)
	if limit := int64(readers * 4 * size); held > limit {
		t.Fatalf("%d stalled replays hold %d MiB of heap, more than %d MiB: a replay holds more than the update it is writing",
			readers, held>>20, limit>>20)
	}
}
