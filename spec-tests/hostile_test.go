package spectests_test

// Hostile inputs: what a client may send to take the hub down, read what
// it must not, or lose data (issue 10). One section per finding; each test
// is named after the finding it guards and fails on the hub before the fix.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/hub"
)

// ---------------------------------------------------------------------------
// Finding 5: the audience of draft-08 tokens must never come from the
// client's Host header. A hub without a configured resource id refuses
// draft-08 tokens; challenges and the metadata document never reflect Host.

const otherHub = "other.example"

// TestHostile_AudienceFromHost_Finding5: a token issued by the same issuer
// for another hub is refused however the client sets Host, with or without
// a configured resource id, and whatever the Host, a hub without a
// resource id accepts no draft-08 token at all.
func TestHostile_AudienceFromHost_Finding5(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]Options{
		"no resource id":         {Anonymous: true, NoResourceID: true},
		"configured resource id": {Anonymous: true},
	} {
		t.Run(name, func(t *testing.T) {
			each(t, opts, func(t *testing.T, h *Harness) {
				forOther := func(c claims) claims { return with(c, "aud", "http://"+otherHub+hub.Path) }
				pub := h.signPub(modernHeader, forOther(h.modernClaims(detail([]string{"publish"}, "*"))))
				res := h.call(t, Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Token: pub, Host: otherHub})
				wantAuthError(t, res, http.StatusUnauthorized, "invalid_token", "publish with a token for another hub and Host: "+otherHub)

				// Private history must not be replayed to a token for another hub.
				h.publish(t, "topic", topicA, "data", "secret", "private", "on")
				sub := h.signSub(modernHeader, forOther(h.modernClaims(detail([]string{"subscribe"}, "*"))))
				res = h.call(t, Req{Query: "match=" + topicA + "&last_event_id=earliest", Token: sub, Host: otherHub, Method: http.MethodHead})
				wantAuthError(t, res, http.StatusUnauthorized, "invalid_token", "subscribe with a token for another hub and Host: "+otherHub)
			})
		})
	}
	// Without a resource id, even a token naming the hub's real URL is
	// refused: the hub has nothing a client cannot steer to compare with.
	each(t, Options{Anonymous: true, NoResourceID: true}, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.publishAs(t, h.modernPub("*"), "topic", topicA), http.StatusUnauthorized, "invalid_token", "draft-08 token, no resource id")
		// Legacy tokens carry no audience and keep working.
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", topicA), http.StatusOK, "legacy token, no resource id")
	})
}

// TestHostile_MetadataDoesNotReflectHost_Finding5: the cacheable metadata
// document and the resource_metadata of challenges name the configured
// resource, never the Host the client sent; without a resource id there is
// no document and no resource_metadata.
func TestHostile_MetadataDoesNotReflectHost_Finding5(t *testing.T) {
	t.Parallel()
	const rid = "https://hub.example/.well-known/mercure"
	each(t, Options{ResourceID: rid}, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Path: hub.MetadataPath, Host: otherHub})
		wantStatus(t, res, http.StatusOK, "metadata")
		if strings.Contains(res.Body, otherHub) || !strings.Contains(res.Body, `"resource":"`+rid+`"`) {
			t.Errorf("metadata with Host: %s: %s", otherHub, res.Body)
		}
		res = h.call(t, Req{Query: "match=" + topicA, Host: otherHub})
		if c := challenge(t, res); strings.Contains(c, otherHub) || !strings.Contains(c, `resource_metadata="https://hub.example`+hub.MetadataPath+`"`) {
			t.Errorf("challenge with Host: %s: %q", otherHub, c)
		}
	})
	each(t, Options{NoResourceID: true}, func(t *testing.T, h *Harness) {
		res := h.call(t, Req{Path: hub.MetadataPath, Host: otherHub})
		if res.Status == http.StatusOK || strings.Contains(res.Body, otherHub) {
			t.Errorf("metadata without a resource id: %d %s", res.Status, res.Body)
		}
		res = h.call(t, Req{Query: "match=" + topicA, Host: otherHub})
		if c := challenge(t, res); strings.Contains(c, otherHub) || strings.Contains(c, "resource_metadata") {
			t.Errorf("challenge without a resource id: %q", c)
		}
	})
}

// ---------------------------------------------------------------------------
// Finding 6: one normalisation of a topic for every matcher and grant.
// Legacy grants match the raw topic string, URL patterns the WHATWG-
// normalised URL, so a topic with dot segments could pass a legacy grant
// on one path and be delivered on another. The rule: a published topic
// (canonical or alternate) whose path has a dot segment, `.` or `..`,
// percent-encoded or not, is refused with 400 in both dialects. Every
// stored topic then means the same to both kinds of matcher.

