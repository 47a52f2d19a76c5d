package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// at renders a Unix time as the Reasons do.
func at(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// unsigned builds a token from raw header and claims JSON with a dummy
// signature, for refusals that happen before the signature is checked.
func unsigned(header, claims string) string {
	return b64([]byte(header)) + "." + b64([]byte(claims)) + "." + b64([]byte("sig"))
}

// goodModern is a valid draft-08 subscriber token's claims.
func goodModern() map[string]any { return modernClaims(ad(sub, exact("https://e.com/a"))) }

// TestCheckReasons pins the Reason of every refusal rule to the text an
// operator reads in `hermes token check` and in the debug log: which rule,
// and the values involved.
func TestCheckReasons(t *testing.T) {
	keys(t)
	a := newAuth(t)
	expired := goodModern()
	expired["exp"] = testNow.Add(-3 * time.Hour).Unix()
	notYet := goodModern()
	notYet["nbf"] = testNow.Add(5 * time.Minute).Unix()
	noExp := goodModern()
	delete(noExp, "exp")
	stringExp := goodModern()
	stringExp["exp"] = "1800003600"
	wrongAud := goodModern()
	wrongAud["aud"] = "https://other.test/.well-known/mercure"
	wrongAuds := goodModern()
	wrongAuds["aud"] = []string{"https://a.test", "https://b.test"}
	noAud := goodModern()
	delete(noAud, "aud")
	badAudItem := goodModern()
	badAudItem["aud"] = []any{testHub, 7}
	wrongIss := goodModern()
	wrongIss["iss"] = "https://evil.test"
	noIss := goodModern()
	delete(noIss, "iss")
	numIss := goodModern()
	numIss["iss"] = 42
	badMatchType := modernClaims(ad(sub, exact("https://e.com/a"), map[string]any{"match": "https://e.com/b", "match_type": "Exact"}))
	noActions := modernClaims(map[string]any{"type": DetailType, "topics": []any{exact("x")}})
	noTopics := modernClaims(map[string]any{"type": DetailType, "actions": sub, "topics": []any{}})
	topicNotObject := modernClaims(ad(pub, "https://e.com/a"))
	legacyExpired := map[string]any{"mercure": map[string]any{"publish": []string{"*"}}, "exp": testNow.Add(-90 * time.Second).Unix()}

	cases := []struct {
		name   string
		role   Role
		token  string
		reason string
	}{
		{"signature", Subscriber, modernToken(t, []byte("another secret, not the hub's one"), goodModern()),
			"signature does not verify with the configured subscriber key (HS256)"},
		{"signature publisher", Publisher, legacyToken(t, subSecret, `{"mercure":{"publish":["*"]}}`),
			"signature does not verify with the configured publisher key (HS256)"},
		{"alg", Subscriber, sign(t, "RS256", rsaKey, modernHeader, goodModern()),
			"alg RS256 not allowed: the configured subscriber key is HS256"},
		{"alg other HMAC", Publisher, sign(t, "HS512", pubSecret, nil, `{}`),
			"alg HS512 not allowed: the configured publisher key is HS256"},
		{"alg none", Publisher, b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{}`)) + ".",
			"alg none not allowed: unsigned tokens are never accepted"},
		{"alg missing", Publisher, unsigned(`{"typ":"JWT"}`, `{}`), "header alg missing"},
		{"alg not a string", Publisher, unsigned(`{"alg":1}`, `{}`), "header alg 1 is not a string"},
		{"expired", Subscriber, modernToken(t, subSecret, expired),
			"expired at " + at(testNow.Unix()-3*3600)},
		{"expired legacy", Publisher, legacyToken(t, pubSecret, legacyExpired),
			"expired at " + at(testNow.Unix()-90)},
		{"not yet valid", Subscriber, modernToken(t, subSecret, notYet),
			"not valid yet: nbf is " + at(testNow.Unix()+300)},
		{"exp missing", Subscriber, modernToken(t, subSecret, noExp), "exp missing: draft-08 tokens must expire"},
		{"exp string", Subscriber, modernToken(t, subSecret, stringExp),
			`exp "1800003600" is not a NumericDate: a string, not a number of seconds`},
		{"audience", Subscriber, modernToken(t, subSecret, wrongAud),
			`aud "https://other.test/.well-known/mercure" does not contain the hub's resource id "` + testHub + `"`},
		{"audience array", Subscriber, modernToken(t, subSecret, wrongAuds),
			`aud ["https://a.test","https://b.test"] does not contain the hub's resource id "` + testHub + `"`},
		{"audience missing", Subscriber, modernToken(t, subSecret, noAud),
			`aud missing: draft-08 tokens must name the hub's resource id "` + testHub + `"`},
		{"audience item", Subscriber, modernToken(t, subSecret, badAudItem), "aud[1] 7 is not a string"},
		{"issuer", Subscriber, modernToken(t, subSecret, wrongIss),
			`iss "https://evil.test" is not the configured issuer "` + testIssuer + `"`},
		{"issuer missing", Subscriber, modernToken(t, subSecret, noIss),
			`iss missing: draft-08 tokens must carry the configured issuer "` + testIssuer + `"`},
		{"issuer not a string", Subscriber, modernToken(t, subSecret, numIss),
			`iss 42 is not a string: draft-08 tokens must carry the configured issuer "` + testIssuer + `"`},
		{"typ", Subscriber, sign(t, "HS256", subSecret, map[string]any{"typ": "JWT"}, goodModern()),
			"typ JWT: draft-08 tokens (with authorization_details) need typ at+jwt"},
		{"typ missing", Subscriber, sign(t, "HS256", subSecret, nil, goodModern()),
			"typ missing: draft-08 tokens (with authorization_details) need typ at+jwt"},
		{"typ not a string", Subscriber, sign(t, "HS256", subSecret, map[string]any{"typ": true}, goodModern()),
			"typ true: draft-08 tokens (with authorization_details) need typ at+jwt"},
		{"match_type", Subscriber, modernToken(t, subSecret, badMatchType),
			`authorization_details[0].topics[1]: match_type "Exact" is not supported (want "exact" or "urlpattern", case-sensitive)`},
		{"actions missing", Subscriber, modernToken(t, subSecret, noActions),
			`authorization_details[0].actions missing: a Mercure detail needs ["publish"] and/or ["subscribe"]`},
		{"topics empty", Subscriber, modernToken(t, subSecret, noTopics), "authorization_details[0].topics is empty"},
		{"topic not an object", Publisher, modernToken(t, pubSecret, topicNotObject),
			`authorization_details[0].topics[0]: "https://e.com/a" is not an object (want {"match": "...", "match_type": "exact"})`},
		{"legacy shape", Publisher, legacyToken(t, pubSecret, `{"mercure":{"publish":"*"}}`),
			`mercure.publish "*" is not an array of topic selectors`},
		{"legacy item", Subscriber, legacyToken(t, subSecret, `{"mercure":{"subscribe":["a",3]}}`),
			"mercure.subscribe[1] 3 is not a string"},
		{"legacy namespaced", Subscriber, legacyToken(t, subSecret, `{"https://mercure.rocks/":[]}`),
			`"https://mercure.rocks/" [] is not an object (want {"publish": [...], "subscribe": [...]})`},
		{"claims not an object", Subscriber, legacyToken(t, subSecret, `null`), "claims are not a JSON object"},
		{"crit", Subscriber, sign(t, "HS256", subSecret, map[string]any{"typ": "JWT", "crit": []string{"b64"}}, `{}`),
			`header crit ["b64"]: Hermes supports no JWS extensions`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := a.Check(context.Background(), tc.token, tc.role, testHub)
			if g != nil || err == nil {
				t.Fatalf("got grant %v, error %v; want a refusal", g, err)
			}
			if err.Status != http.StatusUnauthorized || err.Code != CodeInvalidToken {
				t.Errorf("got %d %q, want 401 invalid_token", err.Status, err.Code)
			}
			if err.Reason != tc.reason {
				t.Errorf("reason\n got %s\nwant %s", err.Reason, tc.reason)
			}
			if want := checkRules[tc.name]; err.Rule != want {
				t.Errorf("rule %q, want %q", err.Rule, want)
			}
		})
	}

	// A token that is not even a JWS still gets a reason naming the step.
	_, err := a.Check(context.Background(), "not.a.jwt", Subscriber, testHub)
	if err == nil || !strings.HasPrefix(err.Reason, "malformed: could not JSON decode header: ") {
		t.Errorf("malformed: %v", err)
	}
	_, err = a.Check(context.Background(), "a.b", Subscriber, testHub)
	if err == nil || err.Reason != "malformed: token contains an invalid number of segments" {
		t.Errorf("malformed: %v", err)
	}
}

// checkRules is the Rule each case of TestCheckReasons must carry.
var checkRules = map[string]Rule{
	"signature": RuleSignature, "signature publisher": RuleSignature,
	"alg": RuleAlg, "alg other HMAC": RuleAlg, "alg none": RuleAlg, "alg missing": RuleAlg, "alg not a string": RuleAlg,
	"expired": RuleExpired, "expired legacy": RuleExpired, "not yet valid": RuleNotYetValid,
	"exp missing": RuleTimeClaim, "exp string": RuleTimeClaim,
	"audience": RuleAudience, "audience array": RuleAudience, "audience missing": RuleAudience, "audience item": RuleAudience,
	"issuer": RuleIssuer, "issuer missing": RuleIssuer, "issuer not a string": RuleIssuer,
	"typ": RuleType, "typ missing": RuleType, "typ not a string": RuleType,
	"match_type": RuleClaims, "actions missing": RuleClaims, "topics empty": RuleClaims, "topic not an object": RuleClaims,
	"legacy shape": RuleClaims, "legacy item": RuleClaims, "legacy namespaced": RuleClaims,
	"claims not an object": RuleMalformed, "crit": RuleMalformed,
}

// TestCheckStructuredRefusal: besides the Reason, a refusal says which
// dialect the token was judged by, which key a signature failure concerns
// and when an expired token expired, as typed values.
func TestCheckStructuredRefusal(t *testing.T) {
	a := newAuth(t)
	ctx := context.Background()
	expired := goodModern()
	expired["exp"] = testNow.Add(-3 * time.Hour).Unix()
	_, err := a.Check(ctx, modernToken(t, subSecret, expired), Subscriber, testHub)
	if err == nil || err.Rule != RuleExpired || err.Dialect != DialectDraft08 || !err.At.Equal(testNow.Add(-3*time.Hour)) {
		t.Errorf("expired: %#v", err)
	}
	_, err = a.Check(ctx, legacyToken(t, []byte("not the key"), `{}`), Publisher, testHub)
	if err == nil || err.Rule != RuleSignature || err.Key == nil || err.Key.JWKS || err.Key.Alg != "HS256" {
		t.Errorf("signature: %#v", err)
	}
	_, err = a.Check(ctx, legacyToken(t, pubSecret, `{"mercure":{"publish":"*"}}`), Publisher, testHub)
	if err == nil || err.Rule != RuleClaims || err.Dialect != DialectLegacy {
		t.Errorf("legacy claims: %#v", err)
	}
	g, err := a.Check(ctx, modernToken(t, subSecret, goodModern()), Subscriber, testHub)
	if err != nil || g.Dialect() != DialectDraft08 || g.Key.JWKS || g.Key.Alg != "HS256" {
		t.Errorf("accepted: %v %+v", err, g)
	}
}

func TestCheckReasonWithoutIssuerOrKey(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.Issuer = ""; c.SubscriberKey = nil })
	_, err := a.Check(context.Background(), modernToken(t, pubSecret, goodModern()), Publisher, testHub)
	if err == nil || err.Reason != "draft-08 token refused: no issuer is configured, so the hub accepts legacy tokens only" {
		t.Errorf("no issuer: %v", err)
	}
	_, err = a.Check(context.Background(), legacyToken(t, subSecret, `{}`), Subscriber, testHub)
	if err == nil || err.Reason != "no key configured for subscriber tokens" {
		t.Errorf("no key: %v", err)
	}
}

