package clients_test

import (
	"net/http"
	"strings"
	"testing"
)

// bookUpdated is the Update type the pages listen for.
const bookUpdated = "book.updated"

// browserSetup starts a web app (another origin), a hub that allows the
// app's origin, the mercureAuthorization cookie Symfony's Authorization
// service builds for the app's page, and Chromium.
type browserSetup struct {
	app    *webApp
	hub    *hubProc
	cookie symfonyCookie
	b      *browser
}

func newBrowserSetup(t *testing.T) *browserSetup {
	t.Helper()
	needClients(t, "php", "node", "chromium")
	s := &browserSetup{app: newWebApp(t)}
	s.hub = startHub(t, hubOptions{corsOrigins: []string{s.app.origin}})
	s.cookie = symfonyAuthorizationCookie(t, s.hub.endpoint(), s.app.pageURL("main"), []string{bookTemplate})
	requireFractionalExp(t, s.cookie.Token)
	lower := strings.ToLower(s.cookie.SetCookie)
	for _, attr := range []string{"mercureauthorization=", "path=/.well-known/mercure", "httponly", "samesite=strict"} {
		if !strings.Contains(lower, attr) {
			t.Fatalf("Symfony's cookie %q lacks %q", s.cookie.SetCookie, attr)
		}
	}
	s.b = startBrowser(t)
	return s
}

