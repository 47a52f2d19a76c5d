package auth

import (
	"net/http"
	"net/url"
	"testing"
)

func legacySubscriber(t testing.TB) string {
	return legacyToken(t, subSecret, `{"mercure":{"subscribe":["https://e.com/private"]}}`)
}

func modernSubscriber(t testing.TB) string {
	return modernToken(t, subSecret, modernClaims(ad(sub, exact("https://e.com/private"))))
}

func TestAUTH7_AccessTokenQueryParamIgnored(t *testing.T) {
	a := newAuth(t)
	for _, tok := range []string{modernSubscriber(t), legacySubscriber(t)} {
		r := mustRequest(t, "GET", testURL+"?match=p&access_token="+url.QueryEscape(tok))
		g, err := a.Authenticate(r, Subscriber)
		if g != nil || err != nil {
			t.Fatalf("access_token must be ignored: got %v, %v", g, err)
		}
	}
}

func TestAUTH9_HeaderWinsOverCookie(t *testing.T) {
	a := newAuth(t)
	// A valid header with a garbage cookie: the cookie is ignored.
	r := bearerRequest("GET", modernSubscriber(t))
	r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: "garbage"})
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: "garbage"})
	if g := mustGrant(t, a, r, Subscriber); !g.CanSubscribe([]string{"https://e.com/private"}) {
		t.Fatal("grant from the header not applied")
	}
	// A garbage header with a valid cookie: the header still wins.
	r = bearerRequest("GET", "garbage")
	r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: modernSubscriber(t)})
	mustInvalid(t, a, r, Subscriber)
	// A malformed header with a valid cookie: 400, no fallback.
	r = mustRequest(t, "GET", testURL)
	r.Header.Set("Authorization", "Basic xyz")
	r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: modernSubscriber(t)})
	_, err := a.Authenticate(r, Subscriber)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
	// A header also wins over the legacy query parameter.
	r = bearerRequest("GET", "garbage")
	r.URL.RawQuery = "authorization=" + legacySubscriber(t)
	mustInvalid(t, a, r, Subscriber)
}

func TestAUTH10_BearerSchemeCaseInsensitive(t *testing.T) {
	a := newAuth(t)
	tok := modernSubscriber(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		r := mustRequest(t, "GET", testURL)
		r.Header.Set("Authorization", scheme+" "+tok)
		mustGrant(t, a, r, Subscriber)
	}
	r := mustRequest(t, "GET", testURL)
	r.Header.Set("Authorization", "Basic xyz")
	_, err := a.Authenticate(r, Subscriber)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
}

func TestAUTH11_ModernCookie(t *testing.T) {
	a := newAuth(t)
	r := mustRequest(t, "GET", testURL+"?match=https://e.com/private")
	r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: modernSubscriber(t)})
	if g := mustGrant(t, a, r, Subscriber); !g.Modern || !g.CanSubscribe([]string{"https://e.com/private"}) {
		t.Fatalf("cookie grant: %+v", g)
	}
}

func TestLEG6_LegacyQueryParameter(t *testing.T) {
	a := newAuth(t)
	r := mustRequest(t, "GET", testURL+"?topic=p&authorization="+url.QueryEscape(legacySubscriber(t)))
	g := mustGrant(t, a, r, Subscriber)
	if g.Modern || !g.CanSubscribe([]string{"https://e.com/private"}) {
		t.Fatalf("legacy query token grant: %+v", g)
	}

	// A draft-08 token is refused there, not ignored (AUTH-7, LEG-5).
	r = mustRequest(t, "GET", testURL+"?match=p&authorization="+url.QueryEscape(modernSubscriber(t)))
	mustInvalid(t, a, r, Subscriber)

	// An invalid query token is never anonymous, and a cookie is no fallback.
	r = mustRequest(t, "GET", testURL+"?topic=p&authorization=garbage")
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacySubscriber(t)})
	mustInvalid(t, a, r, Subscriber)
}

