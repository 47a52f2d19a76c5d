//go:build unix

package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// benchStep is what the test reads of one step of `hermes bench fanout
// --json`.
type benchStep struct {
	Published  int64 `json:"published"`
	Acked      int64 `json:"acknowledged"`
	Deliveries int64 `json:"deliveries"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Order      int64 `json:"order_violations"`
	Latency    struct {
		Count uint64  `json:"count"`
		P50   float64 `json:"p50_ms"`
		P99   float64 `json:"p99_ms"`
	} `json:"latency"`
}

// TestCluster_BenchFanoutAcrossNodes_EveryUpdateReachesTheOtherNodesSubscribers
// runs the load tool as an operator would to measure node-to-node latency:
// `hermes bench fanout --publish-hub` publishing on node A while its
// subscribers are on node B. Every update acknowledged by A reaches every
// subscriber of B once and in order, and the tool reports the latency of
// each delivery. (The figures themselves are benchmarks, not asserted.)
func TestCluster_BenchFanoutAcrossNodes_EveryUpdateReachesTheOtherNodesSubscribers(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	a, b := c.nodes[0], c.nodes[1]
	const subscribers = 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hermesBin, "bench", "fanout",
		"--hub", b.endpoint(), "--publish-hub", a.endpoint(), "--jwt-key", jwtSecret,
		"--subscribers", fmt.Sprint(subscribers), "--publishers", "1", "--rate", "50",
		"--step-duration", "500ms", "--max-steps", "2", "--drain", "20s", "--p99", "1h",
		"--connect-concurrency", "8", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hermes bench: %v\n%s", err, stderr.String())
	}
	var res struct {
		Hub        string `json:"hub"`
		PublishHub string `json:"publish_hub"`
		Sweep      struct {
			Steps []benchStep `json:"steps"`
		} `json:"sweep"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("hermes bench --json printed %q: %v", out, err)
	}
	if res.Hub != b.endpoint() || res.PublishHub != a.endpoint() {
		t.Fatalf("bench ran on hub %q publishing to %q; want %q and %q", res.Hub, res.PublishHub, b.endpoint(), a.endpoint())
	}
	if len(res.Sweep.Steps) == 0 {
		t.Fatalf("no step ran: %s", out)
	}
	for i, st := range res.Sweep.Steps {
		if st.Acked == 0 || st.Acked != st.Published {
			t.Fatalf("step %d: %d of %d publishes on node A acknowledged", i, st.Acked, st.Published)
		}
		if st.Deliveries != st.Acked*subscribers || st.Latency.Count != uint64(st.Deliveries) {
			t.Fatalf("step %d: %d acknowledged on A, %d deliveries on B (%d latencies); want %d each",
				i, st.Acked, st.Deliveries, st.Latency.Count, st.Acked*subscribers)
		}
		if st.Lost+st.Duplicates+st.Order != 0 {
			t.Fatalf("step %d: %d lost, %d duplicates, %d out of order", i, st.Lost, st.Duplicates, st.Order)
		}
		t.Logf("step %d: %d updates A->B, latency p50 %.1f ms, p99 %.1f ms", i, st.Acked, st.Latency.P50, st.Latency.P99)
	}
}

// BenchmarkCrossNodeLatency measures the end-to-end latency of one update
// across nodes: published on node A (answered once Redis stored it, with
// appendfsync always), read from the stream by node B, delivered to B's
// subscriber. Updates go one at a time, each timed from the publish
// request to its arrival on B.
func BenchmarkCrossNodeLatency(b *testing.B) {
	c := startCluster(b, clusterOptions{nodes: 2})
	pub, sub := c.nodes[0], c.nodes[1]
	topic := "https://example.com/latency"
	s := sub.subscribe(b, subOptions{topics: []string{topic}, tok: subscriberToken(b, topic)})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("lat-%d", i)
		start := time.Now()
		pub.mustPublish(b, plain(topic, id))
		ev := s.mustNext(b)
		lat = append(lat, time.Since(start))
		if ev.ID != id {
			b.Fatalf("received %q, want %q", ev.ID, id)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)].Microseconds()) / 1e3
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
