//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
	"github.com/hermes-hub/hermes/spec-tests/internal/sseclient"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
)

// The package is Unix-only: it kills hubs and Redis with signals.

var hermesBin string

func TestMain(m *testing.M) {
	os.Exit(hubproc.RunTests(m, &hermesBin))
}

const (
	jwtSecret = "cluster-tests secret, 0123456789abcdef0123456789abcdef"
	// eventTimeout bounds each wait for something that must happen:
	// generous for -race on two shared cores, only paid on failure.
	eventTimeout = 30 * time.Second
	// testLease is the subscription lease of the nodes: short, so that a
	// dead node's subscriptions vanish quickly.
	testLease = 2 * time.Second
	// streamName is the Redis stream of every test (each has its own
	// server).
	streamName = "cluster"
)

// clusterOptions are what a test varies.
type clusterOptions struct {
	nodes int // 0: 3
	// noPersistence starts Redis without AOF: a restart comes back empty.
	noPersistence bool
	subscriptions bool
	// params are added to the transport URL (such as "size=20").
	params string
}

// cluster is one redis-server and the hermes nodes on it.
type cluster struct {
	redis *redistest.Server
	nodes []*node
}

// node is one hermes process.
type node struct {
	name   string
	proc   *hubproc.Proc
	base   string
	admin  string
	client *http.Client
}

func startCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	rs := redistest.Start(t, redistest.Options{NoPersistence: o.noPersistence})
	c := &cluster{redis: rs}
	for i := range o.nodes {
		c.nodes = append(c.nodes, startNode(t, rs, string(rune('A'+i)), o))
	}
	return c
}

func startNode(t testing.TB, rs *redistest.Server, name string, o clusterOptions) *node {
	t.Helper()
	params := "stream=" + streamName
	if o.params != "" {
		params += "&" + o.params
	}
	args := []string{"serve",
		"--addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0",
		"--transport", rs.URL(params),
		"--jwt-key", jwtSecret,
		"--heartbeat", "1s",
		"--shutdown-drain", "0s",
	}
	if o.subscriptions {
		args = append(args, "--subscriptions", "--lease", testLease.String())
	}
	p := hubproc.Start(t, hermesBin, hubproc.Options{LogOnFailure: true}, args...)
	n := &node{
		name:   name,
		proc:   p,
		base:   p.URL(),
		admin:  p.AdminURL(),
		client: sseclient.NewHTTPClient(),
	}
	t.Cleanup(n.client.CloseIdleConnections)
	return n
}

func (n *node) endpoint() string { return n.base + "/.well-known/mercure" }

// ---------------------------------------------------------------------------
// Tokens

var tokens = sseclient.Tokens{Key: []byte(jwtSecret)}

// token mints a legacy token; a nil slice leaves the claim out.
func token(t testing.TB, publish, subscribe []string) string {
	t.Helper()
	tok, err := tokens.Token(publish, subscribe)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func publisherToken(t testing.TB) string { return token(t, []string{"*"}, nil) }

func subscriberToken(t testing.TB, topics ...string) string { return token(t, nil, topics) }

// ---------------------------------------------------------------------------
// Publishing

type update struct {
	topics  []string
	id      string
	data    string
	private bool
}

// publish POSTs u and returns the status and the body. Safe from any
// goroutine.
func (n *node) publish(ctx context.Context, tok string, u update) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	status, body, err := sseclient.Publish(ctx, n.client, n.endpoint(), tok, sseclient.Update{Topics: u.topics, ID: u.id, Data: u.data, Private: u.private})
	if err != nil {
		return status, body, fmt.Errorf("on %s: %w", n.name, err)
	}
	return status, body, nil
}

