package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// decodePart decodes the header (0) or claims (1) of a compact JWS.
func decodePart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := b64dec(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMint_LegacyRoundTrip(t *testing.T) {
	a := newAuth(t)
	tok, err := Mint(MintOptions{Key: pubSecret, Publish: []string{"*"}, Subscribe: []string{"https://e.com/{id}"}, Payload: map[string]int{"n": 1}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if h := decodePart(t, tok, 0); h["typ"] != "JWT" || h["alg"] != "HS256" {
		t.Fatalf("header %v", h)
	}
	c := decodePart(t, tok, 1)
	if _, ok := c["exp"]; ok {
		t.Fatal("legacy token without TTL has an exp")
	}
	m, _ := c["mercure"].(map[string]any)
	if m == nil || m["publish"] == nil || m["subscribe"] == nil || m["payload"] == nil {
		t.Fatalf("claims %v", c)
	}
	g := mustGrant(t, a, bearerRequest("POST", tok), Publisher)
	if g.Modern || !g.CanPublish("https://x.test/y") || !g.CanSubscribe([]string{"https://e.com/5"}) || string(g.Payload) != `{"n":1}` {
		t.Fatalf("grant %+v", g)
	}

	// A nil Publish leaves the key out; an empty one writes [].
	tok, _ = Mint(MintOptions{Key: pubSecret, Subscribe: []string{}, TTL: time.Minute, Now: fixedNow})
	c = decodePart(t, tok, 1)
	m = c["mercure"].(map[string]any)
	if _, ok := m["publish"]; ok {
		t.Fatal("nil publish written")
	}
	if s, ok := m["subscribe"].([]any); !ok || len(s) != 0 {
		t.Fatalf("empty subscribe: %v", m["subscribe"])
	}
	if c["exp"] != float64(testNow.Unix()+60) {
		t.Fatalf("exp %v", c["exp"])
	}
	// A negative TTL mints an expired token.
	tok, _ = Mint(MintOptions{Key: pubSecret, Publish: []string{"*"}, TTL: -time.Second, Now: fixedNow})
	mustInvalid(t, a, bearerRequest("POST", tok), Publisher)
}

func TestMint_ModernRoundTrip(t *testing.T) {
	a := newAuth(t)
	tok, err := Mint(MintOptions{
		Key: subSecret, Modern: true, Issuer: testIssuer, Audience: []string{testHub},
		Subscribe: []string{"https://e.com/books/:id", "*"}, MatchType: "urlpattern",
		Payload: map[string]string{"tenant": "t1"}, Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := decodePart(t, tok, 0); h["typ"] != "at+jwt" {
		t.Fatalf("header %v", h)
	}
	c := decodePart(t, tok, 1)
	for _, k := range []string{"iss", "aud", "exp", "iat", "jti", "sub", "client_id", "authorization_details"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if c["exp"] != float64(testNow.Add(time.Hour).Unix()) || c["client_id"] != testIssuer || !strings.HasPrefix(c["sub"].(string), "urn:uuid:") {
		t.Errorf("claims %v", c)
	}
	g := mustGrant(t, a, bearerRequest("GET", tok), Subscriber)
	if !g.Modern || !g.Expires.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("grant %+v", g)
	}
	if !g.CanSubscribe([]string{"https://e.com/books/3"}) || !g.CanSubscribe([]string{"anything"}) || g.CanPublish("x") {
		t.Fatal("grants wrong")
	}
	if got := string(g.PayloadFor("x")); got != `{"tenant":"t1"}` {
		t.Fatalf("payload %s", got)
	}

	// Publish, exact by default, several audiences.
	tok, err = Mint(MintOptions{Key: pubSecret, Modern: true, Issuer: testIssuer, Audience: []string{"x", testHub},
		Publish: []string{"https://e.com/a"}, Subject: "me", ClientID: "app", TTL: time.Minute, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	c = decodePart(t, tok, 1)
	if c["sub"] != "me" || c["client_id"] != "app" {
		t.Fatalf("claims %v", c)
	}
	g = mustGrant(t, a, bearerRequest("POST", tok), Publisher)
	if !g.CanPublish("https://e.com/a") || g.CanPublish("https://e.com/b") {
		t.Fatal("publish grant")
	}
	// A modern token in the legacy query parameter is refused.
	r := mustRequest(t, "POST", testURL+"?authorization="+tok)
	mustInvalid(t, a, r, Publisher)
}

func TestMint_PEMKeysRoundTrip(t *testing.T) {
	keys(t)
	for _, c := range []struct {
		priv, pub []byte
		alg, want string
	}{
		{rsaPrivPEM, rsaPubPEM, "", "RS256"},
		{rsaPKCS1PrivPEM, rsaPubPEM, "PS512", "PS512"},
		{ecPrivPEM, ecPubPEM, "", "ES256"},
		{edPrivPEM, edPubPEM, "", "EdDSA"},
	} {
		tok, err := Mint(MintOptions{Key: c.priv, Alg: c.alg, Publish: []string{"*"}, Now: fixedNow})
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		if h := decodePart(t, tok, 0); h["alg"] != c.want {
			t.Fatalf("alg %v, want %s", h["alg"], c.want)
		}
		a := newAuth(t, func(cfg *Config) { cfg.PublisherKey, cfg.PublisherAlg = c.pub, c.want })
		mustGrant(t, a, bearerRequest("POST", tok), Publisher)
	}
}

func TestMint_Errors(t *testing.T) {
	keys(t)
	for name, o := range map[string]MintOptions{
		"no key":               {Publish: []string{"*"}},
		"alg none":             {Key: pubSecret, Alg: "none"},
		"secret with RS256":    {Key: pubSecret, Alg: "RS256"},
		"PEM with HS256":       {Key: ecPrivPEM, Alg: "HS256"},
		"curve mismatch":       {Key: ecPrivPEM, Alg: "ES384"},
		"public key":           {Key: ecPubPEM},
		"modern without iss":   {Key: pubSecret, Modern: true, Audience: []string{testHub}},
		"modern without aud":   {Key: pubSecret, Modern: true, Issuer: testIssuer},
		"bad match type":       {Key: pubSecret, Modern: true, Issuer: testIssuer, Audience: []string{testHub}, MatchType: "Exact", Publish: []string{"a"}},
		"too many topics":      {Key: pubSecret, Modern: true, Issuer: testIssuer, Audience: []string{testHub}, Publish: make([]string, 101)},
		"empty topic":          {Key: pubSecret, Modern: true, Issuer: testIssuer, Audience: []string{testHub}, Publish: []string{""}},
		"payload no subscribe": {Key: pubSecret, Modern: true, Issuer: testIssuer, Audience: []string{testHub}, Payload: 1},
		"unmarshalable":        {Key: pubSecret, Payload: func() {}},
	} {
		if _, err := Mint(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
