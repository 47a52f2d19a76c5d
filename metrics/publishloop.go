package metrics

import "github.com/prometheus/client_golang/prometheus"

// PublishLoop registers, once, a collector that reads the counts of the
// hub's publish loop (hub/h1publish.go: keep-alive publishers served
// without net/http after their first publish) at every scrape: the loop
// counts for itself with one atomic add per event, and pays no metrics
// call on its path. Operators see with them whether their publishers'
// connections are served by the loop: a proxy that does not keep its
// connections to the hub open, TLS, or requests the loop hands back
// (Expect, chunked bodies...) leave it unused.
func (m *Metrics) PublishLoop(stats func() (takenOver, served, handedBack uint64)) {
	m.publishLoopOnce.Do(func() { m.registry.MustRegister(newPublishLoopCollector(stats)) })
}

type publishLoopCollector struct {
	stats                         func() (uint64, uint64, uint64)
	takenOver, served, handedBack *prometheus.Desc
}

func newPublishLoopCollector(stats func() (uint64, uint64, uint64)) *publishLoopCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	return &publishLoopCollector{
		stats:      stats,
		takenOver:  desc("publish_connections_taken_over_total", "Keep-alive publisher connections (plain-text HTTP/1.1) the hub took over from net/http after a publish, to serve the next ones itself."),
		served:     desc("publish_loop_requests_total", "Publishes served on taken-over connections."),
		handedBack: desc("publish_connections_handed_back_total", "Taken-over connections given back to net/http for a request the publish loop does not serve."),
	}
}

func (c *publishLoopCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.takenOver
	ch <- c.served
	ch <- c.handedBack
}

func (c *publishLoopCollector) Collect(ch chan<- prometheus.Metric) {
	takenOver, served, handedBack := c.stats()
	ch <- prometheus.MustNewConstMetric(c.takenOver, prometheus.CounterValue, float64(takenOver))
	ch <- prometheus.MustNewConstMetric(c.served, prometheus.CounterValue, float64(served))
	ch <- prometheus.MustNewConstMetric(c.handedBack, prometheus.CounterValue, float64(handedBack))
}
