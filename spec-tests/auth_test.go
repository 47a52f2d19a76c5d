package spectests_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
)

// Section 1.6 of the checklist: authorization (AUTH, ERR, TV, AD, TML, AZ).

const (
	topicA = "https://example.com/a"
	topicB = "https://example.com/b"
)

// subStatus is the status of a subscription to topicA with token.
func (h *Harness) subStatus(t testing.TB, token string) Result {
	t.Helper()
	return h.call(t, Req{Query: q("match", topicA), Token: token})
}

func TestAUTH1_PublishWithoutTokenIs401(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]Options{"anonymous hub": anon, "private hub": {}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			each(t, opts, func(t *testing.T, h *Harness) {
				wantAuthError(t, h.publishAs(t, "", "topic", topicA), http.StatusUnauthorized, "", "publish without token")
			})
		})
	}
}

func TestAUTH1_SubscribeWithoutTokenOnNonAnonymousHubIs401(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.subStatus(t, ""), http.StatusUnauthorized, "", "match= without token")
		wantAuthError(t, h.call(t, Req{Query: q("topic", topicA)}), http.StatusUnauthorized, "", "topic= without token")
		wantStatus(t, h.subStatus(t, h.modernSub(topicA)), http.StatusOK, "with a token")
	})
}

func TestAUTH1_PrivateUpdatesNeedAToken(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		anonymous := h.sub(t, q("match", topicA))
		withToken := h.sub(t, q("match", topicA), h.modernSub(topicA))
		private := h.publish(t, "topic", topicA, "private", "on")
		marker := h.publish(t, "topic", topicA)
		anonymous.expectIDs(t, marker)
		withToken.expectIDs(t, private, marker)
	})
}

func TestAUTH7_AccessTokenQueryParameterIsIgnored(t *testing.T) {
	t.Parallel()
	t.Run("private hub", func(t *testing.T) {
		t.Parallel()
		each(t, Options{}, func(t *testing.T, h *Harness) {
			res := h.call(t, Req{Query: q("match", topicA, "access_token", h.modernSub(topicA))})
			wantAuthError(t, res, http.StatusUnauthorized, "", "access_token in the query")
		})
	})
	t.Run("anonymous hub", func(t *testing.T) {
		t.Parallel()
		each(t, anon, func(t *testing.T, h *Harness) {
			s := h.sub(t, q("match", topicA, "access_token", h.modernSub(topicA)))
			h.publish(t, "topic", topicA, "private", "on")
			marker := h.publish(t, "topic", topicA)
			s.expectIDs(t, marker)
		})
	})
}

func TestAUTH9_HeaderWinsOverCookie(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		garbage := []*http.Cookie{
			{Name: auth.LegacyCookieName, Value: "garbage"},
			{Name: auth.ModernCookieName, Value: "garbage"},
		}
		s := h.subscribe(t, Req{Query: q("match", topicA), Token: h.modernSub(topicA), Cookies: garbage})
		private := h.publish(t, "topic", topicA, "private", "on")
		s.expectIDs(t, private)

		valid := []*http.Cookie{{Name: auth.ModernCookieName, Value: h.modernSub(topicA)}}
		res := h.call(t, Req{Query: q("match", topicA), Token: "garbage.garbage.garbage", Cookies: valid})
		if res.Status != http.StatusBadRequest && res.Status != http.StatusUnauthorized {
			t.Errorf("garbage header with a valid cookie: status %d, want 400 or 401 (the header wins)", res.Status)
		}
	})
}

func TestAUTH10_BearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			sub := Req{Query: q("match", topicA), Header: http.Header{"Authorization": {scheme + " " + h.modernSub(topicA)}}}
			wantStatus(t, h.call(t, sub), http.StatusOK, "subscribe with scheme "+scheme)
			pub := Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType,
				Header: http.Header{"Authorization": {scheme + " " + h.pubAll}}}
			wantStatus(t, h.call(t, pub), http.StatusOK, "publish with scheme "+scheme)
		}
	})
}

func TestAUTH10_NonBearerHeaderIs400InvalidRequest(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, v := range []string{"Basic eHl6OnBhc3N3b3Jk", "Bearer", "Token " + h.pubAll, h.pubAll} {
			sub := Req{Query: q("match", topicA), Header: http.Header{"Authorization": {v}}}
			wantAuthError(t, h.call(t, sub), http.StatusBadRequest, "invalid_request", fmt.Sprintf("subscribe with Authorization %.20q", v))
			pub := Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Header: http.Header{"Authorization": {v}}}
			wantAuthError(t, h.call(t, pub), http.StatusBadRequest, "invalid_request", fmt.Sprintf("publish with Authorization %.20q", v))
		}
	})
}

