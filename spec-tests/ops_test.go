package spectests_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hermes-hub/hermes/metrics"
)

// Operations: limits, connection lifetime and the metrics that count them.

// metricValue reads one sample of a counter or gauge from m; labels are
// name/value pairs and must all match. A missing series reads as -1.
func metricValue(t testing.TB, m *metrics.Metrics, name string, labels ...string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				if !hasLabel(s, labels[i], labels[i+1]) {
					continue series
				}
			}
			if c := s.GetCounter(); c != nil {
				return c.GetValue()
			}
			return s.GetGauge().GetValue()
		}
	}
	return -1
}

func hasLabel(s *dto.Metric, name, value string) bool {
	for _, l := range s.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// waitMetric polls until the sample has the value.
func waitMetric(t testing.TB, m *metrics.Metrics, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(arrive)
	for {
		got := metricValue(t, m, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%q = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// wantRetryAfter requires a Retry-After of a few seconds.
func wantRetryAfter(t testing.TB, res Result) {
	t.Helper()
	v := res.Header.Get("Retry-After")
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 5 {
		t.Errorf("Retry-After %q, want a few seconds (1..5)", v)
	}
}

// TestSUB11_PerClientLimitAnswers429WithRetryAfter: past the per-client
// maximum a subscriber gets 429 with Retry-After, and a slot frees when
// one of its streams ends.
func TestSUB11_PerClientLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	m := map[string]*metrics.Metrics{"h1": metrics.New(), "h2c": metrics.New()}
	for proto, mm := range m {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, proto, Options{Anonymous: true, MaxSubscribersPerClient: 2, Metrics: mm})
			first := h.sub(t, q("topic", topicA))
			second := h.sub(t, q("topic", topicA))
			res := h.call(t, Req{Query: q("topic", topicA)})
			wantStatus(t, res, http.StatusTooManyRequests, "third stream of one client")
			wantRetryAfter(t, res)
			if got := metricValue(t, mm, "hermes_requests_rejected_total", "reason", "max_subscribers_per_client"); got != 1 {
				t.Errorf("rejected per-client = %v, want 1", got)
			}
			// The refused request did not take a slot, and a closed stream
			// gives its slot back.
			first.Close()
			deadline := time.Now().Add(arrive)
			for {
				s := h.open(t, Req{Query: q("topic", topicA)})
				if s.Resp.StatusCode == http.StatusOK {
					break
				}
				s.Close()
				if time.Now().After(deadline) {
					t.Fatalf("no slot freed within %v after a stream closed (status %d)", arrive, s.Resp.StatusCode)
				}
				time.Sleep(10 * time.Millisecond) // polling interval
			}
			// The stream that stayed open still works.
			second.expectIDs(t, h.publish(t, "topic", topicA))
		})
	}
}

// TestSUB11_TotalLimitAnswers429: the hub-wide maximum applies to every
// client together.
func TestSUB11_TotalLimitAnswers429(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, MaxSubscribers: 1}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("topic", topicA))
		res := h.call(t, Req{Query: q("topic", topicA)})
		wantStatus(t, res, http.StatusTooManyRequests, "second stream on a hub of one")
		wantRetryAfter(t, res)
		// Publishing is not a stream and is not limited.
		id := h.publish(t, "topic", topicA)
		s.expectIDs(t, id)
	})
}

// TestAZ5_WriteTimeoutRotatesLongStreams: independently of any token, a
// stream lives 80-100 % of the write timeout, then ends cleanly; the client
// resumes with its Last-Event-ID and misses nothing.
func TestAZ5_WriteTimeoutRotatesLongStreams(t *testing.T) {
	t.Parallel()
	const timeout = 1500 * time.Millisecond
	m := map[string]*metrics.Metrics{"h1": metrics.New(), "h2c": metrics.New()}
	for proto, mm := range m {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, proto, Options{Anonymous: true, WriteTimeout: timeout, Metrics: mm})
			start := time.Now()
			s := h.sub(t, q("topic", topicA))
			id := h.publish(t, "topic", topicA)
			s.expectIDs(t, id)
			if _, err := s.ReadAll(timeout + arrive); err != nil {
				t.Fatalf("the stream did not end cleanly: %v", err)
			}
			if lived := time.Since(start); lived < timeout*8/10 {
				t.Errorf("the stream ended after %v, before 80 %% of the write timeout %v", lived, timeout)
			}
			waitMetric(t, mm, 1, "hermes_subscribers_disconnected_total", "reason", "deadline")

			// Published while the client was away: the resumed stream has it.
			missed := h.publish(t, "topic", topicA)
			r := h.subscribe(t, Req{Query: q("topic", topicA), Header: http.Header{"Last-Event-ID": {id}}})
			r.expectIDs(t, missed)
		})
	}
}