func TestCheckReasonJWKS(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK(rsaKey, "rsa-1", "RS256"))
	a := jwksAuth(t, srv.URL, func(c *Config) { c.PublisherKey = pubSecret })
	ctx := context.Background()
	// kid present in the set, signature made by another key.
	_, err := a.Check(ctx, kidToken(t, "RS256", rsaKey2, "rsa-1"), Subscriber, testHub)
	if want := "signature does not verify with JWKS key rsa-1 (RS256)"; err == nil || err.Reason != want {
		t.Errorf("JWKS signature: %v, want %q", err, want)
	}
	if _, err := a.Check(ctx, kidToken(t, "RS256", rsaKey, "rsa-1"), Subscriber, testHub); err != nil {
		t.Errorf("genuine JWKS token refused: %v", err)
	}
	// An HMAC token for a role that only has the JWKS lists what is accepted.
	_, err = a.Check(ctx, modernToken(t, subSecret, goodModern()), Subscriber, testHub)
	want := "alg HS256 not allowed: the JWKS accepts EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512"
	if err == nil || err.Reason != want {
		t.Errorf("JWKS alg: %v, want %q", err, want)
	}
	// With both a static key and a JWKS, both are named.
	_, err = a.Check(ctx, sign(t, "HS384", pubSecret, nil, `{}`), Publisher, testHub)
	if err == nil || !strings.Contains(err.Reason, "the configured publisher key is HS256 and the JWKS accepts EdDSA") {
		t.Errorf("static and JWKS alg: %v", err)
	}
}