func TestAUTH11_CookieTokenAuthorizesPrivateUpdates(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		for _, name := range []string{auth.ModernCookieName, auth.LegacyCookieName} {
			s := h.subscribe(t, Req{Query: q("match", topicA), Cookies: []*http.Cookie{{Name: name, Value: h.modernSub(topicA)}}})
			private := h.publish(t, "topic", topicA, "private", "on")
			t.Run(name, func(t *testing.T) { s.expectIDs(t, private) })
			s.Close()
		}
	})
}

func TestAUTH11_CookieNameIsConfigurable(t *testing.T) {
	t.Parallel()
	each(t, Options{CookieNames: []string{"custom"}}, func(t *testing.T, h *Harness) {
		s := h.subscribe(t, Req{Query: q("match", topicA), Cookies: []*http.Cookie{{Name: "custom", Value: h.legacySub(topicA)}}})
		private := h.publish(t, "topic", topicA, "private", "on")
		s.expectIDs(t, private)
		res := h.call(t, Req{Query: q("match", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: h.legacySub(topicA)}}})
		wantAuthError(t, res, http.StatusUnauthorized, "", "a cookie name that is not configured")
	})
}

func TestERR1_EveryTokenFailureCarriesABearerChallenge(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		for what, res := range map[string]Result{
			"publish, no token":          h.publishAs(t, "", "topic", topicA),
			"publish, bad token":         h.publishAs(t, "a.b.c", "topic", topicA),
			"publish, not granted":       h.publishAs(t, h.modernPub(topicB), "topic", topicA),
			"publish, legacy bad token":  h.publishAs(t, h.legacy([]byte("wrong key, wrong key, wrong key!"), map[string]any{"publish": []any{"*"}}), "topic", topicA),
			"publish, legacy no grant":   h.publishAs(t, h.legacyPub(topicB), "topic", topicA),
			"subscribe, no token":        h.subStatus(t, ""),
			"subscribe, expired token":   h.subStatus(t, h.signSub(modernHeader, with(h.modernClaims(detail([]string{"subscribe"}, "*")), "exp", time.Now().Add(-time.Minute).Unix()))),
			"subscribe, legacy bad sign": h.subStatus(t, h.legacy(h.pubKey, map[string]any{"subscribe": []any{"*"}})),
		} {
			if res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 401 or 403", what, res.Status)
				continue
			}
			challenge(t, res)
		}
	})
}

func TestERR2_NoTokenGivesABareChallenge(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		wantAuthError(t, h.publishAs(t, "", "topic", topicA), http.StatusUnauthorized, "", "publish")
		wantAuthError(t, h.subStatus(t, ""), http.StatusUnauthorized, "", "subscribe")
	})
}

// with returns a copy of c with name set to v (nil deletes it).
func with(c claims, kv ...any) claims {
	out := maps.Clone(c)
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}

// badModernTokens are tokens that each fail one validation rule, signed
// with key; grant decides what a valid one would allow.
func (h *Harness) badModernTokens(key []byte, actions []string) map[string]string {
	now := time.Now()
	good := h.modernClaims(detail(actions, "*"))
	sign := func(header map[string]any, c claims) string { return signHMAC(key, header, c) }
	hdr := func(kv ...any) map[string]any {
		out := maps.Clone(modernHeader)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
				continue
			}
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	valid := sign(modernHeader, good)
	return map[string]string{
		"bad signature":      valid[:len(valid)-4] + "AAAA",
		"other key":          signHMAC([]byte("some other key, some other key!!"), modernHeader, good),
		"alg none":           sign(hdr("alg", "none"), good),
		"alg HS512":          sign(hdr("alg", "HS512"), good),
		"typ JWT":            sign(hdr("typ", "JWT"), good),
		"no typ":             sign(hdr("typ", nil), good),
		"expired":            sign(modernHeader, with(good, "exp", now.Add(-time.Second).Unix())),
		"no exp":             sign(modernHeader, with(good, "exp", nil)),
		"nbf in the future":  sign(modernHeader, with(good, "nbf", now.Add(time.Hour).Unix())),
		"other aud":          sign(modernHeader, with(good, "aud", "https://other.example/.well-known/mercure")),
		"no aud":             sign(modernHeader, with(good, "aud", nil)),
		"iss with slash":     sign(modernHeader, with(good, "iss", h.issuer+"/")),
		"no iss":             sign(modernHeader, with(good, "iss", nil)),
		"bad details":        sign(modernHeader, with(good, "authorization_details", []any{map[string]any{"type": detailType, "actions": []any{}, "topics": []any{tm("*", "")}}})),
		"details not array":  sign(modernHeader, with(good, "authorization_details", map[string]any{"type": detailType})),
		"not a JWT":          "not-a-jwt",
		"two parts":          strings.Join(strings.Split(valid, ".")[:2], "."),
		"payload not base64": strings.Split(valid, ".")[0] + ".A." + strings.Split(valid, ".")[2],
	}
}

