//go:build unix

package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/internal/redistest"
	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
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
		name:  name,
		proc:  p,
		base:  p.URL(),
		admin: p.AdminURL(),
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     time.Minute,
		}},
	}
	t.Cleanup(n.client.CloseIdleConnections)
	return n
}

func (n *node) endpoint() string { return n.base + "/.well-known/mercure" }

// ---------------------------------------------------------------------------
// Tokens

var (
	tokenMu    sync.Mutex
	tokenCache = map[string]string{}
)

// token mints a legacy token; a nil slice leaves the claim out.
func token(t testing.TB, publish, subscribe []string) string {
	t.Helper()
	key := fmt.Sprintf("%q|%q|%v|%v", publish, subscribe, publish == nil, subscribe == nil)
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if tok, ok := tokenCache[key]; ok {
		return tok
	}
	tok, err := auth.Mint(auth.MintOptions{Key: []byte(jwtSecret), Publish: publish, Subscribe: subscribe})
	if err != nil {
		t.Fatalf("minting a token: %v", err)
	}
	tokenCache[key] = tok
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
	form := url.Values{}
	for _, tp := range u.topics {
		form.Add("topic", tp)
	}
	if u.id != "" {
		form.Set("id", u.id)
	}
	form.Set("data", u.data)
	if u.private {
		form.Set("private", "on")
	}
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("publish %s on %s: %w", u.id, n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("publish %s on %s: reading the answer: %w", u.id, n.name, err)
	}
	return resp.StatusCode, string(body), nil
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

type sseEvent struct{ ID, Type, Data string }

type sseItem struct {
	ev  sseEvent
	err error
}

// stream is an open subscription; a goroutine parses it into items.
type stream struct {
	n           *node
	header      http.Header
	markerTopic string
	items       chan sseItem
	cancel      context.CancelFunc
	quit        chan struct{}
	once        sync.Once
	finished    chan struct{}
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
	s := &stream{n: n, markerTopic: o.markerTopic, items: make(chan sseItem, 64), quit: make(chan struct{}), finished: make(chan struct{})}
	if s.markerTopic == "" {
		s.markerTopic = newMarkerTopic()
	}
	q := url.Values{}
	for _, tp := range o.topics {
		q.Add("topic", tp)
	}
	q.Add("topic", s.markerTopic)
	for k, vs := range o.query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.endpoint()+"?"+q.Encode(), nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.tok != "" {
		req.Header.Set("Authorization", "Bearer "+o.tok)
	}
	if o.lastEventID != "" {
		req.Header.Set("Last-Event-ID", o.lastEventID)
	}
	timer := time.AfterFunc(eventTimeout, cancel)
	resp, err := n.client.Do(req)
	timer.Stop()
	if err != nil {
		cancel()
		t.Fatalf("subscribe on %s: %v", n.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe on %s: status %d (%s)", n.name, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	s.header = resp.Header
	go s.read(resp.Body)
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.once.Do(func() {
		close(s.quit)
		s.cancel()
	})
	<-s.finished
}

// read parses the event stream until it ends.
func (s *stream) read(body io.ReadCloser) {
	defer close(s.finished)
	defer body.Close()
	br := bufio.NewReaderSize(body, 64<<10)
	var ev sseEvent
	var data []string
	seen := false
	send := func(it sseItem) bool {
		select {
		case s.items <- it:
			return true
		case <-s.quit:
			return false
		}
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			send(sseItem{err: err})
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if seen {
				ev.Data = strings.Join(data, "\n")
				if !send(sseItem{ev: ev}) {
					return
				}
			}
			ev, data, seen = sseEvent{}, nil, false
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID, seen = value, true
			case "event":
				ev.Type, seen = value, true
			case "data":
				data, seen = append(data, value), true
			}
		}
	}
}

// errStreamEnded wraps the error that ended a stream.
var errStreamEnded = errors.New("the stream ended")

// next returns the next event; a stream that ended or nothing within
// eventTimeout is an error.
func (s *stream) next() (sseEvent, error) {
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case it := <-s.items:
		if it.err != nil {
			return sseEvent{}, fmt.Errorf("%w on %s: %v", errStreamEnded, s.n.name, it.err)
		}
		return it.ev, nil
	case <-timer.C:
		return sseEvent{}, fmt.Errorf("no event on %s within %v", s.n.name, eventTimeout)
	}
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
	var got []sseEvent
	for {
		ev := s.mustNext(t)
		if ev.ID == id {
			return got
		}
		got = append(got, ev)
	}
}

// ended waits for the stream to end and fails when an event comes
// instead, or nothing within eventTimeout.
func (s *stream) ended(t testing.TB) {
	t.Helper()
	for {
		ev, err := s.next()
		if errors.Is(err, errStreamEnded) {
			return
		}
		if err != nil {
			t.Fatalf("the stream on %s did not end: %v", s.n.name, err)
		}
		t.Logf("event %q on %s while waiting for the stream to end", ev.ID, s.n.name)
	}
}

func eventIDs(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

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
