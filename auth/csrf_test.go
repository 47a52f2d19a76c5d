package auth

import (
	"net/http"
	"testing"
)

func publisherCookieRequest(t testing.TB, headers map[string]string) *http.Request {
	t.Helper()
	r := mustRequest(t, "POST", testURL)
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacyToken(t, pubSecret, `{"mercure":{"publish":["*"]}}`)})
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func TestCORS5_CookiePublishWithoutOriginRefused(t *testing.T) {
	a := newAuth(t)
	_, err := a.Authenticate(publisherCookieRequest(t, nil), Publisher)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
	// An unusable Referer counts as none.
	_, err = a.Authenticate(publisherCookieRequest(t, map[string]string{"Referer": "not a url"}), Publisher)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
}

func TestCORS5_CookiePublishFromListedOrigin(t *testing.T) {
	a := newAuth(t)
	for _, h := range []map[string]string{
		{"Origin": "https://app.test"},
		{"Origin": "HTTPS://APP.TEST"},
		{"Referer": "https://app.test/page?x=1"},
		{"Origin": "https://app.test", "Referer": "https://evil.test/"},
	} {
		mustGrant(t, a, publisherCookieRequest(t, h), Publisher)
	}
	for _, h := range []map[string]string{
		{"Origin": "https://evil.test"},
		{"Origin": "http://app.test"}, // scheme matters
		{"Origin": "https://app.test.evil.test"},
		{"Referer": "https://evil.test/https://app.test"},
		{"Origin": "null"},
		// Origin is authoritative when present; Referer does not rescue it.
		{"Origin": "https://evil.test", "Referer": "https://app.test/"},
	} {
		_, err := a.Authenticate(publisherCookieRequest(t, h), Publisher)
		authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
	}
}

func TestCORS4_PublishOriginWildcards(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.PublishOrigins = []string{"https://*.Example.com"} })
	for _, o := range []string{"https://a.example.com", "https://a.b.example.com"} {
		mustGrant(t, a, publisherCookieRequest(t, map[string]string{"Origin": o}), Publisher)
	}
	for _, o := range []string{"https://example.com", "http://a.example.com", "https://a.example.com.evil.test", "https://evil.test/.example.com"} {
		_, err := a.Authenticate(publisherCookieRequest(t, map[string]string{"Origin": o}), Publisher)
		authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
	}

	any := newAuth(t, func(c *Config) { c.PublishOrigins = []string{"*"} })
	mustGrant(t, any, publisherCookieRequest(t, map[string]string{"Origin": "https://whatever.test"}), Publisher)
	// "*" allows any origin that is sent, but none sent is still refused.
	_, err := any.Authenticate(publisherCookieRequest(t, nil), Publisher)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)

	if _, err := New(Config{PublishOrigins: []string{"https://*.*.e.com"}}); err == nil {
		t.Fatal("two wildcards accepted")
	}
}

func TestCORS4_NoPublishOriginsDisablesCookiePublishing(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.PublishOrigins = nil })
	_, err := a.Authenticate(publisherCookieRequest(t, map[string]string{"Origin": "https://app.test"}), Publisher)
	authErr(t, err, http.StatusBadRequest, CodeInvalidRequest)
}

func TestCORS4_OnlyCookiePublishesAreGuarded(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.PublishOrigins = nil })
	// A header-authenticated publish has no ambient credential to abuse.
	mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret, `{"mercure":{"publish":["*"]}}`)), Publisher)
	// Subscribing with a cookie needs no origin.
	r := mustRequest(t, "GET", testURL)
	r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: legacySubscriber(t)})
	mustGrant(t, a, r, Subscriber)
}
