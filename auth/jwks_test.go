package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a JWK Set that tests can swap, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	status  int
	fetches atomic.Int32
	block   chan struct{} // non-nil: requests wait for it to close
}

func newJWKSServer(t testing.TB, jwks ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.set(jwks...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		block, body, status := s.block, s.body, s.status
		s.mu.Unlock()
		if block != nil {
			<-block
		}
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(jwks ...map[string]any) {
	if jwks == nil {
		jwks = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.body = string(b)
	s.mu.Unlock()
}

func (s *jwksServer) setRaw(status int, body string) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// ecXY returns the coordinates of a P-256 public key, from its uncompressed
// encoding (0x04 || X || Y).
func ecXY(t testing.TB, pub *ecdsa.PublicKey) (x, y []byte) {
	t.Helper()
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		t.Fatalf("encoding the EC public key: %v", err)
	}
	return b[1:33], b[33:]
}

func ecJWK(t testing.TB, k *ecdsa.PrivateKey, kid string) map[string]any {
	x, y := ecXY(t, &k.PublicKey)
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(x), "y": b64(y)}
}

func rsaJWK(k *rsa.PrivateKey, kid, alg string) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid,
		"n": b64(k.PublicKey.N.Bytes()), "e": b64(big.NewInt(int64(k.PublicKey.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func edJWK(pub ed25519.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pub)}
}

// jwksAuth is an Authorizer with only a JWKS.
func jwksAuth(t testing.TB, url string, mutate ...func(*Config)) *Authorizer {
	return newAuth(t, append([]func(*Config){func(c *Config) {
		c.PublisherKey, c.SubscriberKey = nil, nil
		c.JWKSURL = url
	}}, mutate...)...)
}

func kidToken(t testing.TB, alg string, key any, kid string) string {
	hdr := map[string]any{"typ": "at+jwt"}
	if kid != "" {
		hdr["kid"] = kid
	}
	return sign(t, alg, key, hdr, subscribeAll())
}

func TestJWKS_VerifiesByKid(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "ec1"), rsaJWK(rsaKey, "rsa1", "RS256"), edJWK(edPub, "ed1"))
	a := jwksAuth(t, srv.URL)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "ec1")), Subscriber)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "RS256", rsaKey, "rsa1")), Subscriber)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "EdDSA", edKey, "ed1")), Subscriber)
	// Both roles use the set; legacy tokens too.
	legacy := sign(t, "ES256", ecKey, map[string]any{"kid": "ec1"}, `{"mercure":{"publish":["*"]}}`)
	mustGrant(t, a, bearerRequest("POST", legacy), Publisher)
	// The kid selects the key: another key's kid fails.
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "ed1")), Subscriber)
	// Without a kid, every usable key is tried.
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey2, "")), Subscriber)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (cached)", n)
	}
}

func TestJWKS_RotationUnknownKidRefreshes(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "old"))
	a := jwksAuth(t, srv.URL)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "old")), Subscriber)

	srv.set(ecJWK(t, ecKey2, "new"))
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey2, "new")), Subscriber)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one refresh for the unknown kid)", n)
	}
	// The old key is gone with the refresh (revocation), and a further
	// unknown kid does not refetch within the rate limit.
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "old")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "forged")), Subscriber)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (unknown kids are rate-limited)", n)
	}
}

func TestJWKS_PeriodicRefresh(t *testing.T) {
	srv := newJWKSServer(t)
	jwksAuth(t, srv.URL, func(c *Config) { c.JWKSRefreshInterval = 20 * time.Millisecond })
	deadline := time.Now().Add(10 * time.Second)
	for srv.fetches.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d fetches", srv.fetches.Load())
		}
		time.Sleep(5 * time.Millisecond) // polling, not synchronisation
	}
}

func TestJWKS_FailedFirstFetchDoesNotBlockStartup(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t)
	srv.setRaw(http.StatusServiceUnavailable, "down")
	a := jwksAuth(t, srv.URL)
	deadline := time.Now().Add(10 * time.Second)
	for srv.fetches.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no first fetch")
		}
		time.Sleep(time.Millisecond) // polling, not synchronisation
	}
	// The first fetch failed and the set is empty. Once the server is back,
	// the first token with a kid refreshes it.
	srv.setRaw(http.StatusOK, "")
	srv.set(ecJWK(t, ecKey, "k"))
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "k")), Subscriber)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestJWKS_UnreachableServerDoesNotDelayNew(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "k"))
	release := make(chan struct{})
	srv.mu.Lock()
	srv.block = release
	srv.mu.Unlock()
	defer close(release)

	start := time.Now()
	a, err := New(Config{JWKSURL: srv.URL, Issuer: testIssuer, Now: fixedNow, Logger: quietLog,
		HTTPClient: &http.Client{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("New waited %v for the JWKS", d)
	}
	// A request waiting for the first fetch gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := bearerRequest("GET", kidToken(t, "ES256", ecKey, "k")).WithContext(ctx)
	mustInvalid(t, a, r, Subscriber)
	// Close aborts the pending fetch rather than waiting a minute.
	start = time.Now()
	a.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close waited %v", d)
	}
}

