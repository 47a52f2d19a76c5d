package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// redisOps are the operations of the Redis transport (transport/redis.Ops),
// repeated here so that this package does not import the transport.
var redisOps = []string{"append", "read", "lookup", "replay", "trim", "check", "state"}

// RedisMetrics implements the Redis transport's Metrics interface
// (transport/redis.Metrics). Build it with Metrics.Redis.
type RedisMetrics struct {
	errors    *prometheus.CounterVec
	roundTrip *prometheus.HistogramVec
	feedLag   prometheus.Gauge
	losses    prometheus.Counter
}

// Redis registers the metrics of the Redis transport on m's registry, once,
// and returns them.
func (m *Metrics) Redis() *RedisMetrics {
	m.redisOnce.Do(func() { m.redis = newRedisMetrics(m.registry) })
	return m.redis
}

func newRedisMetrics(reg *prometheus.Registry) *RedisMetrics {
	r := &RedisMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "redis_errors_total",
			Help: "Failed Redis calls of the transport, by operation: append, read (the feed), lookup, replay, trim, check.",
		}, []string{"op"}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "redis_round_trip_seconds",
			Help: "Duration of successful Redis calls of the transport, by operation (read includes the feed's blocking waits).",
			// From a local Redis (100 µs) to an fsync on a slow disk and
			// the feed's blocking wait of one second.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		feedLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "redis_feed_lag_events",
			Help: "Events of the Redis stream this node's feed had not read yet, as of its last read.",
		}),
		losses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "history_losses_total",
			Help: "Detected losses of history (stream recreated, rolled back, or trimmed past this node's position); each ends the open streams.",
		}),
	}
	reg.MustRegister(r.errors, r.roundTrip, r.feedLag, r.losses)
	// Every operation's series exists from the start, so that dashboards
	// and alerts see zeros rather than nothing.
	for _, op := range redisOps {
		r.errors.WithLabelValues(op)
		r.roundTrip.WithLabelValues(op)
	}
	return r
}

// RedisError counts a failed Redis call.
func (r *RedisMetrics) RedisError(op string) { r.errors.WithLabelValues(label(op, redisOps)).Inc() }

// RedisRoundTrip observes a successful Redis call.
func (r *RedisMetrics) RedisRoundTrip(op string, d time.Duration) {
	r.roundTrip.WithLabelValues(label(op, redisOps)).Observe(d.Seconds())
}

// RedisFeedLag sets the feed's lag behind the stream's head.
func (r *RedisMetrics) RedisFeedLag(events uint64) { r.feedLag.Set(float64(events)) }

// HistoryLost counts a detected loss of history.
func (r *RedisMetrics) HistoryLost() { r.losses.Inc() }
