package clients_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Topics of the tests; the hub never dereferences them.
const (
	bookTopic    = "https://example.com/books/1"
	bookTemplate = "https://example.com/books/{id}"
)

// subscribeURL builds a subscription URL from name, value pairs.
func subscribeURL(hubURL string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		q.Add(pairs[i], pairs[i+1])
	}
	return hubURL + "?" + q.Encode()
}

// TestLEG10_SymfonyPublishesToExactTopic publishes with Symfony's Hub and
// a StaticTokenProvider holding a `hermes token` JWT: the returned id is
// the one given, or the hub's urn:uuid when Update has none, and a
// subscriber of the exact topic gets both, with the type as event name.
func TestLEG10_SymfonyPublishesToExactTopic(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	sub := startNodeSub(t, "exact topic", nodeSubConfig{
		URL:   subscribeURL(hub.endpoint(), "topic", bookTopic),
		Types: []string{"book.updated"},
	})
	raw := openRawStream(t, subscribeURL(hub.endpoint(), "topic", bookTopic))
	sub.waitOpen(t, 1)

	pub := phpPublisher{Provider: "static", Token: cliToken(t, "--publish", "*")}
	got := mustSymfonyPublish(t, hub.endpoint(), pub,
		phpUpdate{Topics: []string{bookTopic}, Data: `{"title":"Dune"}`, ID: "urn:example:books-1-v1", Type: "book.updated", Retry: 1500},
		phpUpdate{Topics: []string{bookTopic}, Data: `{"title":"Dune Messiah"}`},
	)
	generated := got[1]
	if !strings.HasPrefix(generated, "urn:uuid:") {
		t.Fatalf("Hub::publish returned %q for an update without id, want the hub's urn:uuid:...", generated)
	}

	msgs := sub.waitMessages(t, "urn:example:books-1-v1", generated)
	if msgs[0].Type != "book.updated" || msgs[0].Data != `{"title":"Dune"}` {
		t.Errorf("first event: %v, want type book.updated and the data", msgs[0])
	}
	if msgs[1].Type != "message" || msgs[1].Data != `{"title":"Dune Messiah"}` {
		t.Errorf("second event: %v, want the default type and the data", msgs[1])
	}

	// EventSource hides the retry field; the stream shows Symfony's
	// Update retry arrived.
	block := raw.waitBlock(t, "urn:example:books-1-v1")
	for _, line := range []string{"event: book.updated", "retry: 1500", "data: {\"title\":\"Dune\"}"} {
		if !strings.Contains("\n"+block+"\n", "\n"+line+"\n") {
			t.Errorf("event block %q has no line %q", block, line)
		}
	}
}