func TestERR3_EveryValidationFailureIs401InvalidTokenAndLooksTheSame(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		type answer struct {
			status          int
			challenge, body string
		}
		seen := map[string]map[answer][]string{}
		for role, tokens := range map[string]map[string]string{
			"publish":   h.badModernTokens(h.pubKey, []string{"publish"}),
			"subscribe": h.badModernTokens(h.subKey, []string{"subscribe"}),
		} {
			seen[role] = map[answer][]string{}
			for why, tok := range tokens {
				var res Result
				if role == "publish" {
					res = h.publishAs(t, tok, "topic", topicA)
				} else {
					res = h.subStatus(t, tok)
				}
				wantAuthError(t, res, http.StatusUnauthorized, "invalid_token", role+", "+why)
				a := answer{res.Status, res.Header.Get("WWW-Authenticate"), res.Body}
				seen[role][a] = append(seen[role][a], why)
			}
			if len(seen[role]) > 1 {
				t.Errorf("%s: the failures are told apart (they must look alike): %v", role, seen[role])
			}
		}
	})
}

func TestERR4_ValidTokenWithoutGrantIs403InsufficientScope(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		subscribeOnly := signHMAC(h.pubKey, modernHeader, h.modernClaims(detail([]string{"subscribe"}, "*")))
		for what, tok := range map[string]string{
			"modern, other topic":    h.modernPub(topicB),
			"modern, subscribe only": subscribeOnly,
			"modern, no details":     h.signPub(modernHeader, h.modernClaims()),
			"legacy, other topic":    h.legacyPub(topicB),
			"legacy, empty publish":  h.legacyPub(),
			"legacy, no publish key": h.legacy(h.pubKey, map[string]any{"subscribe": []any{"*"}}),
		} {
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusForbidden, "insufficient_scope", what)
		}
	})
}

func TestERR5_MalformedPresentationIs400InvalidRequest(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		two := http.Header{"Authorization": {"Bearer " + h.pubAll, "Bearer " + h.pubAll}}
		res := h.call(t, Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Header: two})
		wantAuthError(t, res, http.StatusBadRequest, "invalid_request", "publish with two Authorization headers")
		two = http.Header{"Authorization": {"Bearer " + h.modernSub(topicA), "Bearer " + h.modernSub(topicA)}}
		res = h.call(t, Req{Query: q("match", topicA), Header: two})
		wantAuthError(t, res, http.StatusBadRequest, "invalid_request", "subscribe with two Authorization headers")
		// A request malformed independently of the token is a plain 400.
		wantStatus(t, h.publishAs(t, h.pubAll, "data", "no topic"), http.StatusBadRequest, "missing topic")
	})
}

func TestTV2_TypMustBeATPlusJWT(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		for _, typ := range []string{"at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"} {
			hdr := map[string]any{"alg": "HS256", "typ": typ}
			pub := h.signPub(hdr, h.modernClaims(detail([]string{"publish"}, topicA)))
			wantStatus(t, h.publishAs(t, pub, "topic", topicA), http.StatusOK, "publish, typ "+typ)
			sub := h.signSub(hdr, h.modernClaims(detail([]string{"subscribe"}, topicA)))
			wantStatus(t, h.subStatus(t, sub), http.StatusOK, "subscribe, typ "+typ)
		}
		for _, typ := range []any{"JWT", "jwt", "at+jwt2", "application/jwt", "", nil, 1} {
			hdr := map[string]any{"alg": "HS256"}
			if typ != nil {
				hdr["typ"] = typ
			}
			pub := h.signPub(hdr, h.modernClaims(detail([]string{"publish"}, topicA)))
			wantAuthError(t, h.publishAs(t, pub, "topic", topicA), http.StatusUnauthorized, "invalid_token", fmt.Sprintf("publish, typ %v", typ))
			sub := h.signSub(hdr, h.modernClaims(detail([]string{"subscribe"}, topicA)))
			wantAuthError(t, h.subStatus(t, sub), http.StatusUnauthorized, "invalid_token", fmt.Sprintf("subscribe, typ %v", typ))
		}
	})
}

func TestTV3_AlgNoneIsRejected(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		none := map[string]any{"alg": "none", "typ": "at+jwt"}
		wantAuthError(t, h.publishAs(t, signHMAC(nil, none, h.modernClaims(detail([]string{"publish"}, "*"))), "topic", topicA),
			http.StatusUnauthorized, "invalid_token", "modern alg none")
		legacyNone := map[string]any{"alg": "none"}
		wantAuthError(t, h.publishAs(t, signHMAC(nil, legacyNone, claims{"mercure": map[string]any{"publish": []any{"*"}}}), "topic", topicA),
			http.StatusUnauthorized, "invalid_token", "legacy alg none")
		wantAuthError(t, h.subStatus(t, signHMAC(nil, legacyNone, claims{"mercure": map[string]any{"subscribe": []any{"*"}}})),
			http.StatusUnauthorized, "invalid_token", "legacy alg none, subscribe")
	})
}

