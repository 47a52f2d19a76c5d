//go:build unix

package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// legacyEventsSelector follows every subscription event (0.x docs).
const legacyEventsSelector = "/.well-known/mercure/subscriptions{/topic}{/subscriber}"

// legacySubDoc is the part of a 0.x subscription document the tests read.
type legacySubDoc struct {
	ID         string `json:"id"`
	Subscriber string `json:"subscriber"`
	Topic      string `json:"topic"`
	Active     bool   `json:"active"`
}

// listedTopics asks node n's subscription API for the active
// subscriptions and returns the topics among want that it lists, sorted,
// or nil and the status when it does not answer 200.
func listedTopics(t *testing.T, n *node, want []string) ([]string, int) {
	t.Helper()
	status, body := n.get(t, n.base+"/.well-known/mercure/subscriptions", subscriberToken(t, "*"))
	if status != http.StatusOK {
		return nil, status
	}
	var coll struct {
		Subscriptions []legacySubDoc `json:"subscriptions"`
	}
	if err := json.Unmarshal([]byte(body), &coll); err != nil {
		t.Fatalf("API of %s: %v in %s", n.name, err, body)
	}
	var got []string
	for _, s := range coll.Subscriptions {
		if slices.Contains(want, s.Topic) && s.Active {
			got = append(got, s.Topic)
		}
	}
	sort.Strings(got)
	return got, status
}

// TestCluster_API_AnyNodeListsEveryNode_DeadNodesSubscriptionsVanishWithinTheLeaseAndEndOnce:
// with --subscriptions on Redis, the subscription API of each node lists
// the subscribers of all three. After SIGKILL of node B, B's subscription
// disappears from the lists of A and C within the lease, and exactly one
// "inactive" event is published for it, by one survivor, which a
// subscriber to subscription events on node A receives.
func TestCluster_API_AnyNodeListsEveryNode_DeadNodesSubscriptionsVanishWithinTheLeaseAndEndOnce(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOptions{subscriptions: true})
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	watcher := a.subscribe(t, subOptions{topics: []string{legacyEventsSelector}, tok: subscriberToken(t, "*")})
	topics := []string{"https://example.com/presence/A", "https://example.com/presence/B", "https://example.com/presence/C"}
	for i, n := range c.nodes {
		n.subscribe(t, subOptions{topics: []string{topics[i]}, tok: subscriberToken(t, "*")})
	}
	for _, n := range c.nodes {
		eventually(t, eventTimeout, "the API of "+n.name+" lists the subscribers of every node", func() bool {
			got, _ := listedTopics(t, n, topics)
			return slices.Equal(got, topics)
		})
	}

	if err := b.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	b.proc.WaitKilled(t)
	killed := time.Now()
	survivors := []string{topics[0], topics[2]}
	for _, n := range []*node{a, cn} {
		// The lease, plus a renewal period and slack for a loaded
		// machine: a node that never expired the lease fails here.
		eventually(t, 2*testLease+time.Second, "B's subscription unlisted by "+n.name, func() bool {
			got, _ := listedTopics(t, n, topics)
			return slices.Equal(got, survivors)
		})
	}
	t.Logf("B's subscription vanished %v after the kill (lease %v)", time.Since(killed).Round(10*time.Millisecond), testLease)

	// Wait until the claim is settled in Redis: B is out of the node set
	// and no survivor holds claimed records still to announce. After
	// that nothing can announce B's subscriptions again.
	rc := goredis.NewClient(&goredis.Options{Addr: c.redis.Addr})
	defer rc.Close()
	const prefix = "{" + streamName + ":presence}:"
	eventually(t, eventTimeout, "the claim of B settled", func() bool {
		ctx := context.Background()
		n, err1 := rc.ZCard(ctx, prefix+"nodes").Result()
		ending, err2 := rc.Keys(ctx, prefix+"ending:*").Result()
		return err1 == nil && err2 == nil && n == 2 && len(ending) == 0
	})

	// Subscription events are state, not history: they have no place
	// among updates, so the marker is a subscription opened on C after
	// the claim settled, which the state stream orders after B's end.
	var ends, otherEnds int
	for _, ev := range watcher.untilStateMarker(t, cn) {
		var d legacySubDoc
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			t.Fatalf("subscription event %q: %v", ev.Data, err)
		}
		if d.Active {
			continue
		}
		switch d.Topic {
		case topics[1]:
			ends++
		case topics[0], topics[2]:
			otherEnds++
		}
	}
	if ends != 1 {
		t.Errorf("%d inactive events for B's subscription, want exactly 1", ends)
	}
	if otherEnds != 0 {
		t.Errorf("%d inactive events for the live nodes' subscriptions, want none", otherEnds)
	}
	for _, n := range []*node{a, cn} {
		if got, status := listedTopics(t, n, topics); !slices.Equal(got, survivors) {
			t.Errorf("after the claim, %s lists %q (status %d), want %q", n.name, got, status, survivors)
		}
	}
}

// stateMarkerSeq numbers the marker subscriptions of untilStateMarker.
var stateMarkerSeq atomic.Uint64