func TestJWKS_AlgAllowlist(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "ec"), rsaJWK(rsaKey, "rsa", ""))
	a := jwksAuth(t, srv.URL, func(c *Config) { c.JWKSAlgs = []string{"ES256"} })
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "ec")), Subscriber)
	if reason := mustInvalid(t, a, bearerRequest("GET", kidToken(t, "RS256", rsaKey, "rsa")), Subscriber); !strings.Contains(reason, "alg") {
		t.Fatalf("reason %q", reason)
	}
	// HS256 with an RSA key's bytes is never on a JWKS allowlist.
	mustInvalid(t, a, bearerRequest("GET", sign(t, "HS256", []byte("x"), map[string]any{"typ": "at+jwt", "kid": "rsa"}, subscribeAll())), Subscriber)
}

func TestJWKS_KeyUseAndAlgRespected(t *testing.T) {
	keys(t)
	enc := ecJWK(t, ecKey, "enc")
	enc["use"] = "enc"
	srv := newJWKSServer(t, enc, rsaJWK(rsaKey, "rs512", "RS512"))
	a := jwksAuth(t, srv.URL)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "enc")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "RS256", rsaKey, "rs512")), Subscriber)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "RS512", rsaKey, "rs512")), Subscriber)
	// The key type must fit the alg even when the JWK has no alg.
	srv2 := newJWKSServer(t, rsaJWK(rsaKey, "r", ""))
	b := jwksAuth(t, srv2.URL)
	mustInvalid(t, b, bearerRequest("GET", kidToken(t, "ES256", ecKey, "r")), Subscriber)
	mustGrant(t, b, bearerRequest("GET", kidToken(t, "PS256", rsaKey, "r")), Subscriber)
}

// TestTV4_JWKSTokenKeyHeadersIgnored: key material in the token is never
// used, whether or not its kid is known.
func TestTV4_JWKSTokenKeyHeadersIgnored(t *testing.T) {
	keys(t)
	attacker := newJWKSServer(t, ecJWK(t, ecKey2, "evil"))
	srv := newJWKSServer(t, ecJWK(t, ecKey, "good"))
	a := jwksAuth(t, srv.URL)
	for _, kid := range []string{"good", "evil", ""} {
		hdr := map[string]any{"typ": "at+jwt", "jwk": ecJWK(t, ecKey2, kid), "jku": attacker.URL, "x5u": attacker.URL}
		if kid != "" {
			hdr["kid"] = kid
		}
		mustInvalid(t, a, bearerRequest("GET", sign(t, "ES256", ecKey2, hdr, subscribeAll())), Subscriber)
	}
	if n := attacker.fetches.Load(); n != 0 {
		t.Fatalf("the attacker's JWKS was fetched %d times", n)
	}
}

func TestJWKS_WithStaticKey(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "k"))
	a := newAuth(t, func(c *Config) { c.JWKSURL = srv.URL })
	// HS256 goes to the static secret, ES256 to the set.
	mustGrant(t, a, bearerRequest("GET", modernToken(t, subSecret, subscribeAll())), Subscriber)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "k")), Subscriber)
	// The static secret is still per role.
	mustInvalid(t, a, bearerRequest("GET", modernToken(t, pubSecret, subscribeAll())), Subscriber)
}

func TestJWKS_ResponseSizeLimited(t *testing.T) {
	keys(t)
	jwk, _ := json.Marshal(ecJWK(t, ecKey, "k"))
	srv := newJWKSServer(t)
	srv.setRaw(http.StatusOK, `{"keys":[`+string(jwk)+strings.Repeat(" ", maxJWKSBytes)+`]}`)
	a := jwksAuth(t, srv.URL)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "k")), Subscriber)

	// Just under the limit is fine.
	body := `{"keys":[` + string(jwk) + `]}`
	srv2 := newJWKSServer(t)
	srv2.setRaw(http.StatusOK, body[:len(body)-2]+strings.Repeat(" ", maxJWKSBytes-len(body))+`]}`)
	b := jwksAuth(t, srv2.URL)
	mustGrant(t, b, bearerRequest("GET", kidToken(t, "ES256", ecKey, "k")), Subscriber)
}

// TestAuthenticateConcurrent exercises one Authorizer from many goroutines
// (run with -race): static keys, the JWKS cache and an unknown-kid refresh.
func TestAuthenticateConcurrent(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey, "a"))
	a := newAuth(t, func(c *Config) { c.JWKSURL = srv.URL })
	legacy := legacySubscriber(t)
	modern := kidToken(t, "ES256", ecKey, "a")
	srv.set(ecJWK(t, ecKey, "a"), ecJWK(t, ecKey2, "b"))
	rotated := kidToken(t, "ES256", ecKey2, "b")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tok := range []string{legacy, modern, rotated} {
				r := bearerRequest("GET", tok)
				if i%2 == 1 {
					r = mustRequest(t, "GET", testURL)
					r.AddCookie(&http.Cookie{Name: ModernCookieName, Value: tok})
				}
				if g, err := a.Authenticate(r, Subscriber); err != nil || g == nil {
					errs <- fmt.Errorf("token %.20s…: %v", tok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestJWKS_StaticAndJWKSSameAlg: when the static key and the set both
// accept the alg, a kid points into the set and no kid means the static key.
func TestJWKS_StaticAndJWKSSameAlg(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, ecJWK(t, ecKey2, "set"))
	a := newAuth(t, func(c *Config) {
		c.JWKSURL = srv.URL
		c.SubscriberKey, c.SubscriberAlg = ecPubPEM, "ES256"
	})
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "")), Subscriber)
	mustGrant(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey2, "set")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey2, "")), Subscriber)
	mustInvalid(t, a, bearerRequest("GET", kidToken(t, "ES256", ecKey, "set")), Subscriber)
}