// TestHostile_DotSegmentsInTopics_Finding6: a publisher granted bob's
// subtree cannot reach a subscriber of alice's inbox through `..`, in
// either dialect, and every spelling of a dot segment is refused.
func TestHostile_DotSegmentsInTopics_Finding6(t *testing.T) {
	t.Parallel()
	const (
		bobGrant   = "https://example.com/users/bob/{+rest}"
		aliceInbox = "https://example.com/users/alice/inbox"
	)
	escapes := []string{
		"https://example.com/users/bob/../alice/inbox",
		"https://example.com/users/bob/%2e%2e/alice/inbox",
		"https://example.com/users/bob/%2E%2E/alice/inbox",
		"https://example.com/users/bob/.%2e/alice/inbox",
		"https://example.com/users/bob/%2e./alice/inbox",
		"https://example.com/users/bob/..\\alice/inbox",
		"https://example.com/users/bob/./../alice/inbox",
		"https://example.com/users/bob/..",
	}
	each(t, anon, func(t *testing.T, h *Harness) {
		alice := h.subscribe(t, Req{
			Query: "match_urlpattern=" + url.QueryEscape("https://example.com/users/alice/*"),
			Token: h.modernSub(tm("https://example.com/users/alice/*", "urlpattern")),
		})
		legacyBob := h.legacyPub(bobGrant)
		modernBob := h.modernPub(tm("https://example.com/users/bob/*", "urlpattern"))
		for _, topic := range escapes {
			for dialect, tok := range map[string]string{"legacy": legacyBob, "draft-08": modernBob} {
				res := h.publishAs(t, tok, "topic", topic, "data", "forged", "private", "on")
				wantStatus(t, res, http.StatusBadRequest, dialect+" publish to "+topic)
				// As an alternate topic too.
				res = h.publishAs(t, tok, "topic", "https://example.com/users/bob/x", "topic", topic, "data", "forged", "private", "on")
				wantStatus(t, res, http.StatusBadRequest, dialect+" publish with alternate "+topic)
			}
		}
		// Dots inside a segment are no dot segment.
		for _, topic := range []string{"https://example.com/users/bob/a..b", "https://example.com/users/bob/.hidden", "https://example.com/users/bob/v1.2"} {
			wantStatus(t, h.publishAs(t, legacyBob, "topic", topic), http.StatusOK, "legacy publish to "+topic)
		}
		// The marker proves that nothing forged reached alice before it.
		marker := h.publish(t, "topic", aliceInbox, "data", "real", "private", "on")
		alice.expectIDs(t, marker)
	})
}

// ---------------------------------------------------------------------------
// Finding 9: small ones.

// TestHostile_RetryIsBounded_Finding9: a publisher scoped to one topic must
// not be able to stop its subscribers' clients from ever reconnecting: retry
// is at most a day in milliseconds.
func TestHostile_RetryIsBounded_Finding9(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", topicA, "retry", "86400000"), http.StatusOK, "retry of a day")
		for _, retry := range []string{"86400001", "4294967296", "18446744073709551615", "99999999999999999999999"} {
			wantStatus(t, h.publishAs(t, h.pubAll, "topic", topicA, "retry", retry), http.StatusBadRequest, "retry "+retry)
		}
	})
}

// TestHostile_OversizedTokenIsInvalidToken_Finding9: a token over the
// hub's limits, whether the byte size or the number of details, matchers or
// pattern length, is a 401 invalid_token (AD-6, ERR-3), not a 400.
func TestHostile_OversizedTokenIsInvalidToken_Finding9(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		many := make([]any, 101)
		for i := range many {
			many[i] = detail([]string{"publish"}, fmt.Sprintf("https://example.com/a-rather-long-topic-name/%d", i))
		}
		wantAuthError(t, h.pubWithDetails(t, many...), http.StatusUnauthorized, "invalid_token", "101 details over the byte limit")
		long := topicA + "/" + strings.Repeat("x", 20<<10)
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, long)), http.StatusUnauthorized, "invalid_token", "20 KiB pattern")
		res := h.call(t, Req{Query: "topic=" + topicA, Cookies: []*http.Cookie{{Name: "mercureAuthorization", Value: h.legacyPub(long)}}})
		wantAuthError(t, res, http.StatusUnauthorized, "invalid_token", "oversized cookie token")
	})
}
