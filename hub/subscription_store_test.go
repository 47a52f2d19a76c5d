package hub

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

// sharedStore is a SubscriptionStore that several test hubs share, with a
// switch that makes it unreachable, and a lease keeper driven by the test.
type sharedStore struct {
	mu      sync.Mutex
	records map[string][]byte
	down    bool

	// pending is what the keeper hands to announce next: the test puts
	// a dead node's records there.
	pending   chan [][]byte
	announced chan error
}

func newSharedStore() *sharedStore {
	return &sharedStore{records: map[string][]byte{}, pending: make(chan [][]byte), announced: make(chan error, 1)}
}

var errStoreDown = errors.New("store down")

func (s *sharedStore) Add(_ context.Context, id string, rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errStoreDown
	}
	s.records[id] = rec
	return nil
}

func (s *sharedStore) Remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errStoreDown
	}
	delete(s.records, id)
	return nil
}

func (s *sharedStore) List(context.Context) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errStoreDown
	}
	out := make([][]byte, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	return out, nil
}

func (s *sharedStore) Keep(ctx context.Context, announce func(context.Context, [][]byte, bool) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case recs := <-s.pending:
			s.announced <- announce(ctx, recs, false)
		}
	}
}

func (s *sharedStore) Close(context.Context) error { return nil }

func (s *sharedStore) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func newStoreHub(t *testing.T, store SubscriptionStore, grants grantAuth) (*Hub, *httptest.Server) {
	t.Helper()
	return newBusHub(t, memory.New(memory.Options{Size: 100}), store, grants)
}

// openStream subscribes with the token and returns a function that ends
// the stream.
func openStoreStream(t *testing.T, srv *httptest.Server, query, authorization string) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+Path+"?"+query, nil)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	stop := func() { cancel(); resp.Body.Close() }
	t.Cleanup(stop)
	return stop
}

func listModern(t *testing.T, srv *httptest.Server, authorization string) (int, []subscriptionDoc) {
	t.Helper()
	resp := apiGet(t, srv.URL+subscriptionsPath, authorization)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var doc subscriptionsDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, doc.Subscriptions
}

// The API of one node lists the subscribers of another node sharing its
// store, with their payloads, and stops listing them once they leave.
func TestAPI_SharedStoreListsEveryNodesSubscriptions(t *testing.T) {
	store := newSharedStore()
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*")}}
	grants := grantAuth{"Bearer all": all}
	_, a := newStoreHub(t, store, grants)
	_, b := newStoreHub(t, store, grants)

	stop := openStoreStream(t, b, "match=https://e.com/on-b", "Bearer all")
	openStoreStream(t, a, "match=https://e.com/on-a&topic=legacy", "Bearer all")
	for _, srv := range []*httptest.Server{a, b} {
		status, subs := listModern(t, srv, "Bearer all")
		if status != http.StatusOK || len(subs) != 2 || subs[0].Match != "https://e.com/on-b" || subs[1].Match != "https://e.com/on-a" {
			t.Fatalf("list: %d %+v, want on-b then on-a (oldest first)", status, subs)
		}
	}
	// The single resource of a subscriber of node b, asked of node a.
	onB := entryTopic(subscriptionEntry{Type: topic.TypeExact, Pattern: "https://e.com/on-b"}, "")
	status, subs := listModern(t, a, "Bearer all")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	one := apiGet(t, a.URL+onB+escapeSegment(subs[0].Subscriber), "Bearer all")
	if one.StatusCode != http.StatusOK {
		t.Errorf("single subscription of another node: %d, want 200", one.StatusCode)
	}

	stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, subs := listModern(t, a, "Bearer all")
		if len(subs) == 1 && subs[0].Match == "https://e.com/on-a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after b's subscriber left, a lists %+v", subs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An unreachable shared store makes the API answer 503, never an empty
// list that would read as "nobody is subscribed".
func TestAPI_UnreachableStoreIs503(t *testing.T) {
	store := newSharedStore()
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*")}}
	_, srv := newStoreHub(t, store, grantAuth{"Bearer all": all})
	store.setDown(true)
	if status, _ := listModern(t, srv, "Bearer all"); status != http.StatusServiceUnavailable {
		t.Errorf("store down: %d, want 503", status)
	}
	// A stream still opens: the store is not on the delivery path.
	openStoreStream(t, srv, "match=x", "Bearer all")
	store.setDown(false)
	if status, _ := listModern(t, srv, "Bearer all"); status != http.StatusOK {
		t.Errorf("store back: %d, want 200", status)
	}
}

// Records a leaser hands over (a dead node's) are announced as ended, one
// event per subscription in each generation's shape, payload included; as
// state (kept, dispatched), never stored in the history.
func TestEVT1_DeadNodesSubscriptionsAnnouncedEnded(t *testing.T) {
	store := newSharedStore()
	h, _ := newStoreHub(t, store, grantAuth{})
	rec := subscriptionRecord{Subscriber: "urn:uuid:dead", Since: 1, Entries: []subscriptionEntry{
		{Type: topic.TypeExact, Pattern: "https://e.com/x", Payload: json.RawMessage(`{"u":1}`)},
		{Type: topic.TypeLegacy, Pattern: "https://e.com/{y}"},
	}}
	b, _ := json.Marshal(rec)
	store.pending <- [][]byte{b}
	if err := <-store.announced; err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, ev := range keptEvents(h) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &doc); err != nil {
			t.Fatal(err)
		}
		if !ev.Private || len(ev.Topics) != 1 || ev.Topics[0] != doc["id"] {
			t.Errorf("event %+v: want private, on its own document id", ev)
		}
		doc["event"] = ev.Type
		got = append(got, doc)
	}
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	if got[0]["event"] != "mercure" || got[0]["active"] != false || got[0]["match"] != "https://e.com/x" || got[0]["subscriber"] != "urn:uuid:dead" {
		t.Errorf("modern end event %v", got[0])
	}
	if p, _ := got[0]["payload"].(map[string]any); p["u"] != float64(1) {
		t.Errorf("modern end event payload %v, want the recorded one", got[0]["payload"])
	}
	if got[1]["event"] != "" || got[1]["active"] != false || got[1]["topic"] != "https://e.com/{y}" || got[1]["@context"] != jsonLDContext {
		t.Errorf("legacy end event %v", got[1])
	}
	if n := h.cfg.Transport.LastSeq(); n != 0 {
		t.Errorf("the history holds %d events, want none (subscription events are state)", n)
	}
}

