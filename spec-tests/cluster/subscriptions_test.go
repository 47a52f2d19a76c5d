//go:build unix

package cluster_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
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

	var ends, otherEnds int
	for _, ev := range watcher.untilMarker(t, cn) {
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
