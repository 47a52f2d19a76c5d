package auth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/hub/topic"
)

// detailsToken signs a subscriber token whose authorization_details are
// given as raw JSON.
func detailsToken(t testing.TB, detailsJSON string) string {
	t.Helper()
	c := modernClaims()
	c["authorization_details"] = json.RawMessage(detailsJSON)
	return modernToken(t, subSecret, c)
}

func TestAD1_OtherDetailTypesIgnored(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", detailsToken(t, `[
		{"type":"other","topics":"x","actions":42},
		{"type":"https://mercure.rocks/authorization-detail/","actions":[],"topics":[]},
		{"type":"HTTPS://MERCURE.ROCKS/authorization-detail","actions":["subscribe"],"topics":[{"match":"*"}]},
		{"actions":["subscribe"],"topics":[{"match":"*"}]},
		{"type":7,"actions":["subscribe"],"topics":[{"match":"*"}]},
		{"type":"https://mercure.rocks/authorization-detail","actions":["subscribe"],"topics":[{"match":"https://e.com/a"}]}
	]`)), Subscriber)
	if !g.CanSubscribe([]string{"https://e.com/a"}) {
		t.Fatal("the Mercure detail was not applied")
	}
	if g.CanSubscribe([]string{"https://e.com/b"}) {
		t.Fatal("a non-Mercure detail granted something")
	}
	// A non-object entry is not an authorization detail at all.
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t, `["x"]`)), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t, `[null]`)), Subscriber)
	// The claim itself must be an array.
	for _, v := range []string{`{}`, `null`, `"x"`, `1`} {
		mustInvalid(t, a, bearerRequest("GET", detailsToken(t, v)), Subscriber)
	}
}

func TestAD2_Actions(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", detailsToken(t,
		`[{"type":"`+DetailType+`","actions":["subscribe","future"],"topics":[{"match":"https://e.com/a"}]}]`)), Subscriber)
	if !g.CanSubscribe([]string{"https://e.com/a"}) || g.CanPublish("https://e.com/a") {
		t.Fatal("unknown action changed the grant")
	}
	g = mustGrant(t, a, bearerRequest("GET", detailsToken(t,
		`[{"type":"`+DetailType+`","actions":["future"],"topics":[{"match":"*"}]}]`)), Subscriber)
	if g.CanSubscribe([]string{"x"}) || g.CanPublish("x") {
		t.Fatal("a detail with only unknown actions granted something")
	}
	for _, actions := range []string{`[]`, `[1]`, `["subscribe",null]`, `"subscribe"`, `null`, `{}`} {
		tok := detailsToken(t, `[{"type":"`+DetailType+`","actions":`+actions+`,"topics":[{"match":"*"}]}]`)
		mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
	}
	// actions missing entirely.
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t, `[{"type":"`+DetailType+`","topics":[{"match":"*"}]}]`)), Subscriber)
	// Case matters: "Subscribe" is an unknown action.
	g = mustGrant(t, a, bearerRequest("GET", detailsToken(t,
		`[{"type":"`+DetailType+`","actions":["Subscribe"],"topics":[{"match":"*"}]}]`)), Subscriber)
	if g.CanSubscribe([]string{"x"}) {
		t.Fatal(`"Subscribe" granted subscribe`)
	}
}

func TestAD3_Topics(t *testing.T) {
	a := newAuth(t)
	for _, topics := range []string{`[]`, `["https://e.com/x"]`, `null`, `{"match":"x"}`, `"x"`} {
		mustInvalid(t, a, bearerRequest("GET", detailsToken(t,
			`[{"type":"`+DetailType+`","actions":["subscribe"],"topics":`+topics+`}]`)), Subscriber)
	}
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t,
		`[{"type":"`+DetailType+`","actions":["subscribe"]}]`)), Subscriber)
	// Keys are case-sensitive: "Topics" is not "topics".
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t,
		`[{"type":"`+DetailType+`","actions":["subscribe"],"Topics":[{"match":"*"}]}]`)), Subscriber)
}

func TestAD4_PayloadKept(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", detailsToken(t, `[
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"a"}],"payload":{"x":1}},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"b"}],"payload":"scalar"},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"c"}],"payload":null}
	]`)), Subscriber)
	for m, want := range map[string]string{"a": `{"x":1}`, "b": `"scalar"`, "c": ``} {
		if got := string(g.PayloadFor(m)); got != want {
			t.Errorf("PayloadFor(%q) = %q, want %q", m, got, want)
		}
	}
}

func TestAD5_GrantSemantics(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("POST", modernToken(t, pubSecret, modernClaims(
		ad(pub, exact("https://e.com/a")),
		ad([]string{"publish", "subscribe"}, urlpattern("https://e.com/books/:id")),
	))), Publisher)
	if !g.CanPublish("https://e.com/a") || !g.CanPublish("https://e.com/books/1") {
		t.Fatal("publish grants missing")
	}
	if g.CanPublish("https://e.com/b") || g.CanPublish("https://e.com/books/1/2") {
		t.Fatal("publish granted beyond the matchers")
	}
	if g.CanSubscribe([]string{"https://e.com/a"}) || !g.CanSubscribe([]string{"https://e.com/x", "https://e.com/books/7"}) {
		t.Fatal("subscribe grants wrong")
	}
	// No Mercure detail: a valid token that grants nothing.
	g = mustGrant(t, a, bearerRequest("GET", modernToken(t, subSecret, modernClaims())), Subscriber)
	if g.CanSubscribe([]string{"x"}) || g.CanPublish("x") || len(g.Publish)+len(g.Subscribe) != 0 {
		t.Fatal("empty details granted something")
	}
	// typ at+jwt without the claim at all: same.
	c := modernClaims()
	delete(c, "authorization_details")
	g = mustGrant(t, a, bearerRequest("GET", modernToken(t, subSecret, c)), Subscriber)
	if !g.Modern || g.CanSubscribe([]string{"x"}) {
		t.Fatal("token without details granted something")
	}
}

func TestAD6_Limits(t *testing.T) {
	a := newAuth(t)
	details := func(n, topicsEach int, pattern string) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"type":"` + DetailType + `","actions":["subscribe"],"topics":[`)
			for j := range topicsEach {
				if j > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"match":%q}`, pattern+fmt.Sprint(i, "-", j))
			}
			b.WriteString("]}")
		}
		b.WriteString("]")
		return b.String()
	}
	b := newAuth(t, func(c *Config) { c.MaxTokenBytes = 1 << 20 })
	mustGrant(t, b, bearerRequest("GET", detailsToken(t, details(100, 1, "t"))), Subscriber)
	mustInvalid(t, b, bearerRequest("GET", detailsToken(t, details(101, 1, "t"))), Subscriber)
	mustGrant(t, b, bearerRequest("GET", detailsToken(t, details(50, 2, "t"))), Subscriber)
	mustInvalid(t, b, bearerRequest("GET", detailsToken(t, details(3, 34, "t"))), Subscriber)                    // 102 matchers
	mustInvalid(t, b, bearerRequest("GET", detailsToken(t, details(1, 101, "t"))), Subscriber)                   // in one detail
	mustGrant(t, b, bearerRequest("GET", detailsToken(t, details(1, 1, strings.Repeat("p", 4093)))), Subscriber) // "p…0-0" = 4096 bytes
	mustInvalid(t, b, bearerRequest("GET", detailsToken(t, details(1, 1, strings.Repeat("p", 4094)))), Subscriber)
	// Other-type entries do not count against the Mercure limits.
	others := strings.TrimSuffix(details(100, 1, "t"), "]") + strings.Repeat(`,{"type":"other"}`, 200) + "]"
	mustGrant(t, b, bearerRequest("GET", detailsToken(t, others)), Subscriber)
	// One bad detail among good ones rejects the whole token.
	mustInvalid(t, a, bearerRequest("GET", detailsToken(t, `[
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"*"}]},
		{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":""}]}
	]`)), Subscriber)
}

func TestTML1_MatcherObjects(t *testing.T) {
	a := newAuth(t)
	g := mustGrant(t, a, bearerRequest("GET", detailsToken(t, `[{"type":"`+DetailType+`","actions":["subscribe"],"topics":[
		{"match":"https://e.com/books/:id"},
		{"match":"https://e.com/users/:id","match_type":"urlpattern"},
		{"match":"https://e.com/x","match_type":"exact","extra":true}
	]}]`)), Subscriber)
	if g.CanSubscribe([]string{"https://e.com/books/1"}) {
		t.Fatal("match_type absent must mean exact")
	}
	if !g.CanSubscribe([]string{"https://e.com/books/:id"}) || !g.CanSubscribe([]string{"https://e.com/users/9"}) || !g.CanSubscribe([]string{"https://e.com/x"}) {
		t.Fatal("matchers not applied")
	}
	if got := g.Subscribe[0].Type(); got != topic.TypeExact {
		t.Fatalf("default type %q", got)
	}
	for _, mt := range []string{``, `,"match_type":"exact"`, `,"match_type":"urlpattern"`} {
		g := mustGrant(t, a, bearerRequest("GET", detailsToken(t,
			`[{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"*"`+mt+`}]}]`)), Subscriber)
		if !g.CanSubscribe([]string{"https://anything.test/x"}) {
			t.Fatalf("* with %q is not the wildcard", mt)
		}
	}
}

func TestTML2_InvalidMatchersRejectToken(t *testing.T) {
	a := newAuth(t)
	for _, m := range []string{
		`{"match":"x","match_type":"Exact"}`,
		`{"match":"x","match_type":"legacy"}`,
		`{"match":"x","match_type":"uritemplate"}`,
		`{"match":"x","match_type":null}`,
		`{"match":"x","match_type":1}`,
		`{"match_type":"exact"}`,
		`{"match":null}`,
		`{"match":1}`,
		`{"match":""}`,
		`{"match":"https://e.com/(","match_type":"urlpattern"}`,
		`{"match":"https://e.com/\u0007"}`,
		`null`,
		`"x"`,
		`["x"]`,
	} {
		tok := detailsToken(t, `[{"type":"`+DetailType+`","actions":["subscribe"],"topics":[{"match":"*"},`+m+`]}]`)
		mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
	}
}

func TestParseAuthorizationDetailsDirect(t *testing.T) {
	ds, err := parseAuthorizationDetails(json.RawMessage(`[{"type":"`+DetailType+`","actions":["publish","subscribe"],"topics":[{"match":"a"},{"match":"b"}],"payload":{"k":"v"}}]`), topic.Options{Base: testHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || !ds[0].publish || !ds[0].subscribe || len(ds[0].matchers) != 2 || string(ds[0].payload) != `{"k":"v"}` {
		t.Fatalf("parsed %+v", ds)
	}
}