func TestTV3_OnlyTheConfiguredAlgIsAccepted(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for _, alg := range []string{"HS384", "HS512"} {
			hdr := map[string]any{"alg": alg, "typ": "JWT"}
			tok := signHMAC(h.pubKey, hdr, claims{"mercure": map[string]any{"publish": []any{"*"}}})
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA), http.StatusUnauthorized, "invalid_token", "legacy "+alg)
		}
	})
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaPEM  []byte
)

// testRSAKey is generated once per test binary: a 2048-bit key costs
// noticeable time under -race.
func testRSAKey() (*rsa.PrivateKey, []byte) {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
		rsaKey, rsaPEM = k, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	})
	return rsaKey, rsaPEM
}

func signRS256(k *rsa.PrivateKey, header, payload any) string {
	in := b64json(header) + "." + b64json(payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTV3_AlgorithmConfusionIsRejected(t *testing.T) {
	t.Parallel()
	key, pub := testRSAKey()
	each(t, Options{PublisherKey: pub, SubscriberKey: pub, Alg: "RS256"}, func(t *testing.T, h *Harness) {
		rs := map[string]any{"alg": "RS256", "typ": "at+jwt"}
		good := signRS256(key, rs, h.modernClaims(detail([]string{"publish"}, "*")))
		wantStatus(t, h.publishAs(t, good, "topic", topicA), http.StatusOK, "RS256 token")
		legacyGood := signRS256(key, map[string]any{"alg": "RS256"}, claims{"mercure": map[string]any{"publish": []any{"*"}}})
		wantStatus(t, h.publishAs(t, legacyGood, "topic", topicA), http.StatusOK, "legacy RS256 token")

		// HS256 keyed with the public key bytes: accepted only by a hub
		// that takes the alg from the token.
		confused := signHMAC(pub, modernHeader, h.modernClaims(detail([]string{"publish"}, "*")))
		wantAuthError(t, h.publishAs(t, confused, "topic", topicA), http.StatusUnauthorized, "invalid_token", "HS256 signed with the RSA public key")
		legacyConfused := signHMAC(pub, map[string]any{"alg": "HS256"}, claims{"mercure": map[string]any{"publish": []any{"*"}}})
		wantAuthError(t, h.publishAs(t, legacyConfused, "topic", topicA), http.StatusUnauthorized, "invalid_token", "legacy HS256 signed with the RSA public key")
	})
}

func TestTV5_ExpIsRequiredAndEnforcedOnModernTokens(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		now := time.Now()
		good := h.modernClaims(detail([]string{"publish"}, "*"))
		for what, c := range map[string]claims{
			"no exp":            with(good, "exp", nil),
			"exp in the past":   with(good, "exp", now.Add(-2*time.Second).Unix()),
			"nbf in the future": with(good, "nbf", now.Add(time.Minute).Unix()),
		} {
			wantAuthError(t, h.publishAs(t, h.signPub(modernHeader, c), "topic", topicA), http.StatusUnauthorized, "invalid_token", what)
		}
		wantStatus(t, h.publishAs(t, h.signPub(modernHeader, with(good, "nbf", now.Add(-time.Minute).Unix())), "topic", topicA), http.StatusOK, "nbf in the past")
	})
}

func TestTV6_AudMustContainTheResourceID(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		good := h.modernClaims(detail([]string{"publish"}, "*"))
		for what, aud := range map[string]any{
			"string":        h.URL,
			"array":         []any{"x", h.URL},
			"array of one":  []any{h.URL},
			"other in list": []any{"https://other.example/.well-known/mercure", h.URL},
		} {
			wantStatus(t, h.publishAs(t, h.signPub(modernHeader, with(good, "aud", aud)), "topic", topicA), http.StatusOK, "aud "+what)
		}
		for what, aud := range map[string]any{
			"other hub":        "https://other.example/.well-known/mercure",
			"origin only":      h.Origin,
			"trailing slash":   h.URL + "/",
			"array without it": []any{"x", "y"},
			"empty array":      []any{},
		} {
			wantAuthError(t, h.publishAs(t, h.signPub(modernHeader, with(good, "aud", aud)), "topic", topicA),
				http.StatusUnauthorized, "invalid_token", "aud "+what)
		}
	})
}

// The audience is the configured resource id whatever Host the client
// sends (issue 10, finding 5; see also hostile_test.go).
func TestTV6_AudienceIgnoresTheHost(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		tok := h.modernPub("*")
		res := h.call(t, Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Token: tok, Host: "other.example"})
		wantStatus(t, res, http.StatusOK, "token for the resource id sent with Host: other.example")
		forOther := h.signPub(modernHeader, with(h.modernClaims(detail([]string{"publish"}, "*")), "aud", "http://other.example/.well-known/mercure"))
		res = h.call(t, Req{Method: http.MethodPost, Body: form("topic", topicA), ContentType: formType, Token: forOther, Host: "other.example"})
		wantAuthError(t, res, http.StatusUnauthorized, "invalid_token", "token for other.example sent with Host: other.example")
	})
}

