package auth

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

func subscribeAll() map[string]any { return modernClaims(ad(sub, exact("*"))) }

func TestTV2_TypMustBeAtJWT(t *testing.T) {
	a := newAuth(t)
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		tok := sign(t, "HS256", subSecret, map[string]any{"typ": typ}, subscribeAll())
		if g := mustGrant(t, a, bearerRequest("GET", tok), Subscriber); !g.Modern {
			t.Fatalf("typ %s: not modern", typ)
		}
	}
	// A token with authorization_details is draft-08 and needs the typ.
	for _, hdr := range []map[string]any{{"typ": "JWT"}, {}, {"typ": "at+jwt+x"}, {"typ": 1}} {
		tok := sign(t, "HS256", subSecret, hdr, subscribeAll())
		if reason := mustInvalid(t, a, bearerRequest("GET", tok), Subscriber); !strings.Contains(reason, "typ") {
			t.Errorf("header %v: reason %q does not name typ", hdr, reason)
		}
	}
	// typ at+jwt alone makes a token draft-08, with every check.
	tok := sign(t, "HS256", subSecret, modernHeader, `{"mercure":{"subscribe":["*"]}}`)
	mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
}

func TestTV3_AlgNoneRejected(t *testing.T) {
	a := newAuth(t)
	for _, alg := range []string{"none", "None", "NONE"} {
		hj := `{"alg":"` + alg + `","typ":"JWT"}`
		tok := b64([]byte(hj)) + "." + b64([]byte(`{"mercure":{"publish":["*"]}}`)) + "."
		if reason := mustInvalid(t, a, bearerRequest("POST", tok), Publisher); !strings.Contains(reason, "alg") {
			t.Errorf("alg %s: reason %q", alg, reason)
		}
	}
	for _, cfg := range []Config{
		{PublisherKey: pubSecret, Alg: "none"},
		{PublisherKey: pubSecret, PublisherAlg: "none"},
		{JWKSURL: "https://as.test/jwks", JWKSAlgs: []string{"none"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// TestTV3_AlgorithmConfusion: an HS256 token whose HMAC key is the hub's
// RSA public key must not verify.
func TestTV3_AlgorithmConfusion(t *testing.T) {
	keys(t)
	a := newAuth(t, func(c *Config) { c.PublisherKey, c.PublisherAlg = rsaPubPEM, "RS256" })
	claims := `{"mercure":{"publish":["*"]}}`
	forged := sign(t, "HS256", rsaPubPEM, map[string]any{"typ": "JWT"}, claims)
	mustInvalid(t, a, bearerRequest("POST", forged), Publisher)
	// The genuine RS256 token passes, so the refusal above is the alg's.
	genuine := sign(t, "RS256", rsaKey, map[string]any{"typ": "JWT"}, claims)
	mustGrant(t, a, bearerRequest("POST", genuine), Publisher)
}

func TestTV3_AlgPinnedToConfiguration(t *testing.T) {
	a := newAuth(t)
	claims := `{"mercure":{"publish":["*"]}}`
	// Same secret, another HMAC alg: never taken from the token.
	for _, alg := range []string{"HS384", "HS512"} {
		tok := sign(t, alg, pubSecret, nil, claims)
		if reason := mustInvalid(t, a, bearerRequest("POST", tok), Publisher); !strings.Contains(reason, "alg") {
			t.Errorf("%s: reason %q", alg, reason)
		}
	}
	// A configured HS512 accepts HS512 only.
	a = newAuth(t, func(c *Config) { c.Alg = "HS512" })
	mustGrant(t, a, bearerRequest("POST", sign(t, "HS512", pubSecret, nil, claims)), Publisher)
	mustInvalid(t, a, bearerRequest("POST", sign(t, "HS256", pubSecret, nil, claims)), Publisher)
}

func TestTV3_KeyMustFitAlg(t *testing.T) {
	keys(t)
	bad := map[string]Config{
		"PEM without alg":        {PublisherKey: rsaPubPEM},
		"PEM with HS256":         {PublisherKey: rsaPubPEM, Alg: "HS256"},
		"RSA key for ES256":      {PublisherKey: rsaPubPEM, Alg: "ES256"},
		"RSA key for EdDSA":      {PublisherKey: rsaPubPEM, Alg: "EdDSA"},
		"P-384 key for ES256":    {PublisherKey: ec384PubPEM, Alg: "ES256"},
		"P-256 key for ES512":    {PublisherKey: ecPubPEM, Alg: "ES512"},
		"EC key for RS256":       {PublisherKey: ecPubPEM, Alg: "RS256"},
		"Ed25519 key for ES256":  {PublisherKey: edPubPEM, Alg: "ES256"},
		"secret for RS256":       {PublisherKey: pubSecret, Alg: "RS256"},
		"unknown alg":            {PublisherKey: pubSecret, Alg: "HS1"},
		"broken PEM":             {PublisherKey: []byte("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"), Alg: "RS256"},
		"HS256 in JWKS algs":     {JWKSURL: "https://as.test/jwks", JWKSAlgs: []string{"HS256"}},
		"JWKS algs without URL":  {JWKSAlgs: []string{"ES256"}},
		"relative JWKS URL":      {JWKSURL: "/jwks"},
		"subscriber PEM bad alg": {SubscriberKey: ecPubPEM, Alg: "RS256"},
		"unsupported PEM block":  {PublisherKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), Alg: "EdDSA"},
	}
	for name, cfg := range bad {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if a, err := New(cfg); err == nil {
			a.Close()
			t.Errorf("%s: New accepted", name)
		}
	}
	good := map[string]Config{
		"RSA RS256":           {PublisherKey: rsaPubPEM, Alg: "RS256"},
		"RSA PS384":           {PublisherKey: rsaPubPEM, Alg: "PS384"},
		"RSA private key":     {PublisherKey: rsaPrivPEM, Alg: "RS512"},
		"PKCS1 private key":   {PublisherKey: rsaPKCS1PrivPEM, Alg: "RS256"},
		"P-256 ES256":         {PublisherKey: ecPubPEM, Alg: "ES256"},
		"P-384 ES384":         {PublisherKey: ec384PubPEM, Alg: "ES384"},
		"EC private key":      {PublisherKey: ecPrivPEM, Alg: "ES256"},
		"Ed25519 EdDSA":       {PublisherKey: edPubPEM, Alg: "EdDSA"},
		"Ed25519 private key": {PublisherKey: edPrivPEM, Alg: "EdDSA"},
		"secret default":      {PublisherKey: pubSecret},
		"per-role algs":       {PublisherKey: pubSecret, SubscriberKey: ecPubPEM, SubscriberAlg: "ES256"},
		"PKCS1 public key":    {PublisherKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}), Alg: "RS256"},
		"certificate":         {PublisherKey: selfSignedCert(t), Alg: "ES256"},
	}
	for name, cfg := range good {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func selfSignedCert(t testing.TB) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTV3_AsymmetricStaticKeys(t *testing.T) {
	keys(t)
	claims := `{"mercure":{"publish":["*"]}}`
	for _, c := range []struct {
		alg  string
		pem  []byte
		priv any
	}{
		{"RS256", rsaPubPEM, rsaKey},
		{"PS256", rsaPubPEM, rsaKey},
		{"ES256", ecPubPEM, ecKey},
		{"EdDSA", edPubPEM, edKey},
		{"EdDSA", edPrivPEM, edKey}, // the public half of a private key
	} {
		a := newAuth(t, func(cfg *Config) { cfg.PublisherKey, cfg.PublisherAlg = c.pem, c.alg })
		mustGrant(t, a, bearerRequest("POST", sign(t, c.alg, c.priv, nil, claims)), Publisher)
	}
}

func TestTV4_WrongKeyRejected(t *testing.T) {
	keys(t)
	a := newAuth(t)
	claims := `{"mercure":{"publish":["*"],"subscribe":["*"]}}`
	// Signed with another secret.
	mustInvalid(t, a, bearerRequest("POST", legacyToken(t, []byte("attacker secret 0123456789abcdef"), claims)), Publisher)
	// Publisher and subscriber keys are separate.
	mustInvalid(t, a, bearerRequest("POST", legacyToken(t, subSecret, claims)), Publisher)
	mustInvalid(t, a, bearerRequest("GET", legacyToken(t, pubSecret, claims)), Subscriber)
	mustGrant(t, a, bearerRequest("GET", legacyToken(t, subSecret, claims)), Subscriber)

	// A token carrying its own key (jwk header) signed with that key: the
	// header is never used.
	ec := newAuth(t, func(c *Config) { c.PublisherKey, c.PublisherAlg = ecPubPEM, "ES256" })
	x, y := ecXY(t, &ecKey2.PublicKey)
	hdr := map[string]any{
		"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)},
		"jku": "https://attacker.test/jwks",
		"x5u": "https://attacker.test/cert",
	}
	mustInvalid(t, ec, bearerRequest("POST", sign(t, "ES256", ecKey2, hdr, claims)), Publisher)
	mustGrant(t, ec, bearerRequest("POST", sign(t, "ES256", ecKey, hdr, claims)), Publisher)
}

func TestTV4_RoleWithoutKeyRejectsTokens(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.SubscriberKey = nil })
	tok := legacyToken(t, pubSecret, `{"mercure":{"subscribe":["*"]}}`)
	mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
	if g, err := a.Authenticate(mustRequest(t, "GET", testURL), Subscriber); g != nil || err != nil {
		t.Fatal("no token must stay anonymous")
	}
}

func TestTV5_ExpRequiredAndEnforced(t *testing.T) {
	a := newAuth(t)
	with := func(k string, v any) string {
		c := subscribeAll()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return modernToken(t, subSecret, c)
	}
	now := testNow.Unix()
	for name, tok := range map[string]string{
		"no exp":         with("exp", nil),
		"exp past":       with("exp", now-1),
		"exp now":        with("exp", now),
		"exp string":     with("exp", "1900000000"),
		"exp null":       with("exp", json.RawMessage("null")),
		"nbf future":     with("nbf", now+1),
		"nbf fractional": with("nbf", float64(now)+0.5),
		"exp bool":       with("exp", true),
	} {
		mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
		_ = name
	}
	g := mustGrant(t, a, bearerRequest("GET", with("nbf", now)), Subscriber)
	if !g.Expires.Equal(time.Unix(now+3600, 0)) {
		t.Fatalf("Expires = %v", g.Expires)
	}
	g = mustGrant(t, a, bearerRequest("GET", with("exp", float64(now)+0.25)), Subscriber)
	if !g.Expires.Equal(time.Unix(now, 250_000_000)) {
		t.Fatalf("fractional Expires = %v", g.Expires)
	}
}

func TestTV6_Audience(t *testing.T) {
	a := newAuth(t)
	with := func(aud any) string {
		c := subscribeAll()
		if aud == nil {
			delete(c, "aud")
		} else {
			c["aud"] = aud
		}
		return modernToken(t, subSecret, c)
	}
	mustGrant(t, a, bearerRequest("GET", with(testHub)), Subscriber)
	mustGrant(t, a, bearerRequest("GET", with([]any{"x", testHub})), Subscriber)
	for _, aud := range []any{
		"https://other/.well-known/mercure",
		[]any{"x", "y"},
		[]any{},
		[]any{testHub, 1}, // a malformed aud is not partially accepted
		testHub + "/",
		"https://HUB.test/.well-known/mercure",
		nil,
		42,
	} {
		mustInvalid(t, a, bearerRequest("GET", with(aud)), Subscriber)
	}
}

// TestTV6_ResourceIDIsNeverDerivedFromTheRequest: the audience is the
// configured resource id whatever Host or scheme the request carries, and
// without one draft-08 tokens are refused (issue 10, finding 5).
func TestTV6_ResourceIDIsNeverDerivedFromTheRequest(t *testing.T) {
	a := newAuth(t)
	if got := a.ResourceID(); got != testHub {
		t.Fatalf("configured: %q", got)
	}
	tok := modernToken(t, subSecret, subscribeAll()) // aud testHub
	r := bearerRequest("GET", tok)
	r.Host = "other.test"
	r.TLS = &tls.ConnectionState{}
	mustGrant(t, a, r, Subscriber) // Host plays no part
	c := subscribeAll()
	c["aud"] = "https://other.test/.well-known/mercure"
	r = bearerRequest("GET", modernToken(t, subSecret, c))
	r.Host = "other.test"
	mustInvalid(t, a, r, Subscriber)

	none := newAuth(t, func(c *Config) { c.ResourceID = "" })
	if got := none.ResourceID(); got != "" {
		t.Fatalf("none configured: %q", got)
	}
	for _, host := range []string{"hub.test", "other.test"} {
		r := bearerRequest("GET", tok)
		r.Host = host
		_, err := none.Authenticate(r, Subscriber)
		if e := authErr(t, err, http.StatusUnauthorized, CodeInvalidToken); e.Rule != RuleNoResourceID {
			t.Errorf("Host %s: rule %q, want %q", host, e.Rule, RuleNoResourceID)
		}
	}
	// Legacy tokens have no audience and need no resource id.
	mustGrant(t, none, bearerRequest("GET", legacyToken(t, subSecret, `{"mercure":{"subscribe":["*"]}}`)), Subscriber)
}

func TestTV7_IssuerExactMatch(t *testing.T) {
	a := newAuth(t)
	for _, iss := range []any{testIssuer + "/", "https://ISSUER.test", "", nil, 7} {
		c := subscribeAll()
		if iss == nil {
			delete(c, "iss")
		} else {
			c["iss"] = iss
		}
		if reason := mustInvalid(t, a, bearerRequest("GET", modernToken(t, subSecret, c)), Subscriber); !strings.Contains(reason, "issuer") {
			t.Errorf("iss %v: reason %q", iss, reason)
		}
	}
	// Without a configured issuer, draft-08 tokens are refused and legacy
	// ones still work.
	noIss := newAuth(t, func(c *Config) { c.Issuer = "" })
	mustInvalid(t, noIss, bearerRequest("GET", modernToken(t, subSecret, subscribeAll())), Subscriber)
	mustGrant(t, noIss, bearerRequest("GET", legacySubscriber(t)), Subscriber)
}

func TestTV_CritHeaderRejected(t *testing.T) {
	a := newAuth(t)
	tok := sign(t, "HS256", subSecret, map[string]any{"typ": "at+jwt", "crit": []string{"exp"}}, subscribeAll())
	mustInvalid(t, a, bearerRequest("GET", tok), Subscriber)
}

func TestTV_ClaimsMustBeObject(t *testing.T) {
	a := newAuth(t)
	for _, claims := range []string{`null`, `[]`, `"x"`, `{`} {
		mustInvalid(t, a, bearerRequest("GET", legacyToken(t, subSecret, claims)), Subscriber)
	}
}
