// Package metrics implements hub.Metrics with the Prometheus client library
// and serves them in the Prometheus exposition format. Only cmd/hermes
// imports it, so that the hub itself does not depend on Prometheus.
package metrics

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hermes-hub/hermes/hub"
)

// namespace prefixes every metric name.
const namespace = "hermes"

// other is the label value for anything outside a label's known set: a
// label value never comes from elsewhere, so cardinality stays fixed even if
// a caller passes something unexpected.
const other = "other"

var (
	disconnectReasons = []string{hub.DisconnectClient, hub.DisconnectDeadline, hub.DisconnectOverflow, hub.DisconnectShutdown, hub.DisconnectError}
	authReasons       = []string{hub.AuthFailureMissing, hub.AuthFailureInvalidRequest, hub.AuthFailureInvalidToken, hub.AuthFailureInsufficientScope, hub.AuthFailureInternal}
	rejectReasons     = []string{hub.RejectMaxSubscribers, hub.RejectMaxSubscribersPerClient, hub.RejectBodyTooLarge, hub.RejectShuttingDown, hub.RejectBodyTimeout, hub.RejectSubscriptionCost, hub.RejectMatcherBudget, hub.RejectBodyBudget}
	transportOps      = []string{hub.OpAppend, hub.OpLookup, hub.OpReplay, hub.OpCheck}
)

// Metrics is the Prometheus implementation of hub.Metrics. Its zero value
// is not usable; build it with New.
type Metrics struct {
	registry *prometheus.Registry

	subscribers     prometheus.Gauge
	subscriptions   prometheus.Gauge
	connects        prometheus.Counter
	disconnects     *prometheus.CounterVec
	published       prometheus.Counter
	delivered       prometheus.Counter
	publishLatency  prometheus.Histogram
	overflows       prometheus.Counter
	replays         prometheus.Counter
	unknownCursors  prometheus.Counter
	authFailures    *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	transportErrors *prometheus.CounterVec

	redisOnce              sync.Once // registers redis (redis.go) on first use
	redis                  *RedisMetrics
	boltOnce               sync.Once // registers bolt (bolt.go) on first use
	bolt                   *BoltMetrics
	subscriptionEvents     prometheus.Counter
	subscriptionEventBytes prometheus.Gauge

	authCacheOnce   sync.Once // registers the auth caches' collector (authcache.go)
	publishLoopOnce sync.Once // registers the publish loop's collector (publishloop.go)
}

var _ hub.Metrics = (*Metrics)(nil)

// New registers the hub's metrics, the Go runtime's and the process's on a
// registry of their own (not the global one, so that two hubs in one test
// process do not collide).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{registry: reg}

	m.subscribers = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "subscribers",
		Help: "Subscribers connected now (open event streams).",
	})
	m.subscriptions = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "subscriptions",
		Help: "Topic selectors of the connected subscribers.",
	})
	m.connects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "subscribers_connected_total",
		Help: "Event streams opened.",
	})
	m.disconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "subscribers_disconnected_total",
		Help: "Event streams ended, by reason: client, deadline (write timeout or token expiry), overflow (slow client), shutdown, error (history unreadable).",
	}, []string{"reason"})
	m.published = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "updates_published_total",
		Help: "Updates stored and acknowledged to publishers.",
	})
	m.delivered = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "updates_delivered_total",
		Help: "Updates handed to subscribers: queued live, or written during a replay; one per subscriber.",
	})
	m.publishLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "publish_duration_seconds",
		Help: "Time from a publish request's arrival to the update being stored.",
		// From a memory transport (tens of µs) to a slow disk's fsync.
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.overflows = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "subscriber_overflows_total",
		Help: "Subscribers disconnected because their queue passed its byte bound (slow clients).",
	})
	m.replays = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "replays_total",
		Help: "History replays served to reconnecting subscribers.",
	})
	m.unknownCursors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "unknown_cursors_total",
		Help: "Subscribe requests whose Last-Event-ID names no stored update.",
	})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "auth_failures_total",
		Help: "Requests refused for their token, by reason: missing, invalid_request, invalid_token, insufficient_scope, internal.",
	}, []string{"reason"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "requests_rejected_total",
		Help: "Requests refused by a limit or by the shutdown, by reason.",
	}, []string{"reason"})
	m.transportErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "transport_errors_total",
		Help: "Failures of the history transport, by operation: append, lookup, replay, check.",
	}, []string{"op"})

	m.subscriptionEvents = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "subscription_events_total",
		Help: "Subscription events emitted (--subscriptions): kept in memory, never stored in the history.",
	})
	m.subscriptionEventBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "subscription_events_kept_bytes",
		Help: "Bytes of the latest subscription events the hub keeps for listeners that resume.",
	})

	reg.MustRegister(
		m.subscribers, m.subscriptions, m.connects, m.disconnects, m.published, m.delivered,
		m.publishLatency, m.overflows, m.replays, m.unknownCursors, m.authFailures, m.rejected,
		m.transportErrors, m.subscriptionEvents, m.subscriptionEventBytes,
	)
	// Every known label value starts at 0, so that dashboards and alerts
	// see the series before the first event (rate() needs two samples).
	for vec, values := range map[*prometheus.CounterVec][]string{
		m.disconnects: disconnectReasons, m.authFailures: authReasons,
		m.rejected: rejectReasons, m.transportErrors: transportOps,
	} {
		for _, v := range values {
			vec.WithLabelValues(v)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is where the metrics are registered, for collectors of other
// packages and for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// label returns v when it is one of known, otherwise "other".
func label(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return other
}

func (m *Metrics) SubscriberConnected(subscriptions int) {
	m.connects.Inc()
	m.subscribers.Inc()
	m.subscriptions.Add(float64(subscriptions))
}

func (m *Metrics) SubscriberDisconnected(subscriptions int, reason string) {
	m.disconnects.WithLabelValues(label(reason, disconnectReasons)).Inc()
	m.subscribers.Dec()
	m.subscriptions.Sub(float64(subscriptions))
}

func (m *Metrics) Published(latency time.Duration) {
	m.published.Inc()
	m.publishLatency.Observe(latency.Seconds())
}

func (m *Metrics) Delivered(n int) { m.delivered.Add(float64(n)) }

func (m *Metrics) Overflow() { m.overflows.Inc() }

func (m *Metrics) Replay(unknownCursor bool) {
	if unknownCursor {
		m.unknownCursors.Inc()
		return
	}
	m.replays.Inc()
}

func (m *Metrics) AuthFailure(reason string) {
	m.authFailures.WithLabelValues(label(reason, authReasons)).Inc()
}

func (m *Metrics) Rejected(reason string) {
	m.rejected.WithLabelValues(label(reason, rejectReasons)).Inc()
}

func (m *Metrics) TransportError(op string) {
	m.transportErrors.WithLabelValues(label(op, transportOps)).Inc()
}

func (m *Metrics) SubscriptionEvents(n int, keptBytes int) {
	m.subscriptionEvents.Add(float64(n))
	m.subscriptionEventBytes.Set(float64(keptBytes))
}
