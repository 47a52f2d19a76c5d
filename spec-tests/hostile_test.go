package spectests_test

// Hostile inputs: what a client may send to take the hub down, read what
// it must not, or lose data (issue 10). One section per finding; each test
// is named after the finding it guards and fails on the hub before the fix.

import (
	"net/http"
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
