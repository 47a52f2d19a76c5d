package hub

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

// openAuth grants every publisher everything and treats subscribers as
// anonymous: these tests are about delivery, not tokens.
type openAuth struct{ all *topic.Matcher }

func (a openAuth) Authenticate(r *http.Request, role auth.Role) (*auth.Grant, error) {
	if role == auth.Publisher {
		return &auth.Grant{Publish: []*topic.Matcher{a.all}}, nil
	}
	return nil, nil
}

func (a openAuth) ResourceID() string { return "http://hub.test" + Path }

// newTestHub serves an anonymous hub on a memory transport of size events
// that lets every request subscribe and publish to anything.
func newTestHub(t *testing.T, size int) (*Hub, *httptest.Server) {
	t.Helper()
	return newTestHubOn(t, memory.New(memory.Options{Size: size}))
}

// newTestHubOn is newTestHub on tr.
func newTestHubOn(t *testing.T, tr transport.Transport) (*Hub, *httptest.Server) {
	t.Helper()
	return serveHub(t, Config{
		Transport: tr,
		Auth:      openAuth{mustMatcher(t, topic.TypeLegacy, "*")},
		Anonymous: true,
		Heartbeat: -1,
	})
}

// serveHub starts a hub on cfg behind a test server; both are closed when
// the test ends (the hub first, as serve does).
func serveHub(t *testing.T, cfg Config) (*Hub, *httptest.Server) {
	t.Helper()
	return serveHubTimeouts(t, cfg, 10*time.Second, time.Minute)
}

// serveHubTimeouts is serveHub with the server's header and idle timeouts.
func serveHubTimeouts(t *testing.T, cfg Config, readHeader, idle time.Duration) (*Hub, *httptest.Server) {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	// As serve does: keep-alive publishers are taken over after their
	// first publish (h1publish.go), so every test that publishes twice on
	// a connection runs that path too.
	srv.Config.ReadHeaderTimeout, srv.Config.IdleTimeout = readHeader, idle
	srv.Listener = h.PublishListener(srv.Listener, readHeader, idle)
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		srv.Close()
	})
	return h, srv
}

func publishID(t testing.TB, srv *httptest.Server, topicName, id string) {
	resp, err := http.PostForm(srv.URL+Path, url.Values{"topic": {topicName}, "id": {id}, "data": {id}})
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("publish %s: %d", id, resp.StatusCode)
	}
}

// readIDs reads event ids from an SSE body until n arrived or the deadline.
func readIDs(t *testing.T, body io.Reader, n int, deadline time.Duration) []string {
	t.Helper()
	ids := make(chan string)
	go func() {
		defer close(ids)
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				ids <- id
			}
		}
	}()
	var got []string
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for len(got) < n {
		select {
		case id, ok := <-ids:
			if !ok {
				t.Fatalf("stream ended after %d of %d events", len(got), n)
			}
			got = append(got, id)
		case <-timer.C:
			t.Fatalf("only %d of %d events within %s", len(got), n, deadline)
		}
	}
	return got
}

// TestREC15_ReplayThenLiveWithoutGapOrDuplicate reconnects with a cursor far
// back in history while publishers keep going: the stream must carry every
// later event exactly once, in order, across the hand-off from history to
// live delivery.
func TestREC15_ReplayThenLiveWithoutGapOrDuplicate(t *testing.T) {
	const before, during = 2000, 500
	_, srv := newTestHub(t, 100000)
	for i := 0; i < before; i++ {
		publishID(t, srv, "t", fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for i := before; i < before+during; i++ {
			publishID(t, srv, "t", fmt.Sprint(i))
		}
	}()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+Path+"?topic=t", nil)
	req.Header.Set("Last-Event-ID", "99")
	close(start)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Mercure-Last-Event-ID"); got != "99" {
		t.Fatalf("Mercure-Last-Event-ID = %q, want 99", got)
	}
	want := before + during - 100
	ids := readIDs(t, resp.Body, want, 20*time.Second)
	wg.Wait()
	for i, id := range ids {
		if id != fmt.Sprint(100+i) {
			t.Fatalf("event %d is %s, want %d (gap or duplicate)", i, id, 100+i)
		}
	}
}

// TestSubscriberRegisteredBeforeHeaders: a client that publishes as soon as
// its stream's headers arrive must receive that update, every time.
func TestSubscriberRegisteredBeforeHeaders(t *testing.T) {
	_, srv := newTestHub(t, 1000)
	for i := 0; i < 50; i++ {
		resp, err := http.Get(srv.URL + Path + "?topic=t")
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprint("r", i)
		publishID(t, srv, "t", id)
		got := readIDs(t, resp.Body, 1, 5*time.Second)
		resp.Body.Close()
		if got[0] != id {
			t.Fatalf("round %d: got %s", i, got[0])
		}
	}
}
