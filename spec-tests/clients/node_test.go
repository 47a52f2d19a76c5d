package clients_test

import (
	"net/http"
	"testing"
)

// publisher is a Symfony publisher allowed to publish anywhere.
func publisher(t *testing.T) phpPublisher {
	t.Helper()
	return phpPublisher{Provider: "static", Token: mint(t, []string{"*"}, nil)}
}

// publishWhileAway stops hub, starts another hub on the same bolt file
// but another port, publishes the updates there with Symfony, stops it,
// and starts the hub again on its own port. Subscribers of the first hub
// therefore cannot have seen the updates live: they are only in history
// when the subscribers reconnect.
func publishWhileAway(t *testing.T, hub *hubProc, updates ...phpUpdate) *hubProc {
	t.Helper()
	hub.stop(t)
	o := hub.opts
	o.addr = "" // a free port nobody is subscribed to
	away := startHub(t, o)
	mustSymfonyPublish(t, away.endpoint(), publisher(t), updates...)
	away.stop(t)
	o.addr = hub.hostPort()
	return startHub(t, o)
}

// TestREC2_EventSourcePackageReconnectsWithLastEventIDAfterRestart
// subscribes with the eventsource package and an Authorization header.
// The hub stops; updates are published while it is away; it comes back on
// the same port. The package reconnects by itself with the Last-Event-ID
// header and its token, and gets what it missed from the bolt history,
// private updates included; a subscriber whose token does not grant them
// gets only the public ones (REC-7), then both get live updates.
func TestREC2_EventSourcePackageReconnectsWithLastEventIDAfterRestart(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	topicParam := subscribeURL(hub.endpoint(), "topic", bookTemplate)
	authorized := startNodeSub(t, "authorized", nodeSubConfig{URL: topicParam, Token: mint(t, nil, []string{bookTemplate})})
	public := startNodeSub(t, "public only", nodeSubConfig{URL: topicParam, Token: mint(t, nil, []string{"https://example.com/authors/{id}"})})
	authorized.waitOpen(t, 1)
	public.waitOpen(t, 1)

	mustSymfonyPublish(t, hub.endpoint(), publisher(t),
		// retry shortens the package's reconnection delay (3 s by default).
		phpUpdate{Topics: []string{bookTopic}, Data: "before", ID: "before-1", Retry: 200},
		phpUpdate{Topics: []string{bookTopic}, Data: "private before", ID: "before-2", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "public before", ID: "before-3"},
	)
	authorized.waitMessages(t, "before-1", "before-2", "before-3")
	public.waitMessages(t, "before-1", "before-3")

	hub = publishWhileAway(t, hub,
		phpUpdate{Topics: []string{bookTopic}, Data: "away", ID: "away-1"},
		phpUpdate{Topics: []string{"https://example.com/books/2"}, Data: "private away", ID: "away-2", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "public away", ID: "away-3"},
	)
	authorized.waitMessages(t, "before-1", "before-2", "before-3", "away-1", "away-2", "away-3")
	public.waitMessages(t, "before-1", "before-3", "away-1", "away-3")
	authorized.waitOpen(t, 2)

	mustSymfonyPublish(t, hub.endpoint(), publisher(t),
		phpUpdate{Topics: []string{bookTopic}, Data: "live private", ID: "after-1", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "live", ID: "after-2"},
	)
	authorized.waitMessages(t, "before-1", "before-2", "before-3", "away-1", "away-2", "away-3", "after-1", "after-2")
	public.waitMessages(t, "before-1", "before-3", "away-1", "away-3", "after-2")
	if m := authorized.message(t, "away-2"); m.Data != "private away" {
		t.Errorf("replayed private update data %q", m.Data)
	}
}

// TestLEG14_CursorQuerySpellings subscribes with the eventsource package
// with the cursor in each query spelling clients use: last_event_id
// (draft), lastEventID (reference hub 0.14+, Symfony's Twig helper),
// lastEventId (event-source-polyfill's default) and Last-Event-ID (old
// hubs). Each gets exactly the updates after the cursor, from history.
func TestLEG14_CursorQuerySpellings(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	mustSymfonyPublish(t, hub.endpoint(), publisher(t),
		phpUpdate{Topics: []string{bookTopic}, Data: "1", ID: "history-1"},
		phpUpdate{Topics: []string{bookTopic}, Data: "2", ID: "history-2"},
		phpUpdate{Topics: []string{"https://example.com/books/3"}, Data: "3", ID: "history-3"},
		phpUpdate{Topics: []string{bookTopic}, Data: "4", ID: "history-4"},
	)
	for _, param := range []string{"last_event_id", "lastEventID", "lastEventId", "Last-Event-ID"} {
		t.Run(param, func(t *testing.T) {
			sub := startNodeSub(t, param, nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", bookTemplate, param, "history-2")})
			sub.waitMessages(t, "history-3", "history-4")
		})
	}
	// The probe every spelling must differ from: without a cursor nothing
	// of history is sent, only live updates.
	t.Run("no cursor", func(t *testing.T) {
		sub := startNodeSub(t, "no cursor", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", bookTemplate)})
		sub.waitOpen(t, 1)
		mustSymfonyPublish(t, hub.endpoint(), publisher(t), phpUpdate{Topics: []string{bookTopic}, Data: "5", ID: "live-5"})
		sub.waitMessages(t, "live-5")
	})
}

// TestAUTH1_EventSourcePackageWithoutGrantGetsNoPrivateHistory replays
// history to a subscriber whose token grants nothing: the private
// updates stay out, and a bad token is refused rather than downgraded to
// anonymous (LEG-5).
func TestAUTH1_EventSourcePackageWithoutGrantGetsNoPrivateHistory(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	mustSymfonyPublish(t, hub.endpoint(), publisher(t),
		phpUpdate{Topics: []string{bookTopic}, Data: "private", ID: "h-private", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "public", ID: "h-public"},
	)
	anonymous := startNodeSub(t, "anonymous", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", bookTemplate, "lastEventID", "earliest")})
	anonymous.waitMessages(t, "h-public")

	forged := startNodeSub(t, "forged token", nodeSubConfig{
		URL:   subscribeURL(hub.endpoint(), "topic", bookTemplate, "lastEventID", "earliest"),
		Token: mintWith(t, "not the hub's secret, 0123456789abcdef", nil, []string{"*"}),
	})
	evs := forged.waitFor(t, "an error", func(evs []clientEvent) bool {
		return count(evs, func(e clientEvent) bool { return e.Event == "error" }) > 0
	})
	for _, e := range evs {
		if e.Event == "message" || e.Event == "open" {
			t.Fatalf("a forged token opened a stream: %v", describe(evs))
		}
	}
	if e := evs[len(evs)-1]; e.Code != http.StatusUnauthorized || e.ReadyState != 2 {
		t.Errorf("forged token: %v, want code 401 and the connection closed (readyState 2)", e)
	}
}
