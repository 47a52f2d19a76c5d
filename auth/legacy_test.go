package auth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPAY1_FirstMatchingSubscribeDetailPayload is the checklist's PAY-1
// scenario plus order and action rules.
func TestPAY1_FirstMatchingSubscribeDetailPayload(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", detailsToken(t, `[
		{"type":"`+DetailType+`","actions":["publish"],"topics":[{"match":"*"}],"payload":{"p":0}},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"https://e.com/foo"}],"payload":{"a":1}},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"https://e.com/bar/:id","match_type":"urlpattern"}],"payload":{"c":3}},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"*"}],"payload":{"b":2}},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"https://e.com/late"}],"payload":{"never":true}}
	]`)), Subscriber)
	for matcher, want := range map[string]string{
		"https://e.com/foo":    `{"a":1}`,
		"x":                    `{"b":2}`,
		"https://e.com/bar/42": `{"c":3}`,
		// The matcher string is taken as a topic: a urlpattern detail
		// matches the subscription made with the same pattern.
		"https://e.com/bar/:id": `{"c":3}`,
		// The * detail comes first: it masks later specific ones.
		"https://e.com/late": `{"b":2}`,
	} {
		if got := string(g.PayloadFor(matcher)); got != want {
			t.Errorf("PayloadFor(%q) = %s, want %s", matcher, got, want)
		}
	}
	// No subscribe detail matches: no payload, even with a legacy claim.
	c := modernClaims(ad(sub, exact("https://e.com/only")))
	c["mercure"] = map[string]any{"payload": map[string]any{"legacy": true}}
	g = mustGrant(t, a, bearerRequest("GET", modernToken(t, subSecret, c)), Subscriber)
	if p := g.PayloadFor("https://e.com/other"); p != nil {
		t.Errorf("unmatched matcher got payload %s", p)
	}
	var nilGrant *Grant
	if nilGrant.PayloadFor("x") != nil || nilGrant.CanPublish("x") || nilGrant.CanSubscribe([]string{"x"}) {
		t.Error("nil grant is not empty")
	}
}

func TestLEG19_LegacyPayloadIsTokenWide(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", legacyToken(t, subSecret,
		`{"mercure":{"subscribe":["https://e.com/a"],"payload":{"user":"u1","n":[1,2]}}}`)), Subscriber)
	for _, m := range []string{"https://e.com/a", "anything"} {
		if got := string(g.PayloadFor(m)); got != `{"user":"u1","n":[1,2]}` {
			t.Errorf("PayloadFor(%q) = %s", m, got)
		}
	}
	if string(g.Payload) != `{"user":"u1","n":[1,2]}` {
		t.Errorf("Payload = %s", g.Payload)
	}
}

func TestLEG8_LaravelTokenWithoutExpPublishes(t *testing.T) {
	a := newAuth(t)
	tok := legacyToken(t, pubSecret, `{"mercure":{"publish":["*"]}}`)
	g := mustGrant(t, a, bearerRequest("POST", tok), Publisher)
	if g.Modern || !g.Expires.IsZero() {
		t.Fatalf("grant %+v", g)
	}
	if !g.CanPublish("https://e.com/anything") || g.CanSubscribe([]string{"x"}) {
		t.Fatal("publish * not applied, or subscribe granted")
	}
	// No typ header at all is fine too, and no iss or aud is needed.
	tok = sign(t, "HS256", pubSecret, nil, `{"mercure":{"publish":["https://e.com/a"]},"aud":"https://elsewhere"}`)
	if g := mustGrant(t, a, bearerRequest("POST", tok), Publisher); !g.CanPublish("https://e.com/a") {
		t.Fatal("typ-less legacy token")
	}
}

func TestLEG8_ExpOnlyWhenPresent(t *testing.T) {
	a := newAuth(t)
	now := testNow.Unix()
	ok := map[string]string{
		"fractional exp":  fmt.Sprintf(`{"exp":%d.123,"mercure":{"publish":["*"]}}`, now+60),
		"numeric string":  fmt.Sprintf(`{"exp":"%d","mercure":{"publish":["*"]}}`, now+60),
		"fractional str":  fmt.Sprintf(`{"exp":"%d.5","mercure":{"publish":["*"]}}`, now+60),
		"exponent":        `{"exp":1.9e9,"mercure":{"publish":["*"]}}`,
		"null exp":        `{"exp":null,"mercure":{"publish":["*"]}}`,
		"fractional nbf":  fmt.Sprintf(`{"nbf":%d.5,"iat":%d.5,"mercure":{"publish":["*"]}}`, now-1, now-1),
		"huge exp":        `{"exp":1e300,"mercure":{"publish":["*"]}}`,
		"unexpected iss":  `{"iss":"whoever","mercure":{"publish":["*"]}}`,
		"aud array other": `{"aud":["x"],"mercure":{"publish":["*"]}}`,
	}
	for name, claims := range ok {
		if g := mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret, claims)), Publisher); !g.CanPublish("x") {
			t.Errorf("%s: no publish", name)
		}
	}
	g := mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret, ok["fractional exp"])), Publisher)
	if want := time.Unix(now+60, 123_000_000); !g.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", g.Expires, want)
	}
	bad := map[string]string{
		"expired":            fmt.Sprintf(`{"exp":%d,"mercure":{"publish":["*"]}}`, now-1),
		"expired now":        fmt.Sprintf(`{"exp":%d,"mercure":{"publish":["*"]}}`, now),
		"expired fractional": fmt.Sprintf(`{"exp":%d.999,"mercure":{"publish":["*"]}}`, now-1),
		"expired string":     fmt.Sprintf(`{"exp":"%d","mercure":{"publish":["*"]}}`, now-1),
		"nbf future":         fmt.Sprintf(`{"nbf":%d.5,"mercure":{"publish":["*"]}}`, now),
		"exp word":           `{"exp":"tomorrow","mercure":{"publish":["*"]}}`,
		"exp hex string":     `{"exp":"0x7fffffff","mercure":{"publish":["*"]}}`,
		"exp Inf string":     `{"exp":"Inf","mercure":{"publish":["*"]}}`,
		"exp object":         `{"exp":{},"mercure":{"publish":["*"]}}`,
		"exp bool":           `{"exp":true,"mercure":{"publish":["*"]}}`,
	}
	for name, claims := range bad {
		if reason := mustInvalid(t, a, bearerRequest("POST", legacyToken(t, pubSecret, claims)), Publisher); reason == "" {
			t.Errorf("%s: empty reason", name)
		}
	}
}

func TestLEG8_NamespacedClaimReplacesMercure(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret,
		`{"mercure":{"publish":["*"]},"https://mercure.rocks/":{"subscribe":["https://e.com/a"],"payload":"ns"}}`)), Publisher)
	if g.CanPublish("x") {
		t.Fatal("the short claim was merged instead of replaced")
	}
	if !g.CanSubscribe([]string{"https://e.com/a"}) || string(g.Payload) != `"ns"` {
		t.Fatal("the namespaced claim was not used")
	}
	// A null namespaced claim is absent: the short one applies.
	g = mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret,
		`{"mercure":{"publish":["*"]},"https://mercure.rocks/":null}`)), Publisher)
	if !g.CanPublish("x") {
		t.Fatal("null namespaced claim hid mercure")
	}
}

func TestLEG11_PublishKeyShapes(t *testing.T) {
	a := newAuth(t)
	for claims, canPublish := range map[string]bool{
		`{"mercure":{"subscribe":["*"]}}`: false, // no publish key
		`{"mercure":{"publish":[]}}`:      false, // [] grants nothing
		`{"mercure":{"publish":null}}`:    false,
		`{}`:                              false, // no mercure claim: valid, grants nothing
		`{"mercure":null}`:                false,
		`{"mercure":{"publish":["https://e.com/{id}"]}}`:        false, // template: x does not match
		`{"mercure":{"publish":["https://e.com/a","*"]}}`:       true,  // * among others
		`{"mercure":{"publish":["x"],"unknown":{"a":[1,2,3]}}}`: true,
	} {
		g := mustGrant(t, a, bearerRequest("POST", legacyToken(t, pubSecret, claims)), Publisher)
		if got := g.CanPublish("x"); got != canPublish {
			t.Errorf("%s: CanPublish = %v", claims, got)
		}
	}
}

func TestLEG8_ClaimShapeErrors(t *testing.T) {
	a := newAuth(t)
	many := `["` + strings.Repeat(`a","`, 1000) + `a"]` // 1001 entries
	for _, claims := range []string{
		`{"mercure":"x"}`,
		`{"mercure":[]}`,
		`{"mercure":{"publish":"*"}}`,
		`{"mercure":{"publish":[1]}}`,
		`{"mercure":{"publish":[null]}}`,
		`{"mercure":{"subscribe":{"a":1}}}`,
		`{"mercure":{"subscribe":` + many + `}}`,
		`{"mercure":{"publish":["` + strings.Repeat("a", MaxPatternBytes+1) + `"]}}`,
		`{"https://mercure.rocks/":"x","mercure":{"publish":["*"]}}`,
	} {
		r := bearerRequest("POST", legacyToken(t, pubSecret, claims))
		a2 := a
		if len(claims) > 4000 {
			a2 = newAuth(t, func(c *Config) { c.MaxTokenBytes = 1 << 20 })
		}
		mustInvalid(t, a2, r, Publisher)
	}
	// The 1000-entry limit itself is fine.
	ok := `["` + strings.Repeat(`a","`, 999) + `a"]`
	big := newAuth(t, func(c *Config) { c.MaxTokenBytes = 1 << 20 })
	mustGrant(t, big, bearerRequest("GET", legacyToken(t, subSecret, `{"mercure":{"subscribe":`+ok+`}}`)), Subscriber)
}

func TestLEG4_LegacySelectorsMatchTemplates(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", legacyToken(t, subSecret,
		`{"mercure":{"subscribe":["https://example.com/users/foo/{?topic}","https://e.com/books/{id}"]}}`)), Subscriber)
	if !g.CanSubscribe([]string{"https://example.com/books/1", "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"}) {
		t.Fatal("alternate topic through a template selector not granted")
	}
	if !g.CanSubscribe([]string{"https://e.com/books/1"}) || g.CanSubscribe([]string{"https://e.com/books/1/2"}) {
		t.Fatal("template selector semantics")
	}
	if g.CanSubscribe([]string{"https://example.com/books/1"}) {
		t.Fatal("granted beyond the selectors")
	}
}

func TestLegacyUnusableSelectorIsSkipped(t *testing.T) {
	a := newAuth(t)
	// A selector topic.Compile refuses (a control character) grants nothing
	// but does not fail a token 0.x hubs accepted.
	claims, _ := json.Marshal(map[string]any{"mercure": map[string]any{"subscribe": []string{"bad\x01", "https://e.com/a"}}})
	g := mustGrant(t, a, bearerRequest("GET", legacyToken(t, subSecret, string(claims))), Subscriber)
	if !g.CanSubscribe([]string{"https://e.com/a"}) || g.CanSubscribe([]string{"bad\x01"}) || len(g.Subscribe) != 1 {
		t.Fatalf("selectors %d", len(g.Subscribe))
	}
}
