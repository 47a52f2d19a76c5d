package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hermes-hub/hermes/hub"
)

func TestEveryCallMovesItsSeries(t *testing.T) {
	m := New()
	m.SubscriberConnected(3)
	m.SubscriberConnected(1)
	m.SubscriberDisconnected(3, hub.DisconnectOverflow)
	m.Published(3 * time.Millisecond)
	m.Delivered(7)
	m.Overflow()
	m.Replay(false)
	m.Replay(true)
	m.Replay(true)
	m.AuthFailure(hub.AuthFailureInvalidToken)
	m.Rejected(hub.RejectMaxSubscribersPerClient)
	m.TransportError(hub.OpAppend)

	for name, c := range map[string]struct{ got, want float64 }{
		"subscribers":         {testutil.ToFloat64(m.subscribers), 1},
		"subscriptions":       {testutil.ToFloat64(m.subscriptions), 1},
		"connects":            {testutil.ToFloat64(m.connects), 2},
		"overflow disconnect": {testutil.ToFloat64(m.disconnects.WithLabelValues(hub.DisconnectOverflow)), 1},
		"client disconnect":   {testutil.ToFloat64(m.disconnects.WithLabelValues(hub.DisconnectClient)), 0},
		"published":           {testutil.ToFloat64(m.published), 1},
		"delivered":           {testutil.ToFloat64(m.delivered), 7},
		"overflows":           {testutil.ToFloat64(m.overflows), 1},
		"replays":             {testutil.ToFloat64(m.replays), 1},
		"unknown cursors":     {testutil.ToFloat64(m.unknownCursors), 2},
		"invalid_token":       {testutil.ToFloat64(m.authFailures.WithLabelValues(hub.AuthFailureInvalidToken)), 1},
		"per-client reject":   {testutil.ToFloat64(m.rejected.WithLabelValues(hub.RejectMaxSubscribersPerClient)), 1},
		"append errors":       {testutil.ToFloat64(m.transportErrors.WithLabelValues(hub.OpAppend)), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.publishLatency); n != 1 {
		t.Errorf("latency histogram: %d series, want 1", n)
	}
}

// A label value outside the known set becomes "other": a caller can never
// grow the number of series.
func TestUnknownLabelValuesBecomeOther(t *testing.T) {
	m := New()
	for i := range 100 {
		m.AuthFailure("free text reason " + strings.Repeat("x", i))
		m.TransportError("op" + strings.Repeat("y", i))
		m.Rejected("z")
		m.SubscriberDisconnected(0, "?")
	}
	if got := testutil.ToFloat64(m.authFailures.WithLabelValues(other)); got != 100 {
		t.Errorf(`auth failures{reason="other"} = %v, want 100`, got)
	}
	for name, n := range map[string]int{
		"auth":        testutil.CollectAndCount(m.authFailures),
		"transport":   testutil.CollectAndCount(m.transportErrors),
		"rejected":    testutil.CollectAndCount(m.rejected),
		"disconnects": testutil.CollectAndCount(m.disconnects),
	} {
		if want := map[string]int{"auth": len(authReasons) + 1, "transport": len(transportOps) + 1,
			"rejected": len(rejectReasons) + 1, "disconnects": len(disconnectReasons) + 1}[name]; n != want {
			t.Errorf("%s: %d series, want %d (the known ones and other)", name, n, want)
		}
	}
}

// The registry passes the Prometheus client's own lint (names, units,
// help texts).
func TestMetricsLint(t *testing.T) {
	problems, err := testutil.GatherAndLint(New().Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "hermes_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func TestHandlerServesTheExpositionFormat(t *testing.T) {
	m := New()
	m.Published(time.Millisecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	for _, want := range []string{
		"# TYPE hermes_updates_published_total counter\nhermes_updates_published_total 1\n",
		"# TYPE hermes_subscribers gauge\n",
		"hermes_publish_duration_seconds_count 1\n",
		`hermes_transport_errors_total{op="append"} 0`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Two hubs in one process each get their own registry.
func TestTwoInstancesDoNotCollide(t *testing.T) {
	a, b := New(), New()
	a.Overflow()
	if got := testutil.ToFloat64(b.overflows); got != 0 {
		t.Errorf("the second instance counted the first's overflow")
	}
}

var _ hub.Metrics = New()