func TestTV6_ConfiguredResourceIDIsTheAudience(t *testing.T) {
	t.Parallel()
	const rid = "https://hub.example/.well-known/mercure"
	each(t, Options{Anonymous: true, ResourceID: rid}, func(t *testing.T, h *Harness) {
		good := h.modernClaims(detail([]string{"publish"}, "*"))
		wantStatus(t, h.publishAs(t, h.signPub(modernHeader, with(good, "aud", rid)), "topic", topicA), http.StatusOK, "aud = configured id")
		wantAuthError(t, h.publishAs(t, h.signPub(modernHeader, with(good, "aud", h.URL)), "topic", topicA),
			http.StatusUnauthorized, "invalid_token", "aud = the request URL, not the configured id")
	})
}

func TestTV7_IssMustMatchExactly(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		good := h.modernClaims(detail([]string{"subscribe"}, "*"))
		for what, iss := range map[string]any{
			"trailing slash": h.issuer + "/",
			"other case":     strings.ToUpper(h.issuer),
			"other issuer":   "https://evil.example",
			"empty":          "",
			"array":          []any{h.issuer},
		} {
			wantAuthError(t, h.subStatus(t, h.signSub(modernHeader, with(good, "iss", iss))), http.StatusUnauthorized, "invalid_token", "iss "+what)
		}
		wantAuthError(t, h.subStatus(t, h.signSub(modernHeader, with(good, "iss", nil))), http.StatusUnauthorized, "invalid_token", "no iss")
	})
}

// §2.4 rule 4: with no issuer configured, modern tokens are refused and
// legacy ones still work.
func TestTV7_NoIssuerConfiguredRefusesModernTokens(t *testing.T) {
	t.Parallel()
	each(t, Options{Anonymous: true, NoIssuer: true}, func(t *testing.T, h *Harness) {
		modern := h.signPub(modernHeader, with(h.modernClaims(detail([]string{"publish"}, "*")), "iss", testIssuer))
		wantAuthError(t, h.publishAs(t, modern, "topic", topicA), http.StatusUnauthorized, "invalid_token", "modern token, no issuer configured")
		wantStatus(t, h.publishAs(t, h.pubAll, "topic", topicA), http.StatusOK, "legacy token, no issuer configured")
	})
}

// pubWithDetails publishes topicA with a modern token carrying details.
func (h *Harness) pubWithDetails(t testing.TB, details ...any) Result {
	t.Helper()
	return h.publishAs(t, h.signPub(modernHeader, h.modernClaims(details...)), "topic", topicA)
}

func TestAD1_DetailsOfOtherTypesAreIgnored(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		res := h.pubWithDetails(t,
			map[string]any{"type": "other", "topics": "x", "actions": 42},
			map[string]any{"type": "https://example.com/detail", "locations": []any{"https://x"}},
			detail([]string{"publish"}, topicA),
		)
		wantStatus(t, res, http.StatusOK, "valid detail next to foreign ones")
		for _, typ := range []string{detailType + "/", "https://Mercure.rocks/authorization-detail", "mercure"} {
			d := detail([]string{"publish"}, topicA)
			d["type"] = typ
			wantAuthError(t, h.pubWithDetails(t, d), http.StatusForbidden, "insufficient_scope", "detail of type "+typ+" grants nothing")
		}
	})
}

func TestAD2_ActionsAreANonEmptyArrayOfStrings(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		wantStatus(t, h.pubWithDetails(t, detail([]string{"publish", "future"}, topicA)), http.StatusOK, `actions ["publish","future"]`)
		sub := signHMAC(h.subKey, modernHeader, h.modernClaims(detail([]string{"subscribe", "future"}, topicA)))
		wantStatus(t, h.subStatus(t, sub), http.StatusOK, `subscribe with actions ["subscribe","future"]`)
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"future"}, topicA)), http.StatusForbidden, "insufficient_scope", `actions ["future"] grant nothing`)
		for what, actions := range map[string]any{
			"empty":      []any{},
			"number":     []any{1},
			"mixed":      []any{"publish", 1},
			"null entry": []any{"publish", nil},
			"string":     "publish",
			"null":       nil,
		} {
			d := detail(nil, topicA)
			d["actions"] = actions
			wantAuthError(t, h.pubWithDetails(t, d), http.StatusUnauthorized, "invalid_token", "actions "+what)
		}
		d := detail(nil, topicA)
		delete(d, "actions")
		wantAuthError(t, h.pubWithDetails(t, d), http.StatusUnauthorized, "invalid_token", "no actions")
	})
}

