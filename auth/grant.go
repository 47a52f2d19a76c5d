package auth

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Grant is what a verified token allows, whatever its dialect. A nil
// *Grant is an anonymous client: it may do nothing that needs a grant.
type Grant struct {
	// Modern is true for a draft-08 token (authorization_details or typ
	// at+jwt), false for a legacy `mercure` claim token.
	Modern bool
	// Expires is the token's exp; zero when it has none (legacy only).
	Expires time.Time
	// Publish and Subscribe are the matchers of the publish and subscribe
	// grants: draft-08 matchers for modern tokens, legacy selectors
	// (topic.TypeLegacy) for legacy ones.
	Publish   []*topic.Matcher
	Subscribe []*topic.Matcher
	// Payload is the legacy token-wide mercure.payload (nil if none). Modern
	// payloads are per detail: use PayloadFor.
	Payload json.RawMessage
	// Key is the key the signature was verified with.
	Key KeyRef

	// subscribeDetails are the modern subscribe details in token order, for
	// the payload selection of PAY-1.
	subscribeDetails []detail

	// The matchers indexed by their literal start (topic.Set), built on
	// first use: a grant of 100 patterns evaluates the one or two whose
	// start fits a topic. Publish and Subscribe must not change after that.
	sets   sync.Once
	pubSet *topic.Set
	subSet *topic.Set
}

func (g *Grant) buildSets() {
	g.pubSet, g.subSet = topic.NewSet(g.Publish), topic.NewSet(g.Subscribe)
}

// CanPublish reports whether the grant allows publishing to topic (AZ-1:
// the caller checks every topic of the update). Nil-safe.
func (g *Grant) CanPublish(topic string) bool {
	if g == nil {
		return false
	}
	g.sets.Do(g.buildSets)
	return g.decide(g.pubSet, len(g.Publish), false, topic)
}

// CanSubscribe reports whether some subscribe matcher matches some topic of
// an update (AZ-3, LEG-4): the grant may cover an alternate topic rather than
// the one the subscriber routes on. Nil-safe.
func (g *Grant) CanSubscribe(topics []string) bool {
	if g == nil {
		return false
	}
	g.sets.Do(g.buildSets)
	for _, t := range topics {
		if g.decide(g.subSet, len(g.Subscribe), true, t) {
			return true
		}
	}
	return false
}

// PayloadFor returns the payload to show for a subscription whose own
// matcher string is matcher. Modern (PAY-1): the payload of the first
// subscribe detail, in token order, one of whose topics matches matcher
// taken as a topic (a `*` topic therefore acts as the default); nil when
// that detail has no payload or none matches. Legacy: the token-wide
// payload (LEG-19). Nil-safe.
func (g *Grant) PayloadFor(matcher string) json.RawMessage {
	if g == nil {
		return nil
	}
	if !g.Modern {
		return g.Payload
	}
	for _, d := range g.subscribeDetails {
		for _, m := range d.matchers {
			if m.Match(matcher) {
				return d.payload
			}
		}
	}
	return nil
}

// Dialect is the dialect the token was judged by. Nil-safe (an anonymous
// client has none).
func (g *Grant) Dialect() Dialect {
	switch {
	case g == nil:
		return DialectUnknown
	case g.Modern:
		return DialectDraft08
	default:
		return DialectLegacy
	}
}

// DetailPayload is the payload one draft-08 subscribe detail grants, with
// the matchers of its topics.
type DetailPayload struct {
	Matchers []*topic.Matcher
	Payload  json.RawMessage
}

// SubscribePayloads lists, in token order, the payloads the draft-08
// subscribe details carry (PAY-1); details without one are left out. Nil
// for legacy grants, whose payload is Payload.
func (g *Grant) SubscribePayloads() []DetailPayload {
	if g == nil {
		return nil
	}
	var out []DetailPayload
	for _, d := range g.subscribeDetails {
		if d.payload != nil {
			out = append(out, DetailPayload{Matchers: d.matchers, Payload: d.payload})
		}
	}
	return out
}

// newModernGrant turns parsed details into a Grant.
func newModernGrant(details []detail, exp time.Time) *Grant {
	g := &Grant{Modern: true, Expires: exp}
	for _, d := range details {
		if d.publish {
			g.Publish = append(g.Publish, d.matchers...)
		}
		if d.subscribe {
			g.Subscribe = append(g.Subscribe, d.matchers...)
			g.subscribeDetails = append(g.subscribeDetails, d)
		}
	}
	return g
}