// TestCheckMatchesAuthenticate: Check refuses and accepts exactly what
// Authenticate does for a token in the Authorization header, with the same
// status, code and reason.
func TestCheckMatchesAuthenticate(t *testing.T) {
	keys(t)
	a := newAuth(t)
	expired := goodModern()
	expired["exp"] = testNow.Unix() - 1
	tokens := []string{
		modernToken(t, subSecret, goodModern()),
		modernToken(t, pubSecret, goodModern()),
		modernToken(t, subSecret, expired),
		legacyToken(t, pubSecret, `{"mercure":{"publish":["*"]}}`),
		legacyToken(t, subSecret, `{"mercure":{"subscribe":["*"]}}`),
		sign(t, "RS256", rsaKey, nil, `{}`),
		"not.a.jwt",
		"has space",
		"",
		strings.Repeat("a", defaultMaxTokenBytes+1),
	}
	for i, tok := range tokens {
		for _, role := range []Role{Publisher, Subscriber} {
			cg, cerr := a.Check(context.Background(), tok, role, testHub)
			ag, aerr := a.Authenticate(bearerRequest("POST", tok), role)
			if (cg == nil) != (ag == nil) {
				t.Errorf("token %d %s: Check grant %v, Authenticate grant %v", i, role, cg, ag)
				continue
			}
			if cerr == nil {
				if aerr != nil {
					t.Errorf("token %d %s: Check accepts, Authenticate refuses: %v", i, role, aerr)
				}
				continue
			}
			var ae *Error
			if aerr == nil {
				t.Errorf("token %d %s: Check refuses (%v), Authenticate accepts", i, role, cerr)
				continue
			}
			ae = authErr(t, aerr, cerr.Status, cerr.Code)
			if ae.Reason != cerr.Reason && ae.Reason != "Authorization header: "+cerr.Reason {
				t.Errorf("token %d %s: reasons differ:\n Check        %s\n Authenticate %s", i, role, cerr.Reason, ae.Reason)
			}
		}
	}
}