// ---------------------------------------------------------------------------
// Several nodes: subscription events on the transport's state channel

// stateBus joins the state channels of several test transports, as the
// Redis state stream joins nodes: a batch one member publishes reaches
// every other member, not the publisher.
type stateBus struct {
	mu      sync.Mutex
	members []*busTransport
}

// busTransport is a memory transport (its own history) with a state
// channel on a bus.
type busTransport struct {
	*memory.Transport
	bus       *stateBus
	state     chan []*transport.Event
	closed    bool // guarded by bus.mu
	fail      atomic.Bool
	published atomic.Int64 // events this member published
}

var _ transport.StateBroadcaster = (*busTransport)(nil)

func (b *stateBus) join() *busTransport {
	bt := &busTransport{Transport: memory.New(memory.Options{Size: 100}), bus: b, state: make(chan []*transport.Event, 1024)}
	b.mu.Lock()
	b.members = append(b.members, bt)
	b.mu.Unlock()
	return bt
}

func (bt *busTransport) PublishState(_ context.Context, evs []*transport.Event) error {
	if bt.fail.Load() {
		return errStoreDown
	}
	bt.bus.mu.Lock()
	defer bt.bus.mu.Unlock()
	if bt.closed {
		return transport.ErrClosed
	}
	bt.published.Add(int64(len(evs)))
	for _, m := range bt.bus.members {
		if m == bt || m.closed {
			continue
		}
		// What a receiver decodes: no Seq, no Frame, its own copy.
		batch := make([]*transport.Event, len(evs))
		for i, ev := range evs {
			c := *ev
			c.Seq, c.Frame = 0, nil
			batch[i] = &c
		}
		m.state <- batch
	}
	return nil
}

func (bt *busTransport) State() <-chan []*transport.Event { return bt.state }

func (bt *busTransport) Close() error {
	bt.bus.mu.Lock()
	if !bt.closed {
		bt.closed = true
		close(bt.state)
	}
	bt.bus.mu.Unlock()
	return bt.Transport.Close()
}

// newBusHub serves a hub with subscription events on tr and store; its
// client connections are cut before it closes, so that open streams do not
// hold up the drain.
func newBusHub(t *testing.T, tr transport.Transport, store SubscriptionStore, grants grantAuth) (*Hub, *httptest.Server) {
	t.Helper()
	h, err := New(Config{
		Transport:         tr,
		Auth:              grants,
		Subscriptions:     true,
		SubscriptionStore: store,
		Heartbeat:         -1,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		srv.Close()
	})
	return h, srv
}

// sseReader reads the events of a stream.
type sseReader struct {
	events chan sseTestEvent
}

type sseTestEvent struct{ id, typ, data string }