func (n *node) mustPublish(t testing.TB, u update) {
	t.Helper()
	status, body, err := n.publish(context.Background(), publisherToken(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || body != u.id {
		t.Fatalf("publish %q on %s: status %d, body %q; want 200 and the id", u.id, n.name, status, body)
	}
}

func plain(topic, id string) update {
	return update{topics: []string{topic}, id: id, data: "data of " + id}
}

// ---------------------------------------------------------------------------
// Subscribing

type sseEvent = sseclient.Event

// stream is an open subscription on one node.
type stream struct {
	*sseclient.Stream
	n           *node
	header      http.Header
	markerTopic string
}

type subOptions struct {
	topics []string
	tok    string // "" : anonymous
	query  url.Values
	// lastEventID is sent as the Last-Event-ID header when not empty.
	lastEventID string
	// markerTopic reuses a marker topic (a stream resumed on another
	// node keeps its marker); "" makes a new one.
	markerTopic string
}

var markerSeq atomic.Uint64

func newMarkerTopic() string {
	return fmt.Sprintf("https://example.com/markers/%d", markerSeq.Add(1))
}

// subscribe opens a stream and returns once its headers arrived (a
// cursor-less subscriber is registered by then: what is published next
// reaches it).
func (n *node) subscribe(t testing.TB, o subOptions) *stream {
	t.Helper()
	marker := o.markerTopic
	if marker == "" {
		marker = newMarkerTopic()
	}
	st, err := sseclient.Subscribe(n.client, n.endpoint(), sseclient.Request{
		Topics:      append(slices.Clip(o.topics), marker),
		Token:       o.tok,
		Query:       o.query,
		LastEventID: o.lastEventID,
	}, eventTimeout)
	if err != nil {
		t.Fatalf("on %s: %v", n.name, err)
	}
	t.Cleanup(st.Close)
	return &stream{Stream: st, n: n, header: st.Header, markerTopic: marker}
}

func (s *stream) close() { s.Close() }

// next returns the next event; a stream that ended (an error wrapping
// sseclient.ErrEnded) or nothing within eventTimeout is an error.
func (s *stream) next() (sseEvent, error) {
	ev, ok, err := s.Next(eventTimeout)
	if err != nil {
		return sseEvent{}, fmt.Errorf("on %s: %w", s.n.name, err)
	}
	if !ok {
		return sseEvent{}, fmt.Errorf("no event on %s within %v", s.n.name, eventTimeout)
	}
	return ev, nil
}

func (s *stream) mustNext(t testing.TB) sseEvent {
	t.Helper()
	ev, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// untilMarker publishes a marker on the stream's own topic through pub
// and returns everything that arrives before it: the stream is ordered,
// so whatever was going to be delivered before the marker has been.
func (s *stream) untilMarker(t testing.TB, pub *node) []sseEvent {
	t.Helper()
	marker := fmt.Sprintf("marker-%d", markerSeq.Add(1))
	pub.mustPublish(t, update{topics: []string{s.markerTopic}, id: marker, data: "marker"})
	return s.until(t, marker)
}

// until returns the events before the one with id.
func (s *stream) until(t testing.TB, id string) []sseEvent {
	t.Helper()
	got, err := s.Until(id, eventTimeout)
	if err != nil {
		t.Fatalf("on %s: %v", s.n.name, err)
	}
	return got
}

// ended waits for the stream to end and fails when an event comes
// instead, or nothing within eventTimeout.
func (s *stream) ended(t testing.TB) {
	t.Helper()
	for {
		ev, err := s.next()
		if errors.Is(err, sseclient.ErrEnded) {
			return
		}
		if err != nil {
			t.Fatalf("the stream on %s did not end: %v", s.n.name, err)
		}
		t.Logf("event %q on %s while waiting for the stream to end", ev.ID, s.n.name)
	}
}

func eventIDs(evs []sseEvent) []string { return sseclient.IDs(evs) }

// ---------------------------------------------------------------------------
// Polling

// eventually polls cond until it holds, failing after within.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// get fetches a URL with an optional bearer token.
func (n *node) get(t testing.TB, u, tok string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(b)
}