func TestCheckPresentationLimits(t *testing.T) {
	a := newAuth(t)
	for name, tok := range map[string]string{
		"empty":     "",
		"not b64":   "a b.c",
		"with CRLF": legacyToken(t, subSecret, `{}`) + "\r\n",
	} {
		_, err := a.Check(context.Background(), tok, Subscriber, testHub)
		if err == nil || err.Status != http.StatusBadRequest || err.Code != CodeInvalidRequest || err.Reason == "" {
			t.Errorf("%s: %v, want 400 invalid_request with a reason", name, err)
		}
	}
	_, err := a.Check(context.Background(), strings.Repeat("a", defaultMaxTokenBytes+1), Subscriber, testHub)
	if err == nil || err.Status != http.StatusUnauthorized || err.Rule != RuleTooLarge {
		t.Errorf("too long: %v, want 401 invalid_token (too large)", err)
	}
	if _, err := a.Check(context.Background(), legacyToken(t, subSecret, `{}`), Role(7), testHub); err == nil || err.Status != http.StatusInternalServerError {
		t.Errorf("unknown role: %v", err)
	}
}

// TestCheckResourceID: the aud check uses the explicit resource id, else the
// configured one, and without either refuses draft-08 tokens by saying so.
func TestCheckResourceID(t *testing.T) {
	tok := modernToken(t, subSecret, goodModern()) // aud testHub
	ctx := context.Background()

	a := newAuth(t)
	if _, err := a.Check(ctx, tok, Subscriber, testHub); err != nil {
		t.Errorf("explicit matching resource id: %v", err)
	}
	if _, err := a.Check(ctx, tok, Subscriber, "https://elsewhere.test/.well-known/mercure"); err == nil || !strings.HasPrefix(err.Reason, "aud ") {
		t.Errorf("explicit other resource id: %v", err)
	}
	if _, err := a.Check(ctx, tok, Subscriber, ""); err != nil {
		t.Errorf("configured resource id: %v", err)
	}
	a = newAuth(t, func(c *Config) { c.ResourceID = "" })
	_, err := a.Check(ctx, tok, Subscriber, "")
	if err == nil || err.Rule != RuleNoResourceID || !strings.Contains(err.Reason, "--resource-id") {
		t.Errorf("no resource id: %v", err)
	}
	// Legacy tokens have no aud rule, so they need no resource id.
	if _, err := a.Check(ctx, legacyToken(t, subSecret, `{"aud":"whatever"}`), Subscriber, ""); err != nil {
		t.Errorf("legacy without resource id: %v", err)
	}
}