func TestAD3_TopicsAreANonEmptyArrayOfMatcherObjects(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for what, topics := range map[string]any{
			"empty":       []any{},
			"bare string": []any{topicA},
			"string":      topicA,
			"object":      tm(topicA, ""),
			"null":        nil,
		} {
			d := detail([]string{"publish"})
			d["topics"] = topics
			wantAuthError(t, h.pubWithDetails(t, d), http.StatusUnauthorized, "invalid_token", "topics "+what)
		}
		d := detail([]string{"publish"})
		delete(d, "topics")
		wantAuthError(t, h.pubWithDetails(t, d), http.StatusUnauthorized, "invalid_token", "no topics")
	})
}

func TestAD6_AnyInvalidDetailRejectsTheWholeToken(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		bad := detail([]string{"publish"}, tm("https://e.com/(", "urlpattern"))
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, topicA), bad), http.StatusUnauthorized, "invalid_token", "valid detail then invalid")
		wantAuthError(t, h.pubWithDetails(t, bad, detail([]string{"publish"}, topicA)), http.StatusUnauthorized, "invalid_token", "invalid detail then valid")
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, topicA, tm("", ""))), http.StatusUnauthorized, "invalid_token", "empty match next to a valid one")
	})
}

func TestAD6_LimitsOnDetailsAndMatchers(t *testing.T) {
	t.Parallel()
	// Raise the token-size limit so that the details limits are what gets
	// checked (both answer 401 invalid_token).
	each(t, Options{Anonymous: true, MaxTokenBytes: 1 << 20}, func(t *testing.T, h *Harness) {
		// 100 details, 100 matchers in all and 4096-byte patterns are
		// accepted (the reference hub's limits); one more is refused.
		details := func(n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = detail([]string{"publish"}, fmt.Sprintf("https://example.com/%d", i))
			}
			out[0] = detail([]string{"publish"}, topicA)
			return out
		}
		wantStatus(t, h.pubWithDetails(t, details(100)...), http.StatusOK, "100 details")
		wantAuthError(t, h.pubWithDetails(t, details(101)...), http.StatusUnauthorized, "invalid_token", "101 details")

		topics := func(n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = fmt.Sprintf("https://example.com/%d", i)
			}
			out[0] = topicA
			return out
		}
		wantStatus(t, h.pubWithDetails(t, detail([]string{"publish"}, topics(100)...)), http.StatusOK, "100 matchers")
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, topics(101)...)), http.StatusUnauthorized, "invalid_token", "101 matchers in one detail")
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, topics(60)...), detail([]string{"subscribe"}, topics(41)...)),
			http.StatusUnauthorized, "invalid_token", "101 matchers across two details")

		long := func(n int) string { return topicA + "/" + strings.Repeat("x", n-len(topicA)-1) }
		wantStatus(t, h.publishAs(t, h.modernPub(long(4096)), "topic", long(4096)), http.StatusOK, "4096-byte pattern")
		wantAuthError(t, h.pubWithDetails(t, detail([]string{"publish"}, topicA, long(4097))), http.StatusUnauthorized, "invalid_token", "4097-byte pattern")
	})
}

func TestTML1_MatchTypeDefaultsToExact(t *testing.T) {
	t.Parallel()
	const pattern = "https://example.com/books/:id"
	each(t, anon, func(t *testing.T, h *Harness) {
		noType := h.modernPub(tm(pattern, ""))
		wantStatus(t, h.publishAs(t, noType, "topic", pattern), http.StatusOK, "the pattern string itself, no match_type")
		wantAuthError(t, h.publishAs(t, noType, "topic", "https://example.com/books/1"), http.StatusForbidden, "insufficient_scope", "a topic the pattern would match, no match_type")
		asPattern := h.modernPub(tm(pattern, "urlpattern"))
		wantStatus(t, h.publishAs(t, asPattern, "topic", "https://example.com/books/1"), http.StatusOK, "match_type urlpattern")
		wantAuthError(t, h.publishAs(t, asPattern, "topic", "https://example.com/books/1/2"), http.StatusForbidden, "insufficient_scope", "urlpattern does not match")
	})
}

func TestTML2_InvalidMatcherObjectsRejectTheToken(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		for what, m := range map[string]any{
			"match_type Exact":      tm(topicA, "Exact"),
			"match_type URLPattern": tm(topicA, "URLPattern"),
			"match_type regex":      tm(topicA, "regex"),
			"match_type empty":      map[string]any{"match": topicA, "match_type": ""},
			"match_type number":     map[string]any{"match": topicA, "match_type": 1},
			"no match":              map[string]any{"match_type": "exact"},
			"match null":            map[string]any{"match": nil},
			"match number":          map[string]any{"match": 1},
			"empty match":           tm("", ""),
			"invalid urlpattern":    tm("https://e.com/(", "urlpattern"),
			"null entry":            nil,
			"number entry":          1,
			"array entry":           []any{topicA},
		} {
			d := detail([]string{"publish"})
			d["topics"] = []any{tm(topicA, ""), m}
			wantAuthError(t, h.pubWithDetails(t, d), http.StatusUnauthorized, "invalid_token", what)
		}
	})
}

