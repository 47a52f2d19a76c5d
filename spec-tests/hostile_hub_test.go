package spectests_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
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

// slowRequest sends head (request line and headers, which must announce a
// body) on a raw connection, then trickles the body one byte every 50 ms
// until the hub closes the connection or the test ends. It returns the
// connection and a channel that receives what the hub answered (the whole
// response up to the connection's close) once the hub closed it.
func slowRequest(t testing.TB, h *Harness, head string) <-chan string {
	t.Helper()
	c := rawConn(t, h)
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); c.Close(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	answer := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				answer <- b.String()
				return
			}
		}
	}()
	return answer
}

// wantAnswered waits for the hub to answer and close a slow request, and
// checks the status of its answer.
func wantAnswered(t testing.TB, answer <-chan string, status int, what string) {
	t.Helper()
	select {
	case got := <-answer:
		if !strings.HasPrefix(got, fmt.Sprintf("HTTP/1.1 %d ", status)) {
			t.Errorf("%s: answered %q, want status %d", what, firstLine(got), status)
		}
	case <-time.After(arrive):
		t.Fatalf("%s: the hub still holds the connection after %v", what, arrive)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// TestHostile_SlowBodiesCutAtTheDeadline_Finding4: a client sending its
// body a byte at a time is cut at the body deadline, whatever the request:
// a QUERY subscription (anonymous hub), a publish with a valid token, a
// request the hub refuses without reading its body (the old hub held all of
// them for as long as the client kept sending).
func TestHostile_SlowBodiesCutAtTheDeadline_Finding4(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "h1", Options{Anonymous: true, BodyTimeout: 300 * time.Millisecond})
	body := func(method, token string) string {
		auth := ""
		if token != "" {
			auth = "Authorization: Bearer " + token + "\r\n"
		}
		return method + " " + hub.Path + " HTTP/1.1\r\nHost: x\r\n" + auth +
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n" +
			"topic=" + url.QueryEscape(topicA) + "&data="
	}
	query := slowRequest(t, h, body("QUERY", ""))
	publish := slowRequest(t, h, body("POST", h.pubAll))
	refused := slowRequest(t, h, body("POST", "")) // no token: 401 without reading the body
	wantAnswered(t, query, http.StatusRequestTimeout, "slow QUERY body")
	wantAnswered(t, publish, http.StatusRequestTimeout, "slow publish body")
	wantAnswered(t, refused, http.StatusUnauthorized, "slow body of a refused publish")
	// The hub still serves.
	h.publish(t, "topic", topicA)
}

// TestHostile_QueryRefusedBeforeItsBody_Finding4: a QUERY without a token
// (hub without --anonymous) and a QUERY past the subscriber limit are
// answered before their body is read: a client that never sends it gets
// its 401 or 429 at once, and the connection is closed.
func TestHostile_QueryRefusedBeforeItsBody_Finding4(t *testing.T) {
	t.Parallel()
	head := "QUERY " + hub.Path + " HTTP/1.1\r\nHost: x\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"

	private := newHarness(t, "h1", Options{}) // default (10 s) body deadline
	wantAnswered(t, slowRequest(t, private, head), http.StatusUnauthorized, "QUERY without a token")

	full := newHarness(t, "h1", Options{Anonymous: true, MaxSubscribers: 1})
	full.sub(t, q("topic", topicA))
	wantAnswered(t, slowRequest(t, full, head), http.StatusTooManyRequests, "QUERY past --max-subscribers")
}

// heavyPattern is a URL pattern well under the per-pattern limits (MAT-9)
// but expensive to evaluate: twenty wildcards, each a capture group the
// engine tracks, about 90 us per evaluation against a 100-byte topic; n
// makes it distinct, so that no two share a compilation.
func heavyPattern(n int) string {
	return "https://example.com/" + strings.Repeat("*a", 20) + "/" + fmt.Sprint(n)
}

// TestHostile_MatcherCost_Finding1: anonymous subscribers cannot make the
// hub compile and evaluate expensive URL patterns without bound.
//   - A subscription of 100 such patterns is refused whole, with 400, and
//     nothing of it is compiled.
//   - Many connections of a few such patterns each are accepted until the
//     hub-wide budget is used up, then refused with 503 and Retry-After;
//     the budget in use never passes its limit.
//   - A pattern shared by many streams is charged once, and the budget is
//     given back when the streams end.
func TestHostile_MatcherCost_Finding1(t *testing.T) {
	t.Parallel()
	const limit = 1_000_000 // about 115 such patterns
	h := newHarness(t, "h1", Options{Anonymous: true, MaxMatcherCost: limit})

	var kv []string
	for i := range 100 {
		kv = append(kv, "match_urlpattern", heavyPattern(i))
	}
	res := h.call(t, Req{Query: q(kv...)})
	wantStatus(t, res, http.StatusBadRequest, "100 expensive URL patterns in one subscription")
	if used, _ := h.Hub.MatcherCost(); used != 0 {
		t.Errorf("a refused subscription holds %d cost units", used)
	}

	// The attack of the issue, scaled to the test's budget: 100
	// connections of 10 distinct expensive patterns each.
	accepted, refused := 0, 0
	var streams []*Stream
	for c := range 100 {
		var kv []string
		for i := range 10 {
			kv = append(kv, "match_urlpattern", heavyPattern(10*c+i))
		}
		s := h.open(t, Req{Query: q(kv...)})
		switch s.Resp.StatusCode {
		case http.StatusOK:
			if refused > 0 {
				t.Fatalf("connection %d accepted after the budget was exhausted", c)
			}
			accepted++
			streams = append(streams, s)
		case http.StatusServiceUnavailable:
			refused++
			if v := s.Resp.Header.Get("Retry-After"); v == "" {
				t.Errorf("503 without Retry-After")
			}
			s.Close()
		default:
			t.Fatalf("connection %d: status %d", c, s.Resp.StatusCode)
		}
		if used, max := h.Hub.MatcherCost(); used > max {
			t.Fatalf("budget in use %d passed its limit %d", used, max)
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("accepted %d, refused %d connections: want the budget to admit some and refuse the rest", accepted, refused)
	}
	t.Logf("accepted %d connections, refused %d", accepted, refused)

	// A legitimate subscriber still gets its updates.
	legit := h.sub(t, q("match", topicA))
	id := h.publish(t, "topic", topicA)
	legit.expectIDs(t, id)

	for _, s := range streams {
		s.Close()
	}
	waitUntil(t, arrive, "the budget to be given back", func() bool {
		used, _ := h.Hub.MatcherCost()
		return used == 0
	})

	// One pattern shared by 20 streams is compiled and charged once.
	for range 20 {
		h.sub(t, q("match_urlpattern", heavyPattern(0)))
	}
	one := topic.Estimate(topic.TypeURLPattern, heavyPattern(0), topic.Options{Base: h.URL})
	if used, _ := h.Hub.MatcherCost(); used != one {
		t.Errorf("20 streams of one pattern hold %d cost units, want one pattern's cost %d", used, one)
	}
}

// TestHostile_SubscriptionEventsAreState_Finding3: with subscription
// events on, connection churn is not history. On a size-bounded bolt
// history of 20 updates, 40 connections of 50 topics each opening and
// closing (4,000 subscription events) leave the stored update replayable;
// the events are counted in the metrics and what the hub keeps of them is
// bounded; a subscription whose selectors would make huge events is
// refused; and a listener still gets the events live and resumes from one
// of their ids while it is kept.
func TestHostile_SubscriptionEventsAreState_Finding3(t *testing.T) {
	t.Parallel()
	mm := metrics.New()
	h := newHarness(t, "h1", Options{Subscriptions: true, Anonymous: true, Transport: "bolt", HistorySize: 20, Metrics: mm})
	watcher := h.watcher(t)
	id := h.publish(t, "topic", topicA, "data", "real update")

	const conns, topics = 40, 50
	var kv []string
	for i := range topics {
		kv = append(kv, "topic", fmt.Sprintf("https://example.com/churn/%d", i))
	}
	for range conns {
		h.sub(t, q(kv...)).Close()
	}
	waitUntil(t, arrive, "the churn's subscription events", func() bool {
		return metricValue(t, mm, "hermes_subscription_events_total") >= 2*conns*topics+1
	})
	if kept := metricValue(t, mm, "hermes_subscription_events_kept_bytes"); kept <= 0 || kept > 4<<20 {
		t.Errorf("subscription events kept: %v bytes, want some and at most 4 MiB", kept)
	}

	// The update survived the churn in the 20-event history.
	r := h.subscribe(t, Req{Query: q("topic", topicA), Header: http.Header{"Last-Event-ID": {"earliest"}}})
	r.expectIDs(t, id)

	// 100 selectors of 900 bytes: 90 KB announced on every open and close.
	var big []string
	for i := range 100 {
		big = append(big, "topic", fmt.Sprintf("https://example.com/%d/%s", i, strings.Repeat("x", 900)))
	}
	wantStatus(t, h.call(t, Req{Query: q(big...)}), http.StatusBadRequest, "subscription events of 90 KB of selectors")

	// Only the latest events are kept: the watcher's first event (its own
	// creation) was pushed out by the churn, and a listener resuming from
	// it is told "earliest" (it reads the API again), like any unknown
	// cursor.
	tok := h.modernSub(tm(eventsPattern, "urlpattern"))
	old, _ := subEvent(t, watcher)
	watcher.Close()
	stale := h.subscribe(t, Req{Query: q("match_urlpattern", eventsPattern), Token: tok, Header: http.Header{"Last-Event-ID": {old.ID}}})
	if got := stale.Resp.Header.Get("Last-Event-ID"); got != "earliest" {
		t.Errorf("resuming from an event no longer kept: Last-Event-ID %q, want earliest", got)
	}
	stale.Close()

	// Live, and resumable from a kept event's id.
	w := h.watcher(t)
	own, _ := subEvent(t, w)
	w.Close()
	h.sub(t, q("match", "https://example.com/after"))
	resumed := h.subscribe(t, Req{Query: q("match_urlpattern", eventsPattern), Token: tok, Header: http.Header{"Last-Event-ID": {own.ID}}})
	if got := resumed.Resp.Header.Get("Last-Event-ID"); got != own.ID {
		t.Errorf("resuming from a kept subscription event: Last-Event-ID %q, want %q", got, own.ID)
	}
	// After the cursor: the creation of the watcher's second matcher, the
	// later subscription, the resumed stream's own creation, and the ends
	// of the streams closed above (the first watcher, the stale listener,
	// the second watcher: emitted when the hub notices each close, so in
	// any order among the others). Read until the later subscription
	// shows; a stream that never gets it fails on the read's deadline.
	found := false
	for range 32 {
		if _, d := subEvent(t, resumed); d.Match == "https://example.com/after" {
			found = true
			break
		}
	}
	if !found {
		t.Error("the subscription made after the cursor was not replayed")
	}
}

// TestHostile_SlowBodiesBoundedInMemory_Finding4: the bodies being read at
// once are bounded in bytes hub-wide, each charged its Content-Length
// before its first byte is read: with room for one 100 KB body, a second
// slow publish (valid token) is refused at once with 503 and Retry-After,
// instead of holding its part of the body (200 such bodies held 240 MB).
func TestHostile_SlowBodiesBoundedInMemory_Finding4(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "h1", Options{BodyBytesInFlight: 150_000})
	head := "POST " + hub.Path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.pubAll + "\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ntopic=x&data="
	first, second := slowRequest(t, h, head), slowRequest(t, h, head)
	var got string
	select {
	case got = <-first:
	case got = <-second:
	case <-time.After(arrive):
		t.Fatal("two slow 100 KB bodies with room for one: both still held")
	}
	if !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: ") {
		t.Errorf("the body past the budget: answered %q, want 503 with Retry-After", firstLine(got))
	}
}