// TestSUB12_BrowserClientsAcrossHubRestart opens, in a page on another
// origin, the browser's EventSource with withCredentials (authorized by
// Symfony's mercureAuthorization cookie), an EventSource without
// credentials (anonymous), event-source-polyfill and
// @microsoft/fetch-event-source (both with an Authorization header, so
// every request is preflighted). They receive public and private updates
// published with Symfony: types as event names, multi-line data byte for
// byte, private updates only where authorized. Then the hub stops, updates
// are published while it is away, and it restarts on the same port: each
// client reconnects by itself with its cursor (Last-Event-ID header for
// EventSource and fetch-event-source, the lastEventId query parameter for
// the polyfill) and gets what it missed from the bolt history.
func TestSUB12_BrowserClientsAcrossHubRestart(t *testing.T) {
	s := newBrowserSetup(t)
	token := mint(t, nil, []string{bookTemplate})
	types := []string{bookUpdated}
	s.app.setPage("main", pageConfig{
		Hub:       s.hub.endpoint(),
		setCookie: s.cookie.SetCookie,
		Subscriptions: []pageSub{
			{Name: "cookie", Client: "native", Topics: []string{bookTemplate}, WithCredentials: true, Types: types},
			{Name: "anonymous", Client: "native", Topics: []string{bookTemplate}, Types: types},
			{Name: "polyfill", Client: "polyfill", Topics: []string{bookTemplate}, Token: token, Types: types},
			{Name: "fetch", Client: "fetch", Topics: []string{bookTemplate}, Token: token, Types: types},
		},
	})
	s.b.open(t, "main", s.app.pageURL("main"))
	authorized := []*eventLog{s.app.log("main", "cookie"), s.app.log("main", "polyfill"), s.app.log("main", "fetch")}
	anonymous := s.app.log("main", "anonymous")
	all := append([]*eventLog{anonymous}, authorized...)
	for _, l := range all {
		l.waitOpen(t, 1)
	}

	// Before the restart: a typed update whose retry shortens the
	// reconnection delay, a private one, then multi-line data.
	updates := []phpUpdate{
		{Topics: []string{bookTopic}, Data: `{"title":"Dune"}`, ID: "typed", Type: bookUpdated, Retry: 300},
		{Topics: []string{"https://example.com/books/2"}, Data: "private before", ID: "private-before", Private: true},
	}
	wantAuthorized := []string{"typed", "private-before"}
	wantAnonymous := []string{"typed"}
	for i, d := range multilineData {
		id := "multiline-" + string(rune('a'+i))
		updates = append(updates, phpUpdate{Topics: []string{bookTopic}, Data: d, ID: id})
		wantAuthorized = append(wantAuthorized, id)
		wantAnonymous = append(wantAnonymous, id)
	}
	mustSymfonyPublish(t, s.hub.endpoint(), publisher(t), updates...)
	for _, l := range authorized {
		l.waitMessages(t, wantAuthorized...)
	}
	anonymous.waitMessages(t, wantAnonymous...)
	for _, l := range all {
		if m := l.message(t, "typed"); m.Type != bookUpdated || m.Data != `{"title":"Dune"}` {
			t.Errorf("%s: typed update arrived as %v, want event %q", l.name, m, bookUpdated)
		}
		for i, d := range multilineData {
			if l == s.app.log("main", "fetch") {
				d = fetchEventSourceData(d)
			}
			if m := l.message(t, "multiline-"+string(rune('a'+i))); m.Data != d || m.Type != "message" {
				t.Errorf("%s: %v, want data %q", l.name, m, d)
			}
		}
	}
	for _, l := range authorized {
		if m := l.message(t, "private-before"); m.Data != "private before" {
			t.Errorf("%s: private update %v", l.name, m)
		}
	}

	// The hub goes away; updates are published meanwhile.
	s.hub = publishWhileAway(t, s.hub,
		phpUpdate{Topics: []string{bookTopic}, Data: "public away", ID: "away-1"},
		phpUpdate{Topics: []string{"https://example.com/books/3"}, Data: "private away", ID: "away-2", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "line one\nline two, away", ID: "away-3", Type: bookUpdated},
	)
	wantAuthorized = append(wantAuthorized, "away-1", "away-2", "away-3")
	wantAnonymous = append(wantAnonymous, "away-1", "away-3")
	for _, l := range authorized {
		l.waitMessages(t, wantAuthorized...)
	}
	anonymous.waitMessages(t, wantAnonymous...)
	for _, l := range all {
		l.waitOpen(t, 2)
		if m := l.message(t, "away-3"); m.Type != bookUpdated || m.Data != "line one\nline two, away" {
			t.Errorf("%s: replayed %v", l.name, m)
		}
	}
	for _, l := range authorized {
		if m := l.message(t, "away-2"); m.Data != "private away" {
			t.Errorf("%s: replayed private %v", l.name, m)
		}
	}

	// Live again on the reconnected streams.
	mustSymfonyPublish(t, s.hub.endpoint(), publisher(t),
		phpUpdate{Topics: []string{bookTopic}, Data: "private live", ID: "live-1", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "public live", ID: "live-2"},
	)
	wantAuthorized = append(wantAuthorized, "live-1", "live-2")
	wantAnonymous = append(wantAnonymous, "live-2")
	for _, l := range authorized {
		l.waitMessages(t, wantAuthorized...)
	}
	anonymous.waitMessages(t, wantAnonymous...)
}