func TestLEG6_LegacyCookie(t *testing.T) {
	a := newAuth(t)
	r := mustRequest(t, "GET", testURL+"?topic=p")
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacySubscriber(t)})
	if g := mustGrant(t, a, r, Subscriber); !g.CanSubscribe([]string{"https://e.com/private"}) {
		t.Fatal("legacy cookie grant not applied")
	}
}

func TestLEG6_CookieOrder(t *testing.T) {
	a := newAuth(t)
	// Both default cookies: mercureAuthorization comes first and wins,
	// even when it is the invalid one.
	r := mustRequest(t, "GET", testURL)
	r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: modernSubscriber(t)})
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: "stale"})
	reason := mustInvalid(t, a, r, Subscriber)
	if want := "cookie " + LegacyCookieName; len(reason) < len(want) || reason[:len(want)] != want {
		t.Fatalf("reason %q does not name the cookie", reason)
	}

	// An empty cookie is a deleted one: the next name is used.
	r = mustRequest(t, "GET", testURL)
	r.Header.Set("Cookie", LegacyCookieName+"=; "+ModernCookieName+"="+modernSubscriber(t))
	mustGrant(t, a, r, Subscriber)

	// Configured names replace the defaults, in their order.
	a = newAuth(t, func(c *Config) { c.CookieNames = []string{"custom", ModernCookieName} })
	r = mustRequest(t, "GET", testURL)
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: "ignored now"})
	r.AddCookie(&http.Cookie{Name: "custom", Value: legacySubscriber(t)})
	mustGrant(t, a, r, Subscriber)
	r = mustRequest(t, "GET", testURL)
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacySubscriber(t)})
	if g, err := a.Authenticate(r, Subscriber); g != nil || err != nil {
		t.Fatalf("an unconfigured cookie name was read: %v %v", g, err)
	}
}

func TestLEG5_InvalidTokenNeverAnonymous(t *testing.T) {
	a := newAuth(t)
	expired := legacyToken(t, subSecret, map[string]any{
		"exp":     testNow.Unix() - 10,
		"mercure": map[string]any{"subscribe": []string{"*"}},
	})
	for name, set := range map[string]func(r *http.Request){
		"expired cookie":        func(r *http.Request) { r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: expired}) },
		"garbage modern cookie": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: "x.y.z"}) },
		"expired header":        func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+expired) },
		"expired query":         func(r *http.Request) { r.URL.RawQuery = "topic=p&authorization=" + expired },
		"wrong-key cookie": func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacyToken(t, []byte("stale key of a former deployment"), `{"mercure":{}}`)})
		},
	} {
		r := mustRequest(t, "GET", testURL+"?topic=p")
		set(r)
		g, err := a.Authenticate(r, Subscriber)
		if g != nil || err == nil {
			t.Fatalf("%s: got %v, %v; want a 401", name, g, err)
		}
		authErr(t, err, http.StatusUnauthorized, CodeInvalidToken)
	}
	// No cookie at all: anonymous.
	if g, err := a.Authenticate(mustRequest(t, "GET", testURL+"?topic=p"), Subscriber); g != nil || err != nil {
		t.Fatalf("no token: %v %v", g, err)
	}
}

func TestTokenSizeLimit(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.MaxTokenBytes = 64 })
	long := legacySubscriber(t) // longer than 64 bytes
	for name, set := range map[string]func(r *http.Request){
		"header": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+long) },
		"query":  func(r *http.Request) { r.URL.RawQuery = "authorization=" + long },
		"cookie": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: long}) },
	} {
		r := mustRequest(t, "GET", testURL)
		set(r)
		_, err := a.Authenticate(r, Subscriber)
		// A token over the size limit is over the claim limits in all but
		// name: 401 invalid_token (AD-6), not a presentation error.
		if e := authErr(t, err, http.StatusUnauthorized, CodeInvalidToken); e.Rule != RuleTooLarge {
			t.Errorf("%s: rule %q, want %q", name, e.Rule, RuleTooLarge)
		}
	}
}