// TestAZ5_TokenExpiryEndsStreamCleanlyAndIsCounted complements
// TestAZ5_StreamEndsByTokenExpiry: the end is a clean end of stream (the
// client reconnects), not before 80 % of the token's remaining life, and it
// is counted as a deadline disconnect.
func TestAZ5_TokenExpiryEndsStreamCleanlyAndIsCounted(t *testing.T) {
	t.Parallel()
	mm := metrics.New()
	h := newHarness(t, "h1", Options{Metrics: mm})
	exp := time.Now().Add(3 * time.Second).Truncate(time.Second)
	tok := h.signSub(legacyHeader, claims{"exp": exp.Unix(), "mercure": map[string]any{"subscribe": []any{"*"}}})
	left := time.Until(exp)
	start := time.Now()
	s := h.subscribe(t, Req{Query: q("topic", topicA), Token: tok})
	if _, err := s.ReadAll(left + arrive); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
	lived := time.Since(start)
	if lived < left*8/10-100*time.Millisecond || time.Now().After(exp.Add(time.Second)) {
		t.Errorf("the stream lived %v; the token had %v left (want 80-100 %%)", lived, left)
	}
	waitMetric(t, mm, 1, "hermes_subscribers_disconnected_total", "reason", "deadline")
	waitMetric(t, mm, 0, "hermes_subscribers")
}

// TestOPS_SlowSubscriberOverflowDisconnectedAndCounted: a subscriber whose
// queue passes its byte bound is disconnected (cleanly), counted, and
// gets what it missed from history when it resumes.
func TestOPS_SlowSubscriberOverflowDisconnectedAndCounted(t *testing.T) {
	t.Parallel()
	m := map[string]*metrics.Metrics{"h1": metrics.New(), "h2c": metrics.New()}
	for proto, mm := range m {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			// One update larger than the bound overflows the queue however
			// fast the client reads: a deterministic slow subscriber.
			h := newHarness(t, proto, Options{Anonymous: true, QueueBytes: 1024, Metrics: mm})
			small := h.publish(t, "topic", topicA, "data", "small")
			s := h.sub(t, q("topic", topicA))
			big := h.publish(t, "topic", topicA, "data", strings.Repeat("x", 2048))
			if _, err := s.ReadAll(arrive); err != nil {
				t.Fatalf("the overflowed stream did not end cleanly: %v", err)
			}
			waitMetric(t, mm, 1, "hermes_subscriber_overflows_total")
			waitMetric(t, mm, 1, "hermes_subscribers_disconnected_total", "reason", "overflow")
			// History replays do not go through the queue: the resumed
			// stream gets the update that overflowed it.
			r := h.subscribe(t, Req{Query: q("topic", topicA), Header: http.Header{"Last-Event-ID": {small}}})
			r.expectIDs(t, big)
			waitMetric(t, mm, 1, "hermes_replays_total")
		})
	}
}

// TestOPS_MetricsCountTraffic: the counters move with the traffic they
// name.
func TestOPS_MetricsCountTraffic(t *testing.T) {
	t.Parallel()
	mm := metrics.New()
	h := newHarness(t, "h1", Options{Metrics: mm})
	subs := []*Stream{
		h.sub(t, q("topic", topicA), h.legacySub("*")),
		h.sub(t, q("topic", topicA, "topic", "https://example.com/b"), h.legacySub("*")),
	}
	waitMetric(t, mm, 2, "hermes_subscribers")
	waitMetric(t, mm, 3, "hermes_subscriptions")
	id := h.publish(t, "topic", topicA)
	for _, s := range subs {
		s.expectIDs(t, id)
	}
	waitMetric(t, mm, 1, "hermes_updates_published_total")
	waitMetric(t, mm, 2, "hermes_updates_delivered_total")

	wantStatus(t, h.call(t, Req{Query: q("topic", topicA)}), http.StatusUnauthorized, "no token")
	wantStatus(t, h.call(t, Req{Query: q("topic", topicA), Token: "garbage"}), http.StatusUnauthorized, "bad token")
	wantStatus(t, h.publishAs(t, h.legacyPub("https://example.com/other"), "topic", topicA), http.StatusForbidden, "topic outside the grant")
	waitMetric(t, mm, 1, "hermes_auth_failures_total", "reason", "missing")
	waitMetric(t, mm, 1, "hermes_auth_failures_total", "reason", "invalid_token")
	waitMetric(t, mm, 1, "hermes_auth_failures_total", "reason", "insufficient_scope")

	h.subscribe(t, Req{Query: q("topic", topicA), Token: h.legacySub("*"), Header: http.Header{"Last-Event-ID": {"urn:uuid:unknown"}}})
	waitMetric(t, mm, 1, "hermes_unknown_cursors_total")
	waitMetric(t, mm, 3, "hermes_subscribers")

	subs[0].Close()
	waitMetric(t, mm, 2, "hermes_subscribers")
	waitMetric(t, mm, 1, "hermes_subscribers_disconnected_total", "reason", "client")
}