// untilStateMarker opens a subscription on via and returns the events the
// stream (a listener of legacy subscription events) receives before the
// creation event of that subscription. Subscription events of one node
// reach every node in the order the state stream took them, so every
// subscription event published before the marker has arrived by then.
func (s *stream) untilStateMarker(t testing.TB, via *node) []sseEvent {
	t.Helper()
	marker := fmt.Sprintf("https://example.com/state-markers/%d", stateMarkerSeq.Add(1))
	via.subscribe(t, subOptions{topics: []string{marker}, tok: subscriberToken(t, "*")})
	var got []sseEvent
	for {
		ev := s.mustNext(t)
		var d legacySubDoc
		if err := json.Unmarshal([]byte(ev.Data), &d); err == nil && d.Topic == marker && d.Active {
			return got
		}
		got = append(got, ev)
	}
}

// churn opens a stream of topic on n and drops it once its headers
// arrived: one subscription opened and closed.
func churn(n *node, topic, tok string) error {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.endpoint()+"?topic="+url.QueryEscape(topic), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("churn on %s: %w", n.name, err)
	}
	cancel()
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("churn on %s: status %d", n.name, resp.StatusCode)
	}
	return nil
}

// countChurn reads legacy subscription events from s until it has seen
// want creations and want ends of topic, failing on more or on anything
// else about topic.
func countChurn(t *testing.T, s *stream, topic string, want int) {
	t.Helper()
	on, off := 0, 0
	for on < want || off < want {
		ev := s.mustNext(t)
		var d legacySubDoc
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil || d.Topic != topic {
			continue // another subscription's event (the listeners', a marker)
		}
		if d.Active {
			on++
		} else {
			off++
		}
		if on > want || off > want {
			t.Fatalf("listener on %s: %d creations and %d ends of %s, more than the %d opened", s.n.name, on, off, topic, want)
		}
	}
}

// TestCluster_Finding3_SubscriptionChurnNeitherFillsNorTrimsTheHistory
// (issue 10 finding 3 on a cluster, issue 8 point 2): with a size=20
// history on Redis and --subscriptions, 500 subscriptions opened and
// closed on node A reach the listeners of subscription events on A, B and
// C live, each exactly once, through the state stream; none of it is
// stored in the history stream, so a subscriber resuming on C from the
// update before a real update still gets that update.
func TestCluster_Finding3_SubscriptionChurnNeitherFillsNorTrimsTheHistory(t *testing.T) {
	t.Parallel()
	const cycles = 500
	const churnTopic = "https://example.com/churn"
	c := startCluster(t, clusterOptions{subscriptions: true, params: "size=20"})
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	all := subscriberToken(t, "*")
	listeners := []*stream{
		a.subscribe(t, subOptions{topics: []string{legacyEventsSelector}, tok: all}),
		b.subscribe(t, subOptions{topics: []string{legacyEventsSelector}, tok: all}),
		cn.subscribe(t, subOptions{topics: []string{legacyEventsSelector}, tok: all}),
	}
	const realTopic = "https://example.com/real"
	a.mustPublish(t, plain(realTopic, "before"))
	a.mustPublish(t, plain(realTopic, "real"))

	// Four clients at a time, as a reconnecting crowd would.
	tok := subscriberToken(t, churnTopic)
	jobs := make(chan int)
	errs := make(chan error, cycles)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				errs <- churn(a, churnTopic, tok)
			}
		}()
	}
	for i := range cycles {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range listeners {
		countChurn(t, l, churnTopic, cycles)
	}
	// Exactly once: nothing more of the churn arrives before a marker
	// subscription opened on A after every end was delivered.
	for _, l := range listeners {
		for _, ev := range l.untilStateMarker(t, a) {
			var d legacySubDoc
			if json.Unmarshal([]byte(ev.Data), &d) == nil && d.Topic == churnTopic {
				t.Errorf("listener on %s: a churn event after all %d creations and ends: delivered twice", l.n.name, cycles)
			}
		}
	}

	// The history holds the two updates only, and no subscription event.
	rc := goredis.NewClient(&goredis.Options{Addr: c.redis.Addr})
	defer rc.Close()
	ctx := context.Background()
	const events = "{" + streamName + "}:events"
	if n, err := rc.XLen(ctx, events).Result(); err != nil || n != 2 {
		t.Errorf("XLEN of the history stream: %d (%v), want 2: the updates only", n, err)
	}
	entries, err := rc.XRange(ctx, events, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, e := range entries {
		if d, _ := e.Values["d"].(string); strings.Contains(d, "/.well-known/mercure/subscriptions/") {
			stored++
		}
	}
	if stored != 0 {
		t.Errorf("%d of the %d history entries are subscription events, want none", stored, len(entries))
	}
	// The state stream holds them, bounded (default state_size 1000).
	if n, err := rc.XLen(ctx, "{"+streamName+"}:state").Result(); err != nil || n == 0 || n > 1000 {
		t.Errorf("XLEN of the state stream: %d (%v), want between 1 and 1000", n, err)
	}

	// A real update was not pushed out of the size=20 history.
	r := cn.subscribe(t, subOptions{topics: []string{realTopic}, tok: subscriberToken(t, "*"), lastEventID: "before"})
	if ev := r.mustNext(t); ev.ID != "real" {
		t.Errorf("resumed on C from \"before\": got %q first, want the update \"real\"", ev.ID)
	}
	if got := r.header.Get("Last-Event-ID"); got != "before" {
		t.Errorf("resumed on C: Last-Event-ID answer %q, want the cursor (it was found)", got)
	}
}