// listen opens a stream with the query and Last-Event-ID (when not
// empty) and parses its events.
func listen(t *testing.T, srv *httptest.Server, query, authorization, lastEventID string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+Path+"?"+query, nil)
	req.Header.Set("Authorization", authorization)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	r := &sseReader{events: make(chan sseTestEvent, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(r.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseTestEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" {
					ev.data = strings.Join(data, "\n")
					r.events <- ev
				}
				ev, data = sseTestEvent{}, nil
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return r
}

// next returns the next event, failing after a deadline.
func (r *sseReader) next(t *testing.T) sseTestEvent {
	t.Helper()
	select {
	case ev, ok := <-r.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sseTestEvent{}
}

// none fails if an event is already queued on r.
func (r *sseReader) none(t *testing.T, what string) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Errorf("%s: unexpected event %+v", what, ev)
	default:
	}
}

type eventDoc struct {
	Match  string `json:"match"`
	Active bool   `json:"active"`
}

func docOf(t *testing.T, ev sseTestEvent) eventDoc {
	t.Helper()
	var d eventDoc
	if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
		t.Fatalf("event %+v: %v", ev, err)
	}
	return d
}

// EVT-1 across nodes: a subscription opening and closing on node A is
// announced to listeners of A and of B, once each (A delivers its own, B
// receives them on the state channel), and neither history holds any of
// it. A listener of B resuming with the id of a subscription event gets
// the ones after it from B's kept state, A's events included.
func TestEVT1_SubscriptionEventsReachOtherNodesOnceWithoutHistory(t *testing.T) {
	bus := &stateBus{}
	trA, trB := bus.join(), bus.join()
	store := newSharedStore()
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*"), mustMatcher(t, topic.TypeURLPattern, "*://*/**")}}
	grants := grantAuth{"Bearer all": all}
	hA, a := newBusHub(t, trA, store, grants)
	hB, b := newBusHub(t, trB, store, grants)
	const watch = "match_urlpattern=*://*/.well-known/mercure/subscriptions/*/*/*"
	onA := listen(t, a, watch, "Bearer all", "")
	onA.next(t) // its own creation (EVT-1)
	// A's listener reaches B through the state channel, asynchronously: B
	// must have it before B's listener opens, or that listener would get
	// it too (an event that arrives after a registration is delivered).
	eventually(t, "A's listener announced on B", func() bool { return len(keptEvents(hB)) == 1 })
	onB := listen(t, b, watch, "Bearer all", "")
	// Each listener sees its own creation; A's sees B's too, through the
	// state channel.
	for _, l := range []*sseReader{onB, onA} {
		l.next(t)
	}

	stop := openStoreStream(t, a, "match=https://e.com/churn", "Bearer all")
	stop()
	for name, l := range map[string]*sseReader{"A": onA, "B": onB} {
		on, off := docOf(t, l.next(t)), docOf(t, l.next(t))
		if on.Match != "https://e.com/churn" || !on.Active || off.Match != "https://e.com/churn" || off.Active {
			t.Errorf("listener of %s: %+v then %+v, want the churn subscription on then off", name, on, off)
		}
	}
	// Exactly once: a marker subscription opened after the churn is the
	// next event each listener gets, nothing in between.
	openStoreStream(t, b, "match=https://e.com/marker", "Bearer all")
	for name, l := range map[string]*sseReader{"A": onA, "B": onB} {
		if d := docOf(t, l.next(t)); d.Match != "https://e.com/marker" {
			t.Errorf("listener of %s: %+v after the churn, want the marker (a churn event twice?)", name, d)
		}
	}
	for name, h := range map[string]*Hub{"A": hA, "B": hB} {
		if n := h.cfg.Transport.LastSeq(); n != 0 {
			t.Errorf("history of %s holds %d events, want none", name, n)
		}
	}

	// B resumes from the churn's creation event: its end follows (kept
	// by B although A emitted it), then the marker.
	var cursor string
	for _, ev := range keptEvents(hB) {
		if d := docOf(t, sseTestEvent{data: ev.Data}); d.Match == "https://e.com/churn" && d.Active {
			cursor = ev.ID
		}
	}
	if cursor == "" {
		t.Fatal("B keeps no creation event of A's churn subscription")
	}
	resumed := listen(t, b, watch, "Bearer all", cursor)
	if d := docOf(t, resumed.next(t)); d.Match != "https://e.com/churn" || d.Active {
		t.Errorf("resumed on B: %+v first, want the end of A's churn subscription", d)
	}
	if d := docOf(t, resumed.next(t)); d.Match != "https://e.com/marker" || !d.Active {
		t.Errorf("resumed on B: %+v second, want the marker", d)
	}
}

