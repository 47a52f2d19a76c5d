package clients_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tabsTopic is the topic tab i subscribes to besides allTopic.
func tabsTopic(i int) string { return fmt.Sprintf("https://example.com/tabs/%d", i) }

const allTopic = "https://example.com/all"

// publishHTTP publishes one update with net/http (faster than a PHP run
// per update, for tests that publish while tabs come and go).
func publishHTTP(t *testing.T, endpoint, token, topic, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"topic": {topic}, "id": {id}, "data": {"data of " + id}}.Encode()))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("publish %s: status %d", id, resp.StatusCode)
	}
}

var subscribersRE = regexp.MustCompile(`(?m)^hermes_subscribers (\S+)$`)

// subscribers reads the hub's hermes_subscribers gauge.
func subscribers(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := subscribersRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no hermes_subscribers in /metrics")
	}
	return string(m[1])
}

// waitSubscribers polls the gauge until it reads want.
func waitSubscribers(t *testing.T, admin, want string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := subscribers(t, admin)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hermes_subscribers = %s after %v, want %s", got, waitTimeout, want)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// waitExactly waits until l's messages are want, then checks that nothing
// else came: every update exactly once, in order, and only those of the
// tab's topics.
func waitExactly(t *testing.T, l *eventLog, want []string) {
	t.Helper()
	l.waitFor(t, fmt.Sprintf("%d updates", len(want)), func(evs []clientEvent) bool {
		return len(messages(evs)) >= len(want)
	})
	evs, _ := l.snapshot()
	if got := ids(messages(evs)); !slices.Equal(got, want) {
		t.Errorf("%s received %q, want exactly %q", l.name, got, want)
	}
}

// TestHermesJSTwelveTabsShareOneConnection opens 12 pages of one origin,
// each with a HermesEventSource on its own topic and a common one, over
// plain HTTP/1.1, where Chromium allows 6 connections per host: with one
// EventSource per tab the seventh would hang. All 12 open and receive
// exactly their updates while the hub counts one subscriber. Then, with
// updates published all along: a tab adds a topic (the shared stream is
// reopened from its cursor) and the tab holding the connection closes; the
// other tabs miss nothing and get nothing twice, and the hub is back to
// one subscriber. It runs with SharedWorker and, with SharedWorker removed
// from the pages, with a leader tab elected over Web Locks and
// BroadcastChannel.
func TestHermesJSTwelveTabsShareOneConnection(t *testing.T) {
	for _, c := range []struct {
		name           string
		noSharedWorker bool
		mode           string
	}{
		{"SharedWorker", false, "shared-worker"},
		{"LeaderTab", true, "leader"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testTwelveTabs(t, c.noSharedWorker, c.mode)
		})
	}
}

func testTwelveTabs(t *testing.T, noSharedWorker bool, mode string) {
	needClients(t, "node", "chromium")
	const tabs = 12
	app := newWebApp(t)
	hub := startHub(t, hubOptions{corsOrigins: []string{app.origin}, extra: []string{"--admin-addr", "127.0.0.1:0"}})
	admin := hub.proc.AdminURL()
	pub := mint(t, []string{"*"}, nil)
	b := startBrowser(t)

	name := func(i int) string { return fmt.Sprintf("tab%d", i) }
	logs := make([]*eventLog, tabs)
	for i := range tabs {
		app.setPage(name(i), pageConfig{Hub: hub.endpoint(), Subscriptions: []pageSub{
			{Name: "s", Client: "hermes", Topics: []string{tabsTopic(i), allTopic}},
		}})
		b.do(t, map[string]any{"open": app.pageURL(name(i)), "name": name(i), "noSharedWorker": noSharedWorker}, "opened")
		logs[i] = app.log(name(i), "s")
	}
	for i, l := range logs {
		l.waitOpen(t, 1)
		evs, _ := l.snapshot()
		if evs[0].Event != "mode" || evs[0].Message != mode {
			t.Fatalf("tab %d runs %v, want mode %s", i, evs[0], mode)
		}
	}
	waitSubscribers(t, admin, "1")

	// Each tab gets its own update and the common one, nothing else.
	want := make([][]string, tabs)
	for i := range tabs {
		publishHTTP(t, hub.endpoint(), pub, tabsTopic(i), fmt.Sprintf("own-%d", i))
	}
	publishHTTP(t, hub.endpoint(), pub, allTopic, "all-0")
	for i := range tabs {
		want[i] = []string{fmt.Sprintf("own-%d", i), "all-0"}
		waitExactly(t, logs[i], want[i])
	}

	// Updates on the common topic keep coming while the stream is reopened
	// twice.
	var mu sync.Mutex
	var published []string
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(published)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("all-%d", n)
			publishHTTP(t, hub.endpoint(), pub, allTopic, id)
			mu.Lock()
			published = append(published, id)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // pacing, so that updates span the reopenings
		}
	})
	// morePublished returns once n more updates went out.
	morePublished := func(n int) {
		t.Helper()
		target := count() + n
		deadline := time.Now().Add(waitTimeout)
		for count() < target {
			if time.Now().After(deadline) {
				t.Fatalf("the publisher is stuck at %d updates", count())
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	morePublished(3)

	// A tab adds a topic: the shared stream is reopened with it.
	b.eval(t, name(5), `(() => {
		window.extra = [];
		const es = new HermesEventSource({ hub: window.hermes.s.url, topics: ['https://example.com/extra'] });
		es.onmessage = (e) => window.extra.push(e.lastEventId);
		window.hermes.extra = es;
		return true;
	})()`)
	b.wait(t, name(5), `window.hermes.extra.readyState === 1`)
	publishHTTP(t, hub.endpoint(), pub, "https://example.com/extra", "extra-1")
	b.wait(t, name(5), `window.extra.length === 1 && window.extra[0] === 'extra-1'`)

	// The tab holding the connection closes (with SharedWorker, the worker
	// holds it: the first tab, which started the worker, closes).
	holder := 0
	if mode == "leader" {
		holder = -1
		for i := range tabs {
			if b.eval(t, name(i), `HermesEventSource.holdsConnection()`) == true {
				if holder >= 0 {
					t.Fatalf("tabs %d and %d both hold the connection", holder, i)
				}
				holder = i
			}
		}
		if holder < 0 {
			t.Fatal("no tab holds the connection")
		}
	}
	b.close(t, name(holder))
	morePublished(10) // some during the takeover, some after
	close(stop)
	wg.Wait()
	publishHTTP(t, hub.endpoint(), pub, allTopic, "all-last")
	published = append(published, "all-last")

	for i := range tabs {
		if i == holder {
			continue
		}
		waitExactly(t, logs[i], append(want[i], published...))
	}
	if mode == "leader" {
		n := 0
		for i := range tabs {
			if i != holder && b.eval(t, name(i), `HermesEventSource.holdsConnection()`) == true {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d tabs hold the connection after the takeover, want 1", n)
		}
	}
	waitSubscribers(t, admin, "1")
}
