package hub

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
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
	h, err := New(Config{
		Transport:         memory.New(memory.Options{Size: 100}),
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
// event per subscription in each generation's shape, payload included.
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
	err := h.cfg.Transport.Replay(context.Background(), 0, h.cfg.Transport.LastSeq(), func(ev *transport.Event) error {
		var doc map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &doc); err != nil {
			return err
		}
		if !ev.Private || len(ev.Topics) != 1 || ev.Topics[0] != doc["id"] {
			t.Errorf("event %+v: want private, on its own document id", ev)
		}
		doc["event"] = ev.Type
		got = append(got, doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

	// A transport that refuses makes announce fail, so that the store
	// keeps the records for another try.
	if err := h.cfg.Transport.Close(); err != nil {
		t.Fatal(err)
	}
	store.pending <- [][]byte{b}
	if err := <-store.announced; err == nil {
		t.Error("announce reported success on a closed transport")
	}
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