// A dead node's end events go out on the state channel; when that fails,
// nothing is emitted locally either and the announcement reports the
// error, so that the store keeps the records and a later round announces
// them, once on every node.
func TestEVT1_DeadNodesEndAnnouncedOnTheStateChannelOrRetried(t *testing.T) {
	bus := &stateBus{}
	trA, trB := bus.join(), bus.join()
	store := newSharedStore()
	hA, _ := newBusHub(t, trA, store, grantAuth{})
	hB, _ := newBusHub(t, trB, nil, grantAuth{})
	rec := subscriptionRecord{Subscriber: "urn:uuid:dead", Since: 1, Entries: []subscriptionEntry{{Type: topic.TypeExact, Pattern: "https://e.com/x"}}}
	b, _ := json.Marshal(rec)

	trA.fail.Store(true)
	store.pending <- [][]byte{b}
	if err := <-store.announced; err == nil {
		t.Error("announce reported success while the state channel failed")
	}
	if n := len(keptEvents(hA)); n != 0 {
		t.Errorf("after a failed announcement A emitted %d events, want none (the retry emits them)", n)
	}

	trA.fail.Store(false)
	store.pending <- [][]byte{b}
	if err := <-store.announced; err != nil {
		t.Fatal(err)
	}
	if n := len(keptEvents(hA)); n != 1 {
		t.Errorf("A keeps %d end events, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(keptEvents(hB)) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	if kept := keptEvents(hB); len(kept) != 1 || docOf(t, sseTestEvent{data: kept[0].Data}).Active {
		t.Errorf("B keeps %d events, want the one end event", len(kept))
	}
	if trA.published.Load() != 1 || hA.cfg.Transport.LastSeq() != 0 || hB.cfg.Transport.LastSeq() != 0 {
		t.Errorf("published %d on the state channel (want 1), histories hold %d and %d (want none)", trA.published.Load(), hA.cfg.Transport.LastSeq(), hB.cfg.Transport.LastSeq())
	}
}

// State events that do not have the shape of subscription events (a
// foreign writer on the state channel) are not delivered.
func TestStateChannelIgnoresWhatIsNotASubscriptionEvent(t *testing.T) {
	bus := &stateBus{}
	trA, trB := bus.join(), bus.join()
	all := &auth.Grant{Modern: true, Subscribe: []*topic.Matcher{mustMatcher(t, topic.TypeExact, "*"), mustMatcher(t, topic.TypeURLPattern, "*://*/**")}}
	_, _ = newBusHub(t, trA, nil, grantAuth{})
	hB, b := newBusHub(t, trB, nil, grantAuth{"Bearer all": all})
	// Listens to the forged event's topic and to subscription events.
	l := listen(t, b, "match=https://e.com/news&match_urlpattern=*://*/.well-known/mercure/subscriptions/*/*/*", "Bearer all", "")
	l.next(t) // its own two creation events
	l.next(t)
	forged := &transport.Event{ID: "forged", Topics: []string{"https://e.com/news"}, Data: "not state", Time: time.Now()}
	real, err := entryEvent("urn:uuid:x", subscriptionEntry{Type: topic.TypeExact, Pattern: "https://e.com/news"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := trA.PublishState(context.Background(), []*transport.Event{forged, real}); err != nil {
		t.Fatal(err)
	}
	// The real one arrives (a listener of the topic whose grant covers
	// it); the forged one never does, and is not kept.
	if ev := l.next(t); ev.id != real.ID {
		t.Errorf("got %+v, want the subscription event", ev)
	}
	for _, ev := range keptEvents(hB) {
		if ev.ID == "forged" {
			t.Error("the forged event is kept")
		}
	}
	l.none(t, "after the subscription event")
}

func TestRecordRoundTrip(t *testing.T) {
	m1, m2 := mustMatcher(t, topic.TypeURLPattern, "https://e.com/:id"), mustMatcher(t, topic.TypeLegacy, "a b")
	g := &auth.Grant{Payload: json.RawMessage(`{"a":[1,2]}`)}
	s := newSubscriber([]*topic.Matcher{m1, m2}, g, 1)
	b, err := json.Marshal(recordOf(s))
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{log: slog.New(slog.NewTextHandler(io.Discard, nil)), reg: newRegistry(0)}
	h.initOps()
	recs := h.decodeRecords([][]byte{b, []byte("not json"), []byte(`{"s":""}`)})
	if len(recs) != 1 {
		t.Fatalf("%d records decoded, want 1 (the unreadable ones skipped)", len(recs))
	}
	r := recs[0]
	if r.Subscriber != s.id || r.Since != s.since.UnixNano() || len(r.Entries) != 2 {
		t.Fatalf("record %+v", r)
	}
	for i, m := range []*topic.Matcher{m1, m2} {
		want, _ := subscriptionEvent(s, m, true)
		got, _ := entryEvent(r.Subscriber, r.Entries[i], true)
		if got.Data != want.Data || got.Type != want.Type || got.Topics[0] != want.Topics[0] {
			t.Errorf("entry %d: event from the record %+v, from the subscriber %+v", i, got, want)
		}
	}
}