// TestLEG3_SymfonySeveralTopicsReachTemplateSubscribers publishes one
// Update with two topics, with a FactoryTokenProvider whose token carries
// the fractional exp of Symfony's lcobucci tokens. Subscribers of a URI
// template matching the second topic and of the first topic get it; a
// subscriber of neither does not.
func TestLEG3_SymfonySeveralTopicsReachTemplateSubscribers(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	authors := startNodeSub(t, "author template", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", "https://example.com/authors/{id}")})
	book7 := startNodeSub(t, "book 7", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", "https://example.com/books/7")})
	book8 := startNodeSub(t, "book 8", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", "https://example.com/books/8")})
	for _, s := range []*nodeSub{authors, book7, book8} {
		s.waitOpen(t, 1)
	}

	run := symfonyPublish(t, hub.endpoint(), phpPublisher{Provider: "factory", Secret: jwtSecret, Publish: []string{"*"}},
		phpUpdate{Topics: []string{"https://example.com/books/7", "https://example.com/authors/3"}, Data: "two topics", ID: "two-topics"},
		phpUpdate{Topics: []string{"https://example.com/books/7", "https://example.com/books/8", "https://example.com/authors/9"}, Data: "marker", ID: "marker"},
	)
	requireFractionalExp(t, run.Token)
	for i, r := range run.Results {
		if !r.OK {
			t.Fatalf("update %d refused: status %d, %s", i, r.Status, r.Error)
		}
	}

	authors.waitMessages(t, "two-topics", "marker")
	book7.waitMessages(t, "two-topics", "marker")
	book8.waitMessages(t, "marker")
	if m := authors.message(t, "two-topics"); m.Data != "two topics" {
		t.Errorf("template subscriber got data %q", m.Data)
	}
}

// TestLEG4_SymfonyPrivateUpdateReachesOnlyAuthorizedSubscribers publishes a
// private Update (Symfony sends private=on) with a CallableTokenProvider.
// Only the subscriber whose Authorization header grants the topic gets it;
// one with a token for other topics and an anonymous one get the public
// update published after it, and nothing else.
func TestLEG4_SymfonyPrivateUpdateReachesOnlyAuthorizedSubscribers(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	topicParam := subscribeURL(hub.endpoint(), "topic", bookTemplate)
	authorized := startNodeSub(t, "authorized", nodeSubConfig{URL: topicParam, Token: mint(t, nil, []string{bookTemplate})})
	narrow := startNodeSub(t, "narrow token", nodeSubConfig{URL: topicParam, Token: mint(t, nil, []string{"https://example.com/authors/{id}"})})
	anonymous := startNodeSub(t, "anonymous", nodeSubConfig{URL: topicParam})
	for _, s := range []*nodeSub{authorized, narrow, anonymous} {
		s.waitOpen(t, 1)
	}

	pub := phpPublisher{Provider: "callable", Token: mint(t, []string{bookTemplate}, nil)}
	mustSymfonyPublish(t, hub.endpoint(), pub,
		phpUpdate{Topics: []string{bookTopic}, Data: "for authorized eyes", Private: true, ID: "private-1"},
		phpUpdate{Topics: []string{"https://example.com/books/2"}, Data: "for everyone", ID: "public-1"},
	)

	authorized.waitMessages(t, "private-1", "public-1")
	if m := authorized.message(t, "private-1"); m.Data != "for authorized eyes" {
		t.Errorf("private update data %q", m.Data)
	}
	narrow.waitMessages(t, "public-1")
	anonymous.waitMessages(t, "public-1")
}

// TestLEG8_LaravelBroadcasterPublishes publishes the way
// mvanduijker/laravel-mercure-broadcaster does: Symfony's Publisher with a
// closure returning an HS256 token {"mercure":{"publish":["*"]}} without
// exp, and the broadcast as JSON {"event": ..., "data": ...}, public or
// private (a private channel).
func TestLEG8_LaravelBroadcasterPublishes(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	topic := "https://example.com/users/7/direct-messages"
	authorized := startNodeSub(t, "authorized", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", topic), Token: mint(t, nil, []string{"https://example.com/users/7/{box}"})})
	anonymous := startNodeSub(t, "anonymous", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", topic)})
	authorized.waitOpen(t, 1)
	anonymous.waitOpen(t, 1)

	private := `{"event":"App\\Events\\DirectMessageCreated","data":{"text":"hi"}}`
	public := `{"event":"App\\Events\\NewsItemCreated","data":{"title":"news"}}`
	run := symfonyPublish(t, hub.endpoint(), phpPublisher{Provider: "laravel", Secret: jwtSecret},
		phpUpdate{Topics: []string{topic}, Data: private, Private: true},
		phpUpdate{Topics: []string{topic}, Data: public},
	)
	claims := jwtClaims(t, run.Token)
	if _, has := claims["exp"]; has || string(claims["mercure"]) != `{"publish":["*"]}` {
		t.Fatalf("the Laravel-style token has claims %v, want only mercure.publish [*]", claims)
	}
	var ids []string
	for i, r := range run.Results {
		if !r.OK || !strings.HasPrefix(r.ID, "urn:uuid:") {
			t.Fatalf("update %d: %+v, want accepted with a urn:uuid id", i, r)
		}
		ids = append(ids, r.ID)
	}
	authorized.waitMessages(t, ids...)
	anonymous.waitMessages(t, ids[1])
	if m := authorized.message(t, ids[0]); m.Data != private {
		t.Errorf("private broadcast data %q, want %q", m.Data, private)
	}
}

// multilineData are data values whose lines the hub splits into data:
// fields and EventSource joins back with LF: each must arrive exactly.
var multilineData = []string{
	"line one\nline two",
	"{\n  \"title\": \"Dune\",\n  \"tags\": [\"é\", \"✓\", \"日本語\"]\n}",
	"\nstarts with a newline and ends with one\n",
	"  indented: spaces and colons kept\n\n\nafter two blank lines",
	"data: not a field\nid: not an id\nevent: not a type\nretry: 1\n: not a comment",
	"",
}

// TestSSE2_SymfonyMultilineDataArrivesByteForByte publishes data with
// several lines, blank lines, leading spaces and text that looks like SSE
// fields; the eventsource package receives each value byte for byte.
func TestSSE2_SymfonyMultilineDataArrivesByteForByte(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	sub := startNodeSub(t, "multi-line", nodeSubConfig{URL: subscribeURL(hub.endpoint(), "topic", bookTopic)})
	sub.waitOpen(t, 1)

	var updates []phpUpdate
	var want []string
	for i, d := range multilineData {
		id := "multiline-" + string(rune('a'+i))
		updates = append(updates, phpUpdate{Topics: []string{bookTopic}, Data: d, ID: id})
		want = append(want, id)
	}
	mustSymfonyPublish(t, hub.endpoint(), phpPublisher{Provider: "static", Token: mint(t, []string{"*"}, nil)}, updates...)

	msgs := sub.waitMessages(t, want...)
	for i, m := range msgs {
		if m.Data != multilineData[i] {
			t.Errorf("event %s data %q, want %q", m.ID, m.Data, multilineData[i])
		}
	}
}

// TestLEG11_SymfonyRefusedPublishIsNotDelivered publishes with tokens the
// hub must refuse: one signed with another key (401), one granting other
// topics (403) and one granting only one of the update's two topics
// (403). Symfony reports each as an error, and no subscriber gets any of
// them, while a later accepted update arrives.
func TestLEG11_SymfonyRefusedPublishIsNotDelivered(t *testing.T) {
	needClients(t, "php", "node")
	hub := startHub(t, hubOptions{})
	topicParam := subscribeURL(hub.endpoint(), "topic", bookTemplate, "topic", "https://example.com/secret/{id}")
	everything := startNodeSub(t, "subscriber of everything", nodeSubConfig{URL: topicParam, Token: mint(t, nil, []string{"*"})})
	anonymous := startNodeSub(t, "anonymous", nodeSubConfig{URL: topicParam})
	everything.waitOpen(t, 1)
	anonymous.waitOpen(t, 1)

	refusals := []struct {
		name   string
		token  string
		topics []string
		status int
	}{
		{"token signed with another key", mintWith(t, "not the hub's secret, 0123456789abcdef", []string{"*"}, nil), []string{bookTopic}, http.StatusUnauthorized},
		{"token for other topics", mint(t, []string{"https://example.com/authors/{id}"}, nil), []string{bookTopic}, http.StatusForbidden},
		{"token for one topic of two", mint(t, []string{bookTemplate}, nil), []string{bookTopic, "https://example.com/secret/1"}, http.StatusForbidden},
		{"subscriber token", mint(t, nil, []string{"*"}), []string{bookTopic}, http.StatusForbidden},
	}
	for i, r := range refusals {
		for _, private := range []bool{false, true} {
			run := symfonyPublish(t, hub.endpoint(), phpPublisher{Provider: "static", Token: r.token},
				phpUpdate{Topics: r.topics, Data: "must not be delivered", Private: private, ID: "refused-" + string(rune('a'+i))})
			res := run.Results[0]
			if res.OK || res.Status != r.status {
				t.Errorf("%s (private %v): Symfony got ok=%v status %d (%s), want a refusal with %d", r.name, private, res.OK, res.Status, res.Error, r.status)
			}
		}
	}

	mustSymfonyPublish(t, hub.endpoint(), phpPublisher{Provider: "static", Token: mint(t, []string{"*"}, nil)},
		phpUpdate{Topics: []string{bookTopic}, Data: "accepted", ID: "accepted"})
	everything.waitMessages(t, "accepted")
	anonymous.waitMessages(t, "accepted")
}

// rawStream reads a subscription's SSE text, for fields EventSource does
// not expose.
type rawStream struct {
	*eventLog // one message per event block: ID and Data (the block)
}

// openRawStream subscribes with a plain HTTP GET and waits for the
// response headers, so that the subscription is live when it returns.
func openRawStream(t *testing.T, u string) *rawStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribing to %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("subscribing to %s: status %d", u, resp.StatusCode)
	}
	s := &rawStream{newEventLog("raw stream")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		var block []string
		id := ""
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if len(block) > 0 {
					s.add(clientEvent{Event: "message", ID: id, Data: strings.Join(block, "\n")})
				}
				block, id = nil, ""
				continue
			}
			if strings.HasPrefix(line, ":") {
				continue // heartbeats and the initial flush
			}
			block = append(block, line)
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// waitBlock returns the text of the event with the id.
func (s *rawStream) waitBlock(t *testing.T, id string) string {
	t.Helper()
	evs := s.waitFor(t, "event "+id, func(evs []clientEvent) bool {
		return count(evs, func(e clientEvent) bool { return e.ID == id }) > 0
	})
	for _, e := range evs {
		if e.ID == id {
			return e.Data
		}
	}
	return ""
}
