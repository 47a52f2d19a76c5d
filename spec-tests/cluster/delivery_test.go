//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// publishBurst runs `workers` publishers per node, each publishing
// perWorker updates on topic with ids p-NODE-W-K, sequentially. It returns
// the ids each publisher had acknowledged, in order.
func publishBurst(t *testing.T, c *cluster, topic string, workers, perWorker int) [][]string {
	t.Helper()
	tok := publisherToken(t)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked [][]string
		errs  []error
	)
	for _, n := range c.nodes {
		for w := range workers {
			wg.Go(func() {
				var mine []string
				for k := range perWorker {
					id := fmt.Sprintf("p-%s-%d-%03d", n.name, w, k)
					status, body, err := n.publish(context.Background(), tok, plain(topic, id))
					if err == nil && (status != http.StatusOK || body != id) {
						err = fmt.Errorf("publish %s on %s: status %d, body %q", id, n.name, status, body)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						break
					}
					mine = append(mine, id)
				}
				mu.Lock()
				acked = append(acked, mine)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return acked
}

// TestCluster_UpdatesReachEveryNodeInOneOrderUnderConcurrentPublishers:
// publishers on all three nodes at once; two subscribers per node each
// receive every update exactly once, all six in the very same order, and
// each publisher's updates in the order it published them.
func TestCluster_UpdatesReachEveryNodeInOneOrderUnderConcurrentPublishers(t *testing.T) {
	t.Parallel()
	const topic = "https://example.com/order"
	c := startCluster(t, clusterOptions{})
	tok := subscriberToken(t, "*")
	var subs []*stream
	for _, n := range c.nodes {
		for range 2 {
			subs = append(subs, n.subscribe(t, subOptions{topics: []string{topic}, tok: tok}))
		}
	}
	acked := publishBurst(t, c, topic, 3, 40)
	total := 0
	for _, a := range acked {
		total += len(a)
	}
	var first []string
	for i, s := range subs {
		got := eventIDs(s.untilMarker(t, c.nodes[i%len(c.nodes)]))
		if len(got) != total {
			t.Errorf("subscriber %d on %s received %d updates, want %d", i, s.n.name, len(got), total)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
			t.Errorf("subscriber %d on %s received duplicates", i, s.n.name)
		}
		for _, mine := range acked {
			if sub := filterIn(got, mine); !slices.Equal(sub, mine) {
				t.Errorf("subscriber %d on %s: one publisher's updates arrived as %q, published as %q", i, s.n.name, sub, mine)
				break
			}
		}
		if first == nil {
			first = got
			continue
		}
		if !slices.Equal(got, first) {
			at := 0
			for at < min(len(got), len(first)) && got[at] == first[at] {
				at++
			}
			t.Errorf("subscriber %d on %s diverges from subscriber 0 on %s at position %d", i, s.n.name, subs[0].n.name, at)
		}
	}
}

// filterIn keeps the ids of got that are in want, in got's order.
func filterIn(got, want []string) []string {
	set := make(map[string]bool, len(want))
	for _, w := range want {
		set[w] = true
	}
	var out []string
	for _, g := range got {
		if set[g] {
			out = append(out, g)
		}
	}
	return out
}

// TestCluster_REC_ResumeOnAnotherNodeWithLastEventID: a subscriber of node
// A reads some updates and disconnects; more are published through node
// B; it reconnects to node C with its last id, in the header and in each
// query spelling, and receives exactly what it missed, in order.
func TestCluster_REC_ResumeOnAnotherNodeWithLastEventID(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOptions{})
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]
	tok := subscriberToken(t, "*")
	for _, spelling := range []string{"header", "last_event_id", "lastEventID", "lastEventId"} {
		t.Run(spelling, func(t *testing.T) {
			topic := "https://example.com/resume/" + spelling
			id := func(k int) string { return fmt.Sprintf("%s-%d", spelling, k) }
			s := a.subscribe(t, subOptions{topics: []string{topic}, tok: tok})
			for k := range 3 {
				a.mustPublish(t, plain(topic, id(k)))
			}
			seen := eventIDs(s.untilMarker(t, a))
			if !slices.Equal(seen, []string{id(0), id(1), id(2)}) {
				t.Fatalf("before the disconnect: %q", seen)
			}
			s.close()
			var missed []string
			for k := 3; k < 8; k++ {
				b.mustPublish(t, plain(topic, id(k)))
				missed = append(missed, id(k))
			}
			o := subOptions{topics: []string{topic}, tok: tok}
			if spelling == "header" {
				o.lastEventID = id(2)
			} else {
				o.query = url.Values{spelling: {id(2)}}
			}
			r := cn.subscribe(t, o)
			if got := r.header.Get("Last-Event-ID"); got != id(2) {
				t.Errorf("Last-Event-ID response header %q, want %q", got, id(2))
			}
			if got := eventIDs(r.untilMarker(t, b)); !slices.Equal(got, missed) {
				t.Errorf("resumed on C after %s: %q, want exactly %q", id(2), got, missed)
			}
		})
	}
}

// TestCluster_AZ_PrivateUpdatesOnlyToAuthorizedSubscribersLiveAndInReplay:
// on every node, a subscriber whose token covers the private topic
// receives private updates published through any node, live and when it
// resumes on another node; a subscriber of the same topics without that
// grant receives only the public ones, live and in replay.
func TestCluster_AZ_PrivateUpdatesOnlyToAuthorizedSubscribersLiveAndInReplay(t *testing.T) {
	t.Parallel()
	const (
		secret = "https://example.com/private/1"
		open   = "https://example.com/public/1"
	)
	c := startCluster(t, clusterOptions{})
	allowed := subscriberToken(t, secret, open, "https://example.com/markers/{n}")
	denied := subscriberToken(t, open, "https://example.com/markers/{n}")
	type pair struct{ yes, no *stream }
	var live []pair
	for _, n := range c.nodes {
		live = append(live, pair{
			yes: n.subscribe(t, subOptions{topics: []string{secret, open}, tok: allowed}),
			no:  n.subscribe(t, subOptions{topics: []string{secret, open}, tok: denied}),
		})
	}
	c.nodes[0].mustPublish(t, plain(open, "start"))
	var wantAll, wantPublic []string
	for i, n := range c.nodes {
		priv := fmt.Sprintf("private-%d", i)
		pub := fmt.Sprintf("public-%d", i)
		n.mustPublish(t, update{topics: []string{secret}, id: priv, data: "secret", private: true})
		n.mustPublish(t, plain(open, pub))
		wantAll = append(wantAll, priv, pub)
		wantPublic = append(wantPublic, pub)
	}
	for i, p := range live {
		if got := eventIDs(p.yes.untilMarker(t, c.nodes[(i+1)%3])); !slices.Equal(got, append([]string{"start"}, wantAll...)) {
			t.Errorf("authorized subscriber on %s received %q live", p.yes.n.name, got)
		}
		if got := eventIDs(p.no.untilMarker(t, c.nodes[(i+1)%3])); !slices.Equal(got, append([]string{"start"}, wantPublic...)) {
			t.Errorf("unauthorized subscriber on %s received %q live, want the public updates only", p.no.n.name, got)
		}
	}
	// Replay from "start", on every node (each resuming elsewhere than
	// where it published).
	for _, n := range c.nodes {
		yes := n.subscribe(t, subOptions{topics: []string{secret, open}, tok: allowed, lastEventID: "start"})
		if got := eventIDs(yes.untilMarker(t, n)); !slices.Equal(got, wantAll) {
			t.Errorf("authorized replay on %s: %q, want %q", n.name, got, wantAll)
		}
		no := n.subscribe(t, subOptions{topics: []string{secret, open}, tok: denied, lastEventID: "start"})
		if got := eventIDs(no.untilMarker(t, n)); !slices.Equal(got, wantPublic) {
			t.Errorf("unauthorized replay on %s: %q, want %q", n.name, got, wantPublic)
		}
	}
}
