package spectests_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/auth"
)

// Section 1.11 of the checklist: CORS and CSRF (CORS).

const (
	appOrigin  = "https://app.test"
	evilOrigin = "https://evil.test"
)

// headerList splits comma-separated header values into lower-cased items.
func headerList(hd http.Header, name string) []string {
	var out []string
	for _, v := range hd.Values(name) {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, strings.ToLower(item))
			}
		}
	}
	return out
}

func hasItem(list []string, item string) bool {
	for _, v := range list {
		if v == strings.ToLower(item) {
			return true
		}
	}
	return false
}

func TestCORS1_AllowedOriginGetsCredentialedCORSHeaders(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Query: q("match", topicA), Header: http.Header{"Origin": {appOrigin}}})
		hd := s.Resp.Header
		if got := hd.Get("Access-Control-Allow-Origin"); got != appOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, appOrigin)
		}
		if got := hd.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials %q, want true", got)
		}
		if !hasItem(headerList(hd, "Vary"), "Origin") {
			t.Errorf("Vary %q, want Origin", hd.Values("Vary"))
		}
		exposed := headerList(hd, "Access-Control-Expose-Headers")
		for _, name := range []string{"Link", "Last-Event-ID", "Mercure-Last-Event-ID"} {
			if !hasItem(exposed, name) {
				t.Errorf("Access-Control-Expose-Headers %q, want %s", exposed, name)
			}
		}
		id := h.publish(t, "topic", topicA)
		s.expectIDs(t, id)

		pub := h.call(t, Req{Method: http.MethodPost, Token: h.pubAll, Body: form("topic", topicA), ContentType: formType,
			Header: http.Header{"Origin": {appOrigin}}})
		wantStatus(t, pub, http.StatusOK, "cross-origin publish")
		if got := pub.Header.Get("Access-Control-Allow-Origin"); got != appOrigin {
			t.Errorf("publish: Access-Control-Allow-Origin %q, want %q", got, appOrigin)
		}
	})
}

func TestCORS1_OtherOriginsGetNoCORSHeaders(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		for _, origin := range []string{evilOrigin, "https://app.test.evil.test", "http://app.test", "null"} {
			s := h.subscribe(t, Req{Query: q("match", topicA), Header: http.Header{"Origin": {origin}}})
			if got := s.Resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Origin %s: Access-Control-Allow-Origin %q, want none", origin, got)
			}
			if got := s.Resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Origin %s: Access-Control-Allow-Credentials %q, want none", origin, got)
			}
			s.Close()
		}
	})
}

// CORS-2 as Hermes chose it: "*" allows any origin, never with credentials.
func TestCORS2_WildcardOriginHasNoCredentials(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{"*"}}, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Query: q("match", topicA), Header: http.Header{"Origin": {evilOrigin}}})
		acao := s.Resp.Header.Get("Access-Control-Allow-Origin")
		if acao != "*" && acao != evilOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want *", acao)
		}
		if got := s.Resp.Header.Get("Access-Control-Allow-Credentials"); got == "true" {
			t.Errorf("Access-Control-Allow-Credentials true together with a wildcard origin")
		}
	})
}

func TestCORS3_PreflightAllowsTheHeadersClientsSend(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		for _, method := range []string{http.MethodGet, http.MethodPost, methodQuery} {
			res := h.call(t, Req{Method: http.MethodOptions, Query: q("match", topicA), Header: http.Header{
				"Origin":                        {appOrigin},
				"Access-Control-Request-Method": {method},
				// Browsers send the names lower-cased, sorted, without spaces
				// (Fetch "CORS-unsafe request-header names").
				"Access-Control-Request-Headers": {"authorization,cache-control,last-event-id"},
			}})
			if res.Status != http.StatusOK && res.Status != http.StatusNoContent {
				t.Errorf("preflight %s: status %d, want 204 (or 200)", method, res.Status)
				continue
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != appOrigin {
				t.Errorf("preflight %s: Access-Control-Allow-Origin %q, want %q", method, got, appOrigin)
			}
			if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("preflight %s: Access-Control-Allow-Credentials %q, want true", method, got)
			}
			if !hasItem(headerList(res.Header, "Access-Control-Allow-Methods"), method) {
				t.Errorf("preflight %s: Access-Control-Allow-Methods %q", method, res.Header.Values("Access-Control-Allow-Methods"))
			}
			allowed := headerList(res.Header, "Access-Control-Allow-Headers")
			for _, name := range []string{"authorization", "last-event-id", "cache-control"} {
				if !hasItem(allowed, name) {
					t.Errorf("preflight %s: Access-Control-Allow-Headers %q, want %s", method, allowed, name)
				}
			}
		}
	})
}

func TestCORS3_PreflightFromOtherOriginIsNotAllowed(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Method: http.MethodOptions, Header: http.Header{
			"Origin":                        {evilOrigin},
			"Access-Control-Request-Method": {http.MethodGet},
		}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin %q for a foreign origin", got)
		}
	})
}

// pubWithCookie publishes topicA with the publisher token in the legacy
// cookie and the given extra headers.
func (h *Harness) pubWithCookie(t testing.TB, hd http.Header) Result {
	t.Helper()
	return h.call(t, Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Header: hd,
		Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: h.pubAll}}})
}

func TestCORS4_CookiePublishNeedsAnAllowedOrigin(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, CORSOrigins: []string{appOrigin}, PublishOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.pubWithCookie(t, http.Header{"Origin": {evilOrigin}}), http.StatusBadRequest, "invalid_request", "cookie publish from a foreign Origin")
		wantAuthError(t, h.pubWithCookie(t, http.Header{"Referer": {evilOrigin + "/page"}}), http.StatusBadRequest, "invalid_request", "cookie publish from a foreign Referer")
		wantStatus(t, h.pubWithCookie(t, http.Header{"Referer": {appOrigin + "/page?x=1"}}), http.StatusOK, "cookie publish with an allowed Referer")
		// Origin is preferred to Referer.
		wantAuthError(t, h.pubWithCookie(t, http.Header{"Origin": {evilOrigin}, "Referer": {appOrigin + "/"}}), http.StatusBadRequest, "invalid_request",
			"foreign Origin with an allowed Referer")
		// A header-authenticated publish needs no Origin at all.
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", topicA), http.StatusOK, "header publish without Origin")
	})
}

func TestCORS4_CookiePublishIsRefusedWithoutPublishOrigins(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.pubWithCookie(t, http.Header{"Origin": {h.Origin}}), http.StatusBadRequest, "invalid_request", "cookie publish, no publish origins configured")
	})
}

func TestCORS5_CookiePublishWithoutOriginOrRefererIs400(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, PublishOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", topicA))
		wantAuthError(t, h.pubWithCookie(t, nil), http.StatusBadRequest, "invalid_request", "cookie only, no Origin, no Referer")
		ok := h.pubWithCookie(t, http.Header{"Origin": {appOrigin}})
		wantStatus(t, ok, http.StatusOK, "cookie with an allowed Origin")
		s.expectIDs(t, ok.Body)
	})
}

func TestCORS5_CSRFCheckDoesNotApplyToSubscriptions(t *testing.T) {
	t.Parallel()
	each(t, Options{PublishOrigins: []string{appOrigin}}, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Query: q("match", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: h.legacySub(topicA)}}})
		private := h.publish(t, "topic", topicA, "private", "on")
		s.expectIDs(t, private)
	})
}
