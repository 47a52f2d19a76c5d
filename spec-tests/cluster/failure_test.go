//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// burst is a publish burst over several nodes that records, per
// publisher, what was sent and what was acknowledged with 200.
type burst struct {
	topic string
	// per publisher: ids sent (in order) and how many of them were
	// acknowledged (a prefix while the node answers 200; later
	// acknowledgements are recorded individually).
	mu       sync.Mutex
	sent     map[string][]string
	ackedSet map[string]bool
	statuses map[int]int // status -> count, 0 for transport errors
	acks     atomic.Int64
}

func newBurst(topic string) *burst {
	return &burst{topic: topic, sent: map[string][]string{}, ackedSet: map[string]bool{}, statuses: map[int]int{}}
}

// run publishes perWorker updates from each worker on each node until
// done is closed or the updates run out. A worker whose node stops
// answering (killed) goes on trying: its later publishes fail.
func (b *burst) run(t *testing.T, nodes []*node, workers, perWorker int, stop <-chan struct{}) {
	t.Helper()
	tok := publisherToken(t)
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := range workers {
			pubName := fmt.Sprintf("%s-%d", n.name, w)
			wg.Go(func() {
				for k := range perWorker {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("u-%s-%04d", pubName, k)
					b.mu.Lock()
					b.sent[pubName] = append(b.sent[pubName], id)
					b.mu.Unlock()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					status, body, err := n.publish(ctx, tok, plain(b.topic, id))
					cancel()
					b.mu.Lock()
					if err != nil {
						status = 0
					}
					b.statuses[status]++
					ok := err == nil && status == http.StatusOK && body == id
					if ok {
						b.ackedSet[id] = true
						b.acks.Add(1)
					}
					b.mu.Unlock()
					if !ok {
						// A dead node or Redis refuses at once: pace
						// the retries instead of spinning two cores.
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
	}
	wg.Wait()
}

// checkDelivered verifies one subscriber's stream against the burst:
// every acknowledged update exactly once, nothing unsent, nothing twice,
// and each publisher's updates in the order it sent them.
func (b *burst) checkDelivered(t *testing.T, who string, got []string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	count := map[string]int{}
	sentSet := map[string]bool{}
	for _, ids := range b.sent {
		for _, id := range ids {
			sentSet[id] = true
		}
	}
	for _, id := range got {
		count[id]++
		if !sentSet[id] {
			t.Errorf("%s received %q, which nobody published", who, id)
		}
	}
	missing := 0
	for id := range b.ackedSet {
		if count[id] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("%s never received acknowledged update %q", who, id)
			}
		}
	}
	if missing > 5 {
		t.Errorf("%s missed %d acknowledged updates in all", who, missing)
	}
	for id, n := range count {
		if n > 1 {
			t.Errorf("%s received %q %d times", who, id, n)
		}
	}
	for pub, ids := range b.sent {
		if order := filterIn(got, ids); !slices.Equal(order, filterIn(ids, order)) {
			t.Errorf("%s received publisher %s's updates out of order: %q", who, pub, order)
		}
	}
}

// TestCluster_SIGKILLOfANodeDuringABurst_EveryAcknowledgedUpdateReachesTheOthersOnce:
// publishers on all three nodes; node A is killed with SIGKILL in the
// middle of the burst. The subscribers on B and C receive every update
// that any node acknowledged (A included, before it died), exactly once,
// in each publisher's order; updates A never acknowledged may or may not
// be there, once at most.
func TestCluster_SIGKILLOfANodeDuringABurst_EveryAcknowledgedUpdateReachesTheOthersOnce(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/node-kill"
	c := startCluster(t, clusterOptions{})
	victim, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	tok := subscriberToken(t, "*")
	subs := []*stream{
		b.subscribe(t, subOptions{topics: []string{topic}, tok: tok}),
		cn.subscribe(t, subOptions{topics: []string{topic}, tok: tok}),
	}
	bu := newBurst(topic)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		bu.run(t, c.nodes, 3, 150, stop)
	}()
	eventually(t, eventTimeout, "150 acknowledgements before the kill", func() bool { return bu.acks.Load() >= 150 })
	if err := victim.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.proc.WaitKilled(t)
	<-done
	t.Logf("statuses: %v", bu.statuses)
	if bu.statuses[0] == 0 {
		t.Errorf("no publish to the killed node failed: the kill did not land in the burst")
	}
	for _, s := range subs {
		got := eventIDs(s.untilMarker(t, s.n))
		bu.checkDelivered(t, "subscriber on "+s.n.name, got)
	}
}

// TestCluster_SIGKILLOfRedisDuringABurst_NothingAcknowledgedIsLostAndStreamsResume:
// Redis (AOF, appendfsync always) is killed with SIGKILL in the middle of
// a burst on all three nodes and restarted on the same data. While it is
// down, publishes are answered 503, never 200. Once it is back, the nodes
// recover without being restarted: the streams that stayed open receive
// every acknowledged update exactly once, in one order, without a gap.
func TestCluster_SIGKILLOfRedisDuringABurst_NothingAcknowledgedIsLostAndStreamsResume(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/redis-kill"
	c := startCluster(t, clusterOptions{})
	tok := subscriberToken(t, "*")
	var subs []*stream
	for _, n := range c.nodes {
		subs = append(subs, n.subscribe(t, subOptions{topics: []string{topic}, tok: tok}))
	}
	bu := newBurst(topic)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		bu.run(t, c.nodes, 2, 100000, stop)
	}()
	eventually(t, eventTimeout, "100 acknowledgements before the kill", func() bool { return bu.acks.Load() >= 100 })
	c.redis.Kill()
	ackedAtKill := bu.acks.Load()

	// Redis is down: every node answers publishes 503 and is not ready.
	for _, n := range c.nodes {
		status, _, err := n.publish(context.Background(), publisherToken(t), plain(topic, "while-down-"+n.name))
		if err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("publish on %s while Redis is down: status %d, error %v; want 503", n.name, status, err)
		}
		if status, _ := n.get(t, n.base+"/readyz", ""); status != http.StatusServiceUnavailable {
			t.Errorf("/readyz on %s while Redis is down: %d, want 503", n.name, status)
		}
	}
	// Publishes in flight at the kill may still have been acknowledged
	// (stored before it); none after the checks above.
	acksDown := bu.acks.Load()

	c.redis.Restart()
	eventually(t, eventTimeout, "acknowledgements again after the restart", func() bool { return bu.acks.Load() > acksDown+30 })
	close(stop)
	<-done
	t.Logf("statuses: %v (acknowledged %d at the kill, %d while down)", bu.statuses, ackedAtKill, acksDown)
	if bu.statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no publish was answered 503 while Redis was down")
	}
	for code := range bu.statuses {
		if code != http.StatusOK && code != http.StatusServiceUnavailable && code != 0 {
			t.Errorf("publishes answered %d (%d times), want 200 or 503 only", code, bu.statuses[code])
		}
	}
	var first []string
	for _, s := range subs {
		// The stream opened before the kill is still the same one: an
		// end of stream fails here.
		got := eventIDs(s.untilMarker(t, s.n))
		bu.checkDelivered(t, "subscriber on "+s.n.name, got)
		for _, id := range got {
			if strings.HasPrefix(id, "while-down-") {
				t.Errorf("subscriber on %s received %q, which was refused with 503", s.n.name, id)
			}
		}
		if first == nil {
			first = got
		} else if !slices.Equal(got, first) {
			t.Errorf("subscriber on %s saw another order than subscriber on %s", s.n.name, subs[0].n.name)
		}
	}
}

