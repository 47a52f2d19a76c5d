package hub

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawStream is an HTTP/1.1 subscriber on a bare TCP connection: no client
// library between the test and the bytes the hub sends.
type rawStream struct {
	conn   net.Conn
	r      *bufio.Reader
	header http.Header
}

// dialRaw sends a GET for query and reads the status line and headers.
func dialRaw(t *testing.T, srv *httptest.Server, proto, query string) *rawStream {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s?%s %s\r\nHost: hub.test\r\n\r\n", Path, query, proto); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rs := &rawStream{conn: conn, r: bufio.NewReader(conn), header: http.Header{}}
	status, err := rs.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.") || !strings.Contains(status, " 200 ") {
		t.Fatalf("status line %q, %v", status, err)
	}
	for {
		line, err := rs.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading headers: %v", err)
		}
		if line == "\r\n" {
			return rs
		}
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			t.Fatalf("malformed header line %q", line)
		}
		rs.header.Add(name, strings.TrimSpace(value))
	}
}

// chunk reads one chunk strictly by RFC 9112 §7.1: a hex size, CRLF, that
// many bytes, CRLF. The last chunk (size 0) must be followed by CRLF (no
// trailers) and then the end of the connection.
func (rs *rawStream) chunk(t *testing.T) (data []byte, last bool) {
	t.Helper()
	line, err := rs.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a chunk size: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		t.Fatalf("chunk size line %q does not end with CRLF", line)
	}
	size, err := strconv.ParseUint(strings.TrimSuffix(line, "\r\n"), 16, 32)
	if err != nil {
		t.Fatalf("chunk size line %q: %v", line, err)
	}
	data = make([]byte, size)
	if _, err := io.ReadFull(rs.r, data); err != nil {
		t.Fatalf("reading %d bytes of chunk data: %v", size, err)
	}
	crlf := make([]byte, 2)
	if _, err := io.ReadFull(rs.r, crlf); err != nil || string(crlf) != "\r\n" {
		t.Fatalf("after the chunk data: %q, %v; want CRLF", crlf, err)
	}
	if size == 0 {
		if rest, err := io.ReadAll(rs.r); err != nil || len(rest) != 0 {
			t.Fatalf("after the last chunk: %q, %v; want the end of the connection", rest, err)
		}
		return nil, true
	}
	return data, false
}

// TestH1StreamIsChunkedByTheHub: a taken-over HTTP/1.1 stream is a valid
// chunked response: every chunk parses, their concatenation is the event
// stream, and the stream's end (its deadline) is the last chunk, then the
// connection's end.
func TestH1StreamIsChunkedByTheHub(t *testing.T) {
	_, srv, _ := newOpsHub(t, Config{Anonymous: true, WriteTimeout: 2 * time.Second})
	rs := dialRaw(t, srv, "HTTP/1.1", "topic=t")
	if te := rs.header.Get("Transfer-Encoding"); te != "chunked" {
		t.Fatalf("Transfer-Encoding %q, want chunked", te)
	}
	if c := rs.header.Get("Connection"); c != "close" {
		t.Errorf("Connection %q, want close: the connection ends with the stream", c)
	}
	if cl := rs.header.Get("Content-Length"); cl != "" {
		t.Fatalf("Content-Length %q on a stream", cl)
	}
	var want bytes.Buffer
	want.WriteString(":\n")
	for i := range 5 {
		id := fmt.Sprintf("e%d", i)
		data := strings.Repeat("x", 1+i*3000) // some larger than a small buffer
		if code, _ := post(t, srv, url.Values{"topic": {"t"}, "id": {id}, "data": {data}}, nil); code != http.StatusOK {
			t.Fatalf("publish %d: %d", i, code)
		}
		fmt.Fprintf(&want, "id: %s\ndata: %s\n\n", id, data)
	}
	var got bytes.Buffer
	for {
		data, last := rs.chunk(t)
		if last {
			break
		}
		got.Write(data)
	}
	if got.String() != want.String() {
		t.Fatalf("the chunks carry %d bytes that differ from the %d expected:\n%.200q\nwant\n%.200q", got.Len(), want.Len(), got.String(), want.String())
	}
}

