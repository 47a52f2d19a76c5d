package auth

import (
	"net/http"
	"strings"
	"testing"
)

func TestERR2_MissingTokenHasNoCode(t *testing.T) {
	e := ErrMissingToken()
	if e.Status != http.StatusUnauthorized || e.Code != "" {
		t.Fatalf("got %d %q", e.Status, e.Code)
	}
	if e.Rule != RuleNoToken {
		t.Errorf("rule %q, want %q", e.Rule, RuleNoToken)
	}
	// No token at all is not an error for Authenticate: the hub decides
	// whether the operation needs one.
	a := newAuth(t)
	g, err := a.Authenticate(mustRequest(t, "GET", testURL+"?match=x"), Subscriber)
	if g != nil || err != nil {
		t.Fatalf("no token: got %v, %v; want nil, nil", g, err)
	}
}

// TestERR3_InvalidTokenHidesReason: every validation failure is the same
// 401 invalid_token to the client, while the Reason names the rule.
func TestERR3_InvalidTokenHidesReason(t *testing.T) {
	a := newAuth(t)
	good := func() map[string]any { return modernClaims(ad(sub, exact("https://e.com/a"))) }
	expired := good()
	expired["exp"] = testNow.Unix() - 1
	wrongAud := good()
	wrongAud["aud"] = "https://other/.well-known/mercure"
	badDetails := modernClaims(ad([]string{}, exact("x")))
	cases := map[string]string{
		"signature": modernToken(t, []byte("another secret, not the hub's one"), good()),
		"expired":   modernToken(t, subSecret, expired),
		"audience":  modernToken(t, subSecret, wrongAud),
		"typ":       sign(t, "HS256", subSecret, map[string]any{"typ": "JWT"}, good()),
		"details":   modernToken(t, subSecret, badDetails),
		"malformed": "not.a.jwt",
	}
	reasons := map[string]bool{}
	for name, tok := range cases {
		g, err := a.Authenticate(bearerRequest("GET", tok), Subscriber)
		if g != nil {
			t.Fatalf("%s: got a grant", name)
		}
		e := authErr(t, err, http.StatusUnauthorized, CodeInvalidToken)
		reasons[e.Reason] = true
	}
	if len(reasons) != len(cases) {
		t.Errorf("reasons are not specific: %v", reasons)
	}
}

func TestERR4_InsufficientScope(t *testing.T) {
	e := ErrInsufficientScope("topic b not granted")
	if e.Status != http.StatusForbidden || e.Code != CodeInsufficientScope || e.Rule != RuleScope || e.Reason == "" {
		t.Fatalf("got %#v", e)
	}
}

func TestERR5_MalformedPresentationIsInvalidRequest(t *testing.T) {
	a := newAuth(t)
	tok := legacyToken(t, subSecret, `{"mercure":{"subscribe":["*"]}}`)
	cases := map[string]func(r *http.Request){
		"two header fields": func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
		},
		"basic scheme":       func(r *http.Request) { r.Header.Set("Authorization", "Basic eHl6Onh5eg==") },
		"no token":           func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
		"scheme only":        func(r *http.Request) { r.Header.Set("Authorization", "Bearer") },
		"empty":              func(r *http.Request) { r.Header.Set("Authorization", "") },
		"two spaces":         func(r *http.Request) { r.Header.Set("Authorization", "Bearer  "+tok) },
		"token with space":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok+" x") },
		"token with comma":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer a,b") },
		"padding not at end": func(r *http.Request) { r.Header.Set("Authorization", "Bearer a=b") },
		"two query params": func(r *http.Request) {
			r.URL.RawQuery = "authorization=" + tok + "&authorization=" + tok
		},
		"empty query param": func(r *http.Request) { r.URL.RawQuery = "authorization=" },
	}
	for name, set := range cases {
		r := mustRequest(t, "GET", testURL)
		r.AddCookie(&http.Cookie{Name: LegacyCookieName, Value: tok}) // never a fallback
		set(r)
		g, err := a.Authenticate(r, Subscriber)
		if g != nil {
			t.Fatalf("%s: got a grant", name)
		}
		if e := authErr(t, err, http.StatusBadRequest, CodeInvalidRequest); e.Rule != RulePresentation {
			t.Errorf("%s: rule %q, want %q", name, e.Rule, RulePresentation)
		}
	}
}

func TestErrorStringIncludesReasonForLogs(t *testing.T) {
	if got := invalidToken(RuleExpired, "expired at X").Error(); !strings.Contains(got, "expired at X") || !strings.Contains(got, "401") {
		t.Fatalf("Error() = %q", got)
	}
	if got := ErrMissingToken().Error(); !strings.Contains(got, "no token") {
		t.Fatalf("Error() = %q", got)
	}
}