func TestAZ1_PublishNeedsAGrantOnEveryTopic(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", topicA))
		for what, tok := range map[string]string{"modern": h.modernPub(topicA), "legacy": h.legacyPub(topicA)} {
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA, "topic", topicB), http.StatusForbidden, "insufficient_scope", what+", alternate not granted")
			wantAuthError(t, h.publishAs(t, tok, "topic", topicB, "topic", topicA), http.StatusForbidden, "insufficient_scope", what+", canonical not granted")
			wantAuthError(t, h.publishAs(t, tok, "topic", topicA, "topic", topicB, "private", "on"), http.StatusForbidden, "insufficient_scope", what+", private")
		}
		marker := h.publish(t, "topic", topicA)
		s.expectIDs(t, marker)
		ok := h.publishAs(t, h.modernPub(topicA, topicB), "topic", topicA, "topic", topicB)
		wantStatus(t, ok, http.StatusOK, "both topics granted")
		s.expectIDs(t, ok.Body)
	})
}

func TestAZ3_PrivateUpdatesNeedASubscribeGrantOnOneOfTheirTopics(t *testing.T) {
	t.Parallel()
	const (
		books = "https://example.com/books/:id"
		own   = "https://example.com/users/42/*"
	)
	each(t, anon, func(t *testing.T, h *Harness) {
		granted := h.sub(t, q("match_urlpattern", books), h.modernSub(tm(own, "urlpattern")))
		anonymous := h.sub(t, q("match_urlpattern", books))
		wide := h.sub(t, q("match", "*"), h.modernSub("https://example.com/other"))

		viaAlternate := h.publish(t, "topic", "https://example.com/books/1", "topic", "https://example.com/users/42/books/1", "private", "on")
		h.publish(t, "topic", "https://example.com/books/2", "private", "on")
		// Granted but not routed: the grant never widens the routing.
		h.publish(t, "topic", "https://example.com/users/42/profile", "private", "on")
		marker := h.publish(t, "topic", "https://example.com/books/3")

		granted.expectIDs(t, viaAlternate, marker)
		anonymous.expectIDs(t, marker)
		wide.expectIDs(t, marker)
	})
}

func TestAZ3_LegacyGrantsWorkTheSameWay(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		s := h.sub(t, q("match", topicA), h.legacySub(topicB))
		viaB := h.publish(t, "topic", topicA, "topic", topicB, "private", "on")
		h.publish(t, "topic", topicA, "private", "on")
		marker := h.publish(t, "topic", topicA)
		s.expectIDs(t, viaB, marker)
	})
}

func TestAZ4_SubscribersNeverGet403(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		noSubscribe := signHMAC(h.subKey, modernHeader, h.modernClaims(detail([]string{"publish"}, "*")))
		noDetails := h.signSub(modernHeader, h.modernClaims())
		legacyEmpty := h.legacy(h.subKey, map[string]any{})
		for what, tok := range map[string]string{"publish-only": noSubscribe, "no details": noDetails, "legacy without subscribe": legacyEmpty} {
			s := h.subscribe(t, Req{Query: q("match", topicA), Token: tok})
			h.publish(t, "topic", topicA, "private", "on")
			public := h.publish(t, "topic", topicA)
			t.Run(what, func(t *testing.T) { s.expectIDs(t, public) })
			s.Close()
		}
	})
}

func TestAZ5_StreamEndsByTokenExpiry(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		tokens := map[string]func(exp time.Time) string{
			"modern": func(exp time.Time) string {
				return h.signSub(modernHeader, with(h.modernClaims(detail([]string{"subscribe"}, "*")), "exp", exp.Unix()))
			},
			"legacy": func(exp time.Time) string {
				return h.signSub(legacyHeader, claims{"exp": exp.Unix(), "mercure": map[string]any{"subscribe": []any{"*"}}})
			},
		}
		for what, mint := range tokens {
			t.Run(what, func(t *testing.T) {
				t.Parallel()
				// Minted here, not before t.Parallel: a parallel test may
				// wait for a slot longer than the token lives.
				exp := time.Now().Add(3 * time.Second).Truncate(time.Second)
				tok := mint(exp)
				// One topic per parallel subtest: each stream sees only its own.
				topic := "https://example.com/" + what
				s := h.subscribe(t, Req{Query: q("match", topic), Token: tok})
				// The deadline is not in the past: the stream works first.
				id := h.publish(t, "topic", topic, "private", "on")
				s.expectIDs(t, id)
				s.expectEnd(t, time.Until(exp)+2*time.Second)
			})
		}
	})
}