// TestH1FramesWithinTheWindowShareOneWrite: frames that arrive less than
// the coalescing window after the stream's last write wait for its end and
// go out together, as one chunk (one write), instead of one write each.
func TestH1FramesWithinTheWindowShareOneWrite(t *testing.T) {
	h, srv, _ := newOpsHub(t, Config{Anonymous: true, Heartbeat: time.Hour})
	// Wide enough that three publishes on a loaded machine fit in it.
	h.writers.coalesce.init(5*time.Second, 5*time.Second, 1)
	rs := dialRaw(t, srv, "HTTP/1.1", "topic=t")
	eventually(t, "the takeover", func() bool { return len(h.takenOverConns()) == 1 })
	var want strings.Builder
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		if code, _ := post(t, srv, url.Values{"topic": {"t"}, "id": {id}, "data": {"x"}}, nil); code != http.StatusOK {
			t.Fatalf("publish %d: %d", i, code)
		}
		fmt.Fprintf(&want, "id: %s\ndata: x\n\n", id)
	}
	data, last := rs.chunk(t)
	if string(data) == ":\n" { // the stream's opening comment, sent before the takeover
		data, last = rs.chunk(t)
	}
	if last || string(data) != want.String() {
		t.Fatalf("first chunk of events %q, want the three events in one chunk %q", data, want.String())
	}
}

// TestH1HTTP10StreamIsRaw: an HTTP/1.0 client cannot read chunks; its
// stream is the raw event stream, ended by closing the connection.
func TestH1HTTP10StreamIsRaw(t *testing.T) {
	_, srv, _ := newOpsHub(t, Config{Anonymous: true, WriteTimeout: 2 * time.Second})
	rs := dialRaw(t, srv, "HTTP/1.0", "topic=t")
	if te := rs.header.Get("Transfer-Encoding"); te != "" {
		t.Fatalf("Transfer-Encoding %q on an HTTP/1.0 response", te)
	}
	post(t, srv, url.Values{"topic": {"t"}, "id": {"a"}, "data": {"x"}}, nil)
	rest, err := io.ReadAll(rs.r)
	if err != nil {
		t.Fatal(err)
	}
	if want := ":\nid: a\ndata: x\n\n"; string(rest) != want {
		t.Fatalf("got %q, want %q", rest, want)
	}
}

// TestH1ClosedConnectionNoticedAtNextHeartbeat: with nothing else watching
// the connection (no close watcher, no events), a client that went away is
// noticed by the very next heartbeat, not by a later one: a first write to
// a closed connection usually succeeds.
func TestH1ClosedConnectionNoticedAtNextHeartbeat(t *testing.T) {
	h, srv, rec := newOpsHub(t, Config{Anonymous: true, Heartbeat: time.Hour})
	h.writers.watcher.stop() // only the heartbeat may notice
	rs := dialRaw(t, srv, "HTTP/1.1", "topic=t")
	if data, _ := rs.chunk(t); string(data) != ":\n" {
		t.Fatalf("first chunk %q", data)
	}
	eventually(t, "the takeover", func() bool { return len(h.takenOverConns()) == 1 })
	rs.conn.Close()
	// One heartbeat, now.
	for _, c := range h.takenOverConns() {
		c.mu.Lock()
		c.lastWrite = time.Now().Add(-time.Hour)
		c.mu.Unlock()
		c.wake()
	}
	eventually(t, "the disconnect", func() bool { return rec.snapshot().disconnects[DisconnectClient] == 1 })
	if n := h.Subscribers(); n != 0 {
		t.Errorf("%d subscribers still registered", n)
	}
}

// TestH1ClosedIdleConnectionNoticedWithoutHeartbeat: the close watcher
// notices a client that closes an idle stream, heartbeats off.
func TestH1ClosedIdleConnectionNoticedWithoutHeartbeat(t *testing.T) {
	h, srv, rec := newOpsHub(t, Config{Anonymous: true})
	rs := dialRaw(t, srv, "HTTP/1.1", "topic=t")
	eventually(t, "the takeover", func() bool { return len(h.takenOverConns()) == 1 })
	rs.conn.Close()
	eventually(t, "the disconnect", func() bool { return rec.snapshot().disconnects[DisconnectClient] == 1 })
}

