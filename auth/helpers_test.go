package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/hermes-hub/hermes/hub/topic"
)

func TestMain(m *testing.M) {
	// JWKS refresh goroutines must end with Close.
	goleak.VerifyTestMain(m)
}

const (
	testIssuer = "https://issuer.test"
	testHub    = "https://hub.test/.well-known/mercure"
	testURL    = "https://hub.test/.well-known/mercure"
)

var (
	pubSecret = []byte("publisher-secret-0123456789-abcdefghij")
	subSecret = []byte("subscriber-secret-0123456789-abcdefgh")
	testNow   = time.Unix(1_800_000_000, 0)
)

func fixedNow() time.Time { return testNow }

// baseConfig is a hub with HS256 secrets for both roles, an issuer, a
// derived resource identifier and one publish origin.
func baseConfig() Config {
	return Config{
		PublisherKey:   pubSecret,
		SubscriberKey:  subSecret,
		Issuer:         testIssuer,
		ResourceID:     testHub,
		PublishOrigins: []string{"https://app.test"},
		TopicOptions:   topic.Options{Base: testHub},
		Now:            fixedNow,
		Logger:         quietLog,
	}
}

var quietLog = slog.New(slog.DiscardHandler)

func newAuth(t testing.TB, mutate ...func(*Config)) *Authorizer {
	t.Helper()
	cfg := baseConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign builds a compact JWS from an arbitrary header and claims (a string
// is used verbatim as the claims JSON), signed with alg and key.
func sign(t testing.TB, alg string, key any, header map[string]any, claims any) string {
	t.Helper()
	h := map[string]any{"alg": alg}
	for k, v := range header {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var cj []byte
	switch c := claims.(type) {
	case string:
		cj = []byte(c)
	default:
		if cj, err = json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	}
	input := b64(hj) + "." + b64(cj)
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		t.Fatalf("no method %s", alg)
	}
	sig, err := m.Sign(input, key)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return input + "." + b64(sig)
}

var modernHeader = map[string]any{"typ": "at+jwt"}

// modernClaims returns valid draft-08 claims carrying details.
func modernClaims(details ...any) map[string]any {
	if details == nil {
		details = []any{}
	}
	return map[string]any{
		"iss":                   testIssuer,
		"aud":                   testHub,
		"exp":                   testNow.Unix() + 3600,
		"iat":                   testNow.Unix(),
		"sub":                   "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
		"client_id":             testIssuer,
		"jti":                   "urn:uuid:e70ff8d7-59d5-4a92-b0b7-505e8f6d09fa",
		"authorization_details": details,
	}
}

// ad is a Mercure authorization detail.
func ad(actions []string, topics ...any) map[string]any {
	return map[string]any{"type": DetailType, "actions": actions, "topics": topics}
}

func exact(m string) map[string]any { return map[string]any{"match": m} }

func urlpattern(m string) map[string]any {
	return map[string]any{"match": m, "match_type": "urlpattern"}
}

var (
	sub = []string{"subscribe"}
	pub = []string{"publish"}
)

// modernToken signs claims as a modern HS256 token with key.
func modernToken(t testing.TB, key []byte, claims any) string {
	t.Helper()
	return sign(t, "HS256", key, modernHeader, claims)
}

// legacyToken signs claims as a legacy HS256 token (typ JWT).
func legacyToken(t testing.TB, key []byte, claims any) string {
	t.Helper()
	return sign(t, "HS256", key, map[string]any{"typ": "JWT"}, claims)
}

func bearerRequest(method, tok string) *http.Request {
	r := httptest.NewRequest(method, testURL, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// authErr asserts err is an *Error with the status and code.
func authErr(t testing.TB, err error, status int, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error %d %q, got %v", status, code, err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("want %d %q, got %d %q (reason %q)", status, code, e.Status, e.Code, e.Reason)
	}
	if e.Reason == "" {
		t.Fatalf("error without a reason: %#v", e)
	}
	return e
}

// mustGrant runs Authenticate and expects success.
func mustGrant(t testing.TB, a *Authorizer, r *http.Request, role Role) *Grant {
	t.Helper()
	g, err := a.Authenticate(r, role)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if g == nil {
		t.Fatal("Authenticate: no grant, want one")
	}
	return g
}

// mustInvalid expects 401 invalid_token and returns the reason.
func mustInvalid(t testing.TB, a *Authorizer, r *http.Request, role Role) string {
	t.Helper()
	g, err := a.Authenticate(r, role)
	if g != nil {
		t.Fatalf("got a grant, want 401 invalid_token")
	}
	return authErr(t, err, http.StatusUnauthorized, CodeInvalidToken).Reason
}

// Keys are generated once: RSA generation is slow under -race.
var (
	keysOnce                   sync.Once
	rsaKey, rsaKey2            *rsa.PrivateKey
	ecKey, ecKey2, ec384Key    *ecdsa.PrivateKey
	edPub                      ed25519.PublicKey
	edKey                      ed25519.PrivateKey
	rsaPubPEM, rsaPrivPEM      []byte
	ecPubPEM, ecPrivPEM        []byte
	ec384PubPEM, edPubPEM      []byte
	edPrivPEM, rsaPKCS1PrivPEM []byte
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		edPub, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		pubPEM := func(k any) []byte {
			der, err := x509.MarshalPKIXPublicKey(k)
			must(err)
			return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		}
		privPEM := func(k any) []byte {
			der, err := x509.MarshalPKCS8PrivateKey(k)
			must(err)
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
		rsaPubPEM, rsaPrivPEM = pubPEM(&rsaKey.PublicKey), privPEM(rsaKey)
		rsaPKCS1PrivPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
		ecPubPEM, ecPrivPEM = pubPEM(&ecKey.PublicKey), privPEM(ecKey)
		ec384PubPEM = pubPEM(&ec384Key.PublicKey)
		edPubPEM, edPrivPEM = pubPEM(edPub), privPEM(edKey)
	})
}

func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	return httptest.NewRequest(method, target, nil)
}

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