// §4 pitfall 7: a present but bad token is an error even where no token is
// needed.
func TestPitfall7_BadTokenIsNeverAnonymous(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		expired := h.signSub(legacyHeader, claims{"exp": time.Now().Add(-time.Minute).Unix(), "mercure": map[string]any{"subscribe": []any{"*"}}})
		for what, r := range map[string]Req{
			"header":              {Query: q("match", topicA), Token: expired},
			"legacy cookie":       {Query: q("match", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: expired}}},
			"modern cookie":       {Query: q("match", topicA), Cookies: []*http.Cookie{{Name: auth.ModernCookieName, Value: expired}}},
			"authorization query": {Query: q("topic", topicA, "authorization", expired)},
			"garbage cookie":      {Query: q("match", topicA), Cookies: []*http.Cookie{{Name: auth.LegacyCookieName, Value: "garbage"}}},
		} {
			wantAuthError(t, h.call(t, r), http.StatusUnauthorized, "invalid_token", what)
		}
	})
}

// The tokens `hermes token` mints (auth.Mint) are accepted by the hub.
func TestAUTH2_MintedTokensAreAccepted(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		mint := func(o auth.MintOptions) string {
			tok, err := auth.Mint(o)
			if err != nil {
				t.Fatalf("auth.Mint(%+v): %v", o, err)
			}
			return tok
		}
		legacyPub := mint(auth.MintOptions{Key: h.pubKey, Publish: []string{"*"}})
		modernPub := mint(auth.MintOptions{Key: h.pubKey, Publish: []string{topicA}, Modern: true, MatchType: "exact",
			Issuer: h.issuer, Audience: []string{h.aud()}, TTL: time.Hour})
		modernSub := mint(auth.MintOptions{Key: h.subKey, Subscribe: []string{"https://example.com/:x"}, Modern: true, MatchType: "urlpattern",
			Issuer: h.issuer, Audience: []string{h.aud()}, TTL: time.Hour})
		legacySub := mint(auth.MintOptions{Key: h.subKey, Subscribe: []string{"https://example.com/{x}"}, TTL: time.Hour})

		modern := h.sub(t, q("match", topicA), modernSub)
		legacy := h.sub(t, q("topic", topicA), legacySub)
		one := h.publishAs(t, legacyPub, "topic", topicA, "private", "on")
		wantStatus(t, one, http.StatusOK, "minted legacy publisher")
		two := h.publishAs(t, modernPub, "topic", topicA, "private", "on")
		wantStatus(t, two, http.StatusOK, "minted modern publisher")
		wantAuthError(t, h.publishAs(t, modernPub, "topic", topicB), http.StatusForbidden, "insufficient_scope", "minted modern publisher, other topic")
		modern.expectIDs(t, one.Body, two.Body)
		legacy.expectIDs(t, one.Body, two.Body)
	})
}

func TestTV4_KeysNeverComeFromTheToken(t *testing.T) {
	t.Parallel()
	each(t, anon, func(t *testing.T, h *Harness) {
		attacker := []byte("the attacker's own key, 0123456789")
		c := h.modernClaims(detail([]string{"publish"}, "*"))
		for what, hdr := range map[string]map[string]any{
			"jwk": {"alg": "HS256", "typ": "at+jwt", "jwk": map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attacker)}},
			"jku": {"alg": "HS256", "typ": "at+jwt", "jku": "http://attacker.example/jwks.json", "kid": "k1"},
			"x5u": {"alg": "HS256", "typ": "at+jwt", "x5u": "http://attacker.example/cert.pem"},
		} {
			wantAuthError(t, h.publishAs(t, signHMAC(attacker, hdr, c), "topic", topicA), http.StatusUnauthorized, "invalid_token", "key in "+what)
		}
	})
}

// ERR-1's SHOULD as Hermes does it: the challenge points at the protected
// resource metadata of the hub the request reached.
func TestERR1_ChallengeCarriesResourceMetadata(t *testing.T) {
	t.Parallel()
	each(t, Options{}, func(t *testing.T, h *Harness) {
		want := `resource_metadata="` + h.Origin + `/.well-known/oauth-protected-resource` + "/.well-known/mercure" + `"`
		for what, res := range map[string]Result{
			"no token":     h.subStatus(t, ""),
			"bad token":    h.publishAs(t, "a.b.c", "topic", topicA),
			"not granted":  h.publishAs(t, h.modernPub(topicB), "topic", topicA),
			"other header": h.call(t, Req{Query: q("match", topicA), Header: http.Header{"Authorization": {"Basic eHl6"}}}),
		} {
			if c := challenge(t, res); !strings.Contains(c, want) {
				t.Errorf("%s: challenge %q, want it to contain %s", what, c, want)
			}
		}
	})
}