// TestCheckReasonValuesAreBounded: values from the token are clipped in
// reasons, which go to logs.
func TestCheckReasonValuesAreBounded(t *testing.T) {
	a := newAuth(t)
	c := goodModern()
	c["iss"] = strings.Repeat("é", 5000)
	_, err := a.Check(context.Background(), modernToken(t, subSecret, c), Subscriber, testHub)
	if err == nil || !strings.HasPrefix(err.Reason, `iss "éé`) || len(err.Reason) > 400 || !strings.Contains(err.Reason, "…") {
		t.Fatalf("reason not clipped: %d bytes", len(err.Reason))
	}
	if !utf8.ValidString(err.Reason) {
		t.Errorf("clipping split a rune: %q", err.Reason)
	}

	// Control characters from the token are escaped, C1 ones included
	// (encoding/json leaves those as they are).
	c = goodModern()
	c["aud"] = []string{"\u009b2J", "\x7f"}
	_, err = a.Check(context.Background(), modernToken(t, subSecret, c), Subscriber, testHub)
	if want := `aud ["\u009b2J","\u007f"] does not contain`; err == nil || !strings.HasPrefix(err.Reason, want) {
		t.Errorf("reason %q, want prefix %q", err.Reason, want)
	}
}

func TestInspect(t *testing.T) {
	tok := modernToken(t, []byte("any key: Inspect does not verify"), goodModern())
	h, c, err := Inspect(tok)
	if err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "HS256" || h["typ"] != "at+jwt" {
		t.Errorf("header %v", h)
	}
	if c["iss"] != testIssuer || c["exp"] != json.Number("1800003600") {
		t.Errorf("claims iss %v exp %#v", c["iss"], c["exp"])
	}
	if _, ok := c["authorization_details"].([]any); !ok {
		t.Errorf("authorization_details %T", c["authorization_details"])
	}

	hdr := b64([]byte(`{"alg":"HS256"}`))
	for name, tc := range map[string]struct {
		token      string
		wantHeader bool
		wantErr    string
	}{
		"two segments":     {"a.b", false, "2 segments, want 3 (header.claims.signature)"},
		"JWE":              {"a.b.c.d.e", false, "5 segments: this is an encrypted token (JWE)"},
		"padded header":    {b64([]byte(`{"alg":"HS256","typ":"J"}`)) + "=." + b64([]byte(`{}`)) + ".x", false, "header: base64url with = padding"},
		"header array":     {b64([]byte(`[1]`)) + "." + b64([]byte(`{}`)) + ".x", false, `header: not a JSON object: "[1]"`},
		"header binary":    {b64([]byte("\x03\x1b")) + "." + b64([]byte(`{}`)) + ".x", false, `header: not a JSON object: "\x03\x1b"`},
		"header trailing":  {b64([]byte(`{}{}`)) + "." + b64([]byte(`{}`)) + ".x", false, "header: trailing data"},
		"claims broken":    {hdr + "." + b64([]byte(`{"exp":`)) + ".x", true, `claims: not a JSON object: "{\"exp\":"`},
		"claims null":      {hdr + "." + b64([]byte(`null`)) + ".x", true, `claims: not a JSON object: "null"`},
		"signature broken": {hdr + "." + b64([]byte(`{}`)) + ".!!", true, "signature: not unpadded base64url"},
		"too long":         {strings.Repeat("a", MaxInspectBytes+1), false, "token longer than"},
	} {
		h, _, err := Inspect(tc.token)
		if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want prefix %q", name, err, tc.wantErr)
		}
		if (h != nil) != tc.wantHeader {
			t.Errorf("%s: header %v, want header returned: %v", name, h, tc.wantHeader)
		}
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(unsigned(`{"alg":"HS256","typ":"JWT"}`, `{"mercure":{"publish":["*"]}}`))
	f.Add(unsigned(`{"alg":"HS256"}`, `{"exp":1.5e9,"aud":["a"]}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("a.b.c.d.e")
	f.Add(b64([]byte(`{}`)) + "=." + b64([]byte(`{}`)) + ".")
	f.Fuzz(func(t *testing.T, tok string) {
		h, c, err := Inspect(tok)
		if err == nil && (h == nil || c == nil) {
			t.Fatalf("no error but header %v claims %v", h, c)
		}
		if c != nil && h == nil {
			t.Fatal("claims without header")
		}
	})
}

// FuzzCheck: whatever the token, Check answers with a grant or a 400/401
// carrying a reason, and agrees with Authenticate.
func FuzzCheck(f *testing.F) {
	f.Add(legacyToken(f, pubSecret, `{"mercure":{"publish":["*"]}}`))
	f.Add(legacyToken(f, subSecret, `{"mercure":{"subscribe":"*"}}`))
	f.Add(unsigned(`{"alg":"HS256","typ":"at+jwt"}`, `{"authorization_details":[]}`))
	f.Add("not.a.jwt")
	f.Add("")
	a, err := New(baseConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	f.Fuzz(func(t *testing.T, tok string) {
		for _, role := range []Role{Publisher, Subscriber} {
			g, cerr := a.Check(context.Background(), tok, role, testHub)
			if (g == nil) == (cerr == nil) {
				t.Fatalf("grant %v and error %v", g, cerr)
			}
			if cerr != nil {
				if cerr.Reason == "" || (cerr.Status != 400 && cerr.Status != 401) {
					t.Fatalf("bad error %#v", cerr)
				}
			}
			ag, aerr := a.Authenticate(bearerRequest("POST", tok), role)
			if (ag == nil) != (g == nil) {
				t.Fatalf("Check %v, Authenticate %v", cerr, aerr)
			}
		}
	})
}
