package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BoltMetrics implements the bolt transport's Metrics interface
// (transport/bolt.Metrics). Build it with Metrics.Bolt.
//
// Why these two: durable publishing is bounded by the disk's fsync
// latency, which the commit duration shows, and by how many publishes
// share a commit, which the events per commit show
// (rate(hermes_history_committed_events_total) /
// rate(hermes_history_commit_duration_seconds_count)). A slow or shared
// disk shows as long commits; publishers that do not overlap (a single
// worker, no concurrency) as one event per commit.
type BoltMetrics struct {
	duration prometheus.Histogram
	events   prometheus.Counter
}

// Bolt registers the metrics of the bolt transport on m's registry, once,
// and returns them.
func (m *Metrics) Bolt() *BoltMetrics {
	m.boltOnce.Do(func() {
		m.bolt = &BoltMetrics{
			duration: prometheus.NewHistogram(prometheus.HistogramOpts{
				Namespace: namespace, Name: "history_commit_duration_seconds",
				Help: "Duration of the bolt history's commits of published events, fsyncs included; the count is the number of commits.",
				// From a commit without fsync (tens of µs) to a disk
				// stalling for seconds.
				Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
			}),
			events: prometheus.NewCounter(prometheus.CounterOpts{
				Namespace: namespace, Name: "history_committed_events_total",
				Help: "Events committed to the bolt history; divided by the commits, how many publishes share one commit.",
			}),
		}
		m.registry.MustRegister(m.bolt.duration, m.bolt.events)
	})
	return m.bolt
}

// HistoryCommit implements transport/bolt.Metrics.
func (b *BoltMetrics) HistoryCommit(events int, d time.Duration) {
	b.duration.Observe(d.Seconds())
	b.events.Add(float64(events))
}