// TestH1StuckClientDisconnectedAtWriteDeadline: a client that stops
// reading, with a queue bound too large to overflow, is disconnected when a
// write passes its deadline (counted as overflow: too slow), and does not
// hold up the other subscribers meanwhile.
func TestH1StuckClientDisconnectedAtWriteDeadline(t *testing.T) {
	h, srv, rec := newOpsHub(t, Config{Anonymous: true, DispatchTimeout: 300 * time.Millisecond, QueueBytes: 1 << 30})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A small receive window so that the kernel buffers fill soon.
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s?topic=t HTTP/1.1\r\nHost: hub.test\r\n\r\n", Path)
	eventually(t, "the stuck client's takeover", func() bool { return len(h.takenOverConns()) == 1 })
	healthy := openStream(t, srv, "topic=t", nil)

	big := strings.Repeat("x", 512<<10)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; rec.snapshot().disconnects[DisconnectOverflow] == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the stuck client is still connected after %d updates of 512 KiB", i)
		}
		post(t, srv, url.Values{"topic": {"t"}, "data": {big}}, nil)
		// The healthy subscriber keeps up: reading what was sent so far.
		for range 2 {
			if _, err := healthy.r.ReadString('\n'); err != nil { // id, data
				t.Fatalf("the healthy subscriber: %v", err)
			}
		}
		if line, err := healthy.r.ReadString('\n'); err != nil || line != "\n" {
			t.Fatalf("the healthy subscriber: %q, %v", line, err)
		}
	}
	if o := h.overflows.Load(); o != 0 {
		t.Errorf("%d queue overflows: the disconnect must come from the write deadline", o)
	}
	eventually(t, "the stuck client's removal", func() bool { return h.Subscribers() == 1 })
}

// TestH1IdleSubscribersCostNoGoroutine: once taken over, idle HTTP/1.1
// subscribers run no goroutine of their own (no handler, no reader).
func TestH1IdleSubscribersCostNoGoroutine(t *testing.T) {
	h, srv, _ := newOpsHub(t, Config{Anonymous: true, Heartbeat: 200 * time.Millisecond})
	// The first takeover starts the close watcher's one goroutine.
	dialRaw(t, srv, "HTTP/1.1", "topic=warmup")
	eventually(t, "the first takeover", func() bool { return len(h.takenOverConns()) == 1 })
	settled := func(want int) func() bool {
		return func() bool {
			runtime.Gosched()
			return runtime.NumGoroutine() <= want
		}
	}
	base := runtime.NumGoroutine()
	const n = 100
	for i := range n {
		dialRaw(t, srv, "HTTP/1.1", "topic=idle"+strconv.Itoa(i))
	}
	eventually(t, "every takeover", func() bool { return len(h.takenOverConns()) == n+1 })
	// Heartbeats come and go meanwhile; none of them leaves a goroutine.
	eventually(t, fmt.Sprintf("goroutines back to %d+5 (now %d)", base, runtime.NumGoroutine()), settled(base+5))
	if got := h.Subscribers(); got != n+1 {
		t.Fatalf("%d subscribers, want %d", got, n+1)
	}
}

// TestH1ShutdownDrainEndsTakenOverStreamsCleanly: Shutdown ends taken-over
// streams within the drain window with the last chunk, counted as
// shutdowns, and Close returns once they are closed.
func TestH1ShutdownDrainEndsTakenOverStreamsCleanly(t *testing.T) {
	h, srv, rec := newOpsHub(t, Config{Anonymous: true})
	var streams []*rawStream
	for range 3 {
		rs := dialRaw(t, srv, "HTTP/1.1", "topic=t")
		if data, _ := rs.chunk(t); string(data) != ":\n" {
			t.Fatalf("first chunk %q", data)
		}
		streams = append(streams, rs)
	}
	eventually(t, "the takeovers", func() bool { return len(h.takenOverConns()) == 3 })
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(t.Context(), 300*time.Millisecond) }()
	for _, rs := range streams {
		if _, last := rs.chunk(t); !last {
			t.Fatal("a chunk with data where the last chunk was expected")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rec.snapshot().disconnects[DisconnectShutdown]; got != 3 {
		t.Errorf("%d shutdown disconnects, want 3", got)
	}
	if n := len(h.takenOverConns()); n != 0 {
		t.Errorf("%d taken-over connections still open", n)
	}
}