// TestCORS1_BrowserCredentialsFromAllowedOriginOnly opens the same
// subscriptions from the allowed origin and from another one, in one
// browser that holds the mercureAuthorization cookie. From the allowed
// origin, EventSource with credentials gets private updates and
// credentialed fetches (with and without an Authorization header, which
// needs a preflight) may read the stream. From the other origin, the hub
// sends no CORS headers: EventSource fails and stays closed, the
// polyfill's preflighted requests fail, fetch cannot read, and no update
// reaches the page.
func TestCORS1_BrowserCredentialsFromAllowedOriginOnly(t *testing.T) {
	s := newBrowserSetup(t)
	other := newWebApp(t)
	token := mint(t, nil, []string{bookTemplate})
	topics := []string{bookTemplate}
	s.app.setPage("main", pageConfig{
		Hub:           s.hub.endpoint(),
		setCookie:     s.cookie.SetCookie,
		Subscriptions: []pageSub{{Name: "cookie", Client: "native", Topics: topics, WithCredentials: true}},
		Probes:        []pageProbe{{Name: "probe-cookie", Topics: topics}, {Name: "probe-header", Topics: topics, Token: token}},
	})
	other.setPage("other", pageConfig{
		Hub: s.hub.endpoint(),
		Subscriptions: []pageSub{
			{Name: "cookie", Client: "native", Topics: topics, WithCredentials: true},
			{Name: "polyfill", Client: "polyfill", Topics: topics, Token: token},
		},
		Probes: []pageProbe{{Name: "probe-cookie", Topics: topics}, {Name: "probe-header", Topics: topics, Token: token}},
	})

	// The allowed page first: its response sets the cookie, which the
	// browser then also holds for the other page's requests to the hub.
	s.b.open(t, "main", s.app.pageURL("main"))
	allowed := s.app.log("main", "cookie")
	allowed.waitOpen(t, 1)
	for _, name := range []string{"probe-cookie", "probe-header"} {
		evs := s.app.log("main", name).waitFor(t, "probe result", func(evs []clientEvent) bool { return len(evs) > 0 })
		if p := evs[0]; !p.OK || p.Status != http.StatusOK {
			t.Errorf("allowed origin, %s: %v, want a readable 200", name, p)
		}
	}

	s.b.open(t, "other", other.pageURL("other"))
	refusedES := other.log("other", "cookie")
	evs := refusedES.waitFor(t, "an error", func(evs []clientEvent) bool {
		return count(evs, func(e clientEvent) bool { return e.Event == "error" }) > 0
	})
	if e := evs[len(evs)-1]; e.ReadyState != 2 {
		t.Errorf("other origin, EventSource: %v, want the connection failed (readyState 2, CLOSED)", e)
	}
	other.log("other", "polyfill").waitFor(t, "an error", func(evs []clientEvent) bool {
		return count(evs, func(e clientEvent) bool { return e.Event == "error" }) > 0
	})
	for _, name := range []string{"probe-cookie", "probe-header"} {
		evs := other.log("other", name).waitFor(t, "probe result", func(evs []clientEvent) bool { return len(evs) > 0 })
		if p := evs[0]; p.OK {
			t.Errorf("other origin, %s: the page could read the hub's response (%v)", name, p)
		}
	}

	mustSymfonyPublish(t, s.hub.endpoint(), publisher(t),
		phpUpdate{Topics: []string{bookTopic}, Data: "private", ID: "private-1", Private: true},
		phpUpdate{Topics: []string{bookTopic}, Data: "public", ID: "public-1"},
	)
	allowed.waitMessages(t, "private-1", "public-1")
	for _, sub := range []string{"cookie", "polyfill"} {
		got, _ := other.log("other", sub).snapshot()
		if n := len(messages(got)); n != 0 || count(got, func(e clientEvent) bool { return e.Event == "open" }) != 0 {
			t.Errorf("other origin, %s opened or received updates:\n%s", sub, describe(got))
		}
	}

	// The preflight a browser sends before a request with an
	// Authorization header, as the hub answers it to both origins.
	for _, c := range []struct {
		origin string
		allow  bool
	}{{s.app.origin, true}, {other.origin, false}} {
		req, err := http.NewRequest(http.MethodOptions, s.hub.endpoint()+"?topic="+bookTopic, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", c.origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		req.Header.Set("Access-Control-Request-Headers", "authorization,last-event-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
		if c.allow && (acao != c.origin || acac != "true" || !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization")) {
			t.Errorf("preflight from %s: status %d, headers %v; want the origin, credentials and authorization allowed", c.origin, resp.StatusCode, resp.Header)
		}
		if !c.allow && (acao != "" || acac != "") {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, Allow-Credentials %q; want none", c.origin, acao, acac)
		}
	}
}

// fetchEventSourceData is what @microsoft/fetch-event-source 2.0.1 makes
// of data: its parser joins data lines with "data ? data + '\n' + line :
// line", so empty lines at the start are lost ("\nx" becomes "x"). The
// hub sends them (EventSource, the polyfill and the eventsource package
// get them back); the test pins the library's behaviour so that a change
// on either side shows.
func fetchEventSourceData(d string) string {
	return strings.TrimLeft(d, "\n")
}