// TestCluster_RedisRestartedEmpty_NodesDetectTheLossAndEndTheirStreams:
// Redis without persistence is restarted empty. Every node notices that
// the history it fed from is gone: it ends its open streams (so that
// clients resume from what history holds), logs it and counts it in a
// metric, instead of serving a silent gap. Publishing works again after.
func TestCluster_RedisRestartedEmpty_NodesDetectTheLossAndEndTheirStreams(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/empty"
	c := startCluster(t, clusterOptions{noPersistence: true})
	tok := subscriberToken(t, "*")
	var subs []*stream
	for i, n := range c.nodes {
		n.mustPublish(t, plain(topic, fmt.Sprintf("before-%d", i)))
		subs = append(subs, n.subscribe(t, subOptions{topics: []string{topic}, tok: tok}))
	}
	for _, s := range subs {
		s.untilMarker(t, s.n)
	}
	c.redis.Restart()
	for _, s := range subs {
		s.ended(t)
	}
	for _, n := range c.nodes {
		eventually(t, eventTimeout, "a publish on "+n.name+" after the empty restart", func() bool {
			status, _, err := n.publish(context.Background(), publisherToken(t), plain(topic, "after-"+n.name))
			return err == nil && status == http.StatusOK
		})
		status, metrics := n.get(t, n.admin+"/metrics", "")
		if status != http.StatusOK || !lossCounted(metrics) {
			t.Errorf("metrics of %s (status %d) count no loss of history", n.name, status)
		}
		if logs := n.proc.Logs(); !strings.Contains(logs, "history lost") {
			t.Errorf("the log of %s does not mention the loss", n.name)
		}
	}
}

// lossCounted reports whether a Prometheus text exposition counts a loss
// of history (hermes_history_losses_total above zero).
func lossCounted(metrics string) bool {
	for _, line := range strings.Split(metrics, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if ok && name == "hermes_history_losses_total" {
			return strings.TrimSpace(value) != "0"
		}
	}
	return false
}
