package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hermes-hub/hermes/hub/topic"
)

const (
	defaultHubPath       = "/.well-known/mercure"
	defaultMaxTokenBytes = 16 << 10
	claimDetails         = "authorization_details"
)

// Authorizer finds and verifies the tokens of requests. It is safe for
// concurrent use. Close it to stop the JWKS refresh.
type Authorizer struct {
	issuer     string
	resourceID string
	hubPath    string
	cookies    []string
	origins    []originPattern
	maxToken   int
	topicOpt   topic.Options
	now        func() time.Time
	log        *slog.Logger

	keys     [2]*staticKey // by Role; nil: no static key for the role
	jwksAlgs []string      // nil without a JWKS
	jwks     *jwksSource
	parsers  [2]*jwt.Parser // by Role
}

// Validate checks cfg without starting anything (no JWKS fetch).
func (cfg Config) Validate() error {
	_, err := cfg.compile()
	return err
}

// New validates cfg and returns an Authorizer. A JWKS is fetched in the
// background: an unreachable JWKS never makes New fail or wait.
func New(cfg Config) (*Authorizer, error) {
	a, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if cfg.JWKSURL != "" {
		if a.jwks, err = newJWKSSource(cfg, a.jwksAlgs, a.log); err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
	}
	return a, nil
}

// Close stops the JWKS refresh. The Authorizer keeps verifying with the
// keys it already has.
func (a *Authorizer) Close() {
	if a.jwks != nil {
		a.jwks.close()
	}
}

// compile turns cfg into an Authorizer without its JWKS source.
func (cfg Config) compile() (*Authorizer, error) {
	a := &Authorizer{
		issuer:     cfg.Issuer,
		resourceID: cfg.ResourceID,
		hubPath:    cfg.HubPath,
		cookies:    cfg.CookieNames,
		maxToken:   cfg.MaxTokenBytes,
		topicOpt:   cfg.TopicOptions,
		now:        cfg.Now,
		log:        cfg.Logger,
	}
	if a.hubPath == "" {
		a.hubPath = defaultHubPath
	} else if !strings.HasPrefix(a.hubPath, "/") {
		return nil, fmt.Errorf("auth config: hub path %q must start with /", a.hubPath)
	}
	if a.cookies == nil {
		a.cookies = []string{LegacyCookieName, ModernCookieName}
	}
	for _, c := range a.cookies {
		if c == "" || strings.ContainsAny(c, " \t\r\n;=,\"") {
			return nil, fmt.Errorf("auth config: invalid cookie name %q", c)
		}
	}
	if a.maxToken < 0 {
		return nil, errors.New("auth config: negative MaxTokenBytes")
	}
	if a.maxToken == 0 {
		a.maxToken = defaultMaxTokenBytes
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	var err error
	if a.origins, err = compileOrigins(cfg.PublishOrigins); err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}

	for _, k := range []struct {
		role Role
		key  []byte
		alg  string
	}{
		{Publisher, cfg.PublisherKey, firstNonEmpty(cfg.PublisherAlg, cfg.Alg)},
		{Subscriber, cfg.SubscriberKey, firstNonEmpty(cfg.SubscriberAlg, cfg.Alg)},
	} {
		role := k.role
		if strings.EqualFold(k.alg, "none") {
			return nil, fmt.Errorf("auth config: %s key: alg \"none\" is never accepted", role)
		}
		if len(k.key) == 0 {
			continue
		}
		sk, err := newStaticKey(k.key, k.alg)
		if err != nil {
			return nil, fmt.Errorf("auth config: %s key: %w", role, err)
		}
		a.keys[role] = sk
	}

	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
		algs := cfg.JWKSAlgs
		if len(algs) == 0 {
			algs = defaultJWKSAlgs
		}
		for _, alg := range algs {
			if !slices.Contains(asymmetricAlgs, alg) {
				// HS* included: a JWKS fetched over the network is no
				// place for shared secrets, and "none" is never allowed.
				return nil, fmt.Errorf("auth config: JWKS alg %q not allowed (want EdDSA, ES*, RS* or PS*)", alg)
			}
		}
		a.jwksAlgs = slices.Clone(algs)
	} else if len(cfg.JWKSAlgs) > 0 {
		return nil, errors.New("auth config: JWKS algs given without a JWKS URL")
	}

	for _, role := range []Role{Publisher, Subscriber} {
		var algs []string
		if k := a.keys[role]; k != nil {
			algs = append(algs, k.alg)
		}
		for _, alg := range a.jwksAlgs {
			if !slices.Contains(algs, alg) {
				algs = append(algs, alg)
			}
		}
		// The allowlist comes from configuration only, never from the
		// token (TV-3); claims are checked by Hermes per dialect.
		a.parsers[role] = jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithoutClaimsValidation())
	}
	return a, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// String names a role in logs and errors.
func (r Role) String() string {
	switch r {
	case Publisher:
		return "publisher"
	case Subscriber:
		return "subscriber"
	default:
		return fmt.Sprintf("Role(%d)", int(r))
	}
}

// ResourceID returns the configured resource identifier, or derives it from
// r as scheme://Host + hub path (TV-6), the scheme being https when r came
// over TLS. Forwarded headers are not trusted here: a proxy setup must
// configure the identifier.
func (a *Authorizer) ResourceID(r *http.Request) string {
	if a.resourceID != "" {
		return a.resourceID
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	// Hosts are case-insensitive; issuers write them in lower case.
	return scheme + "://" + strings.ToLower(host) + a.hubPath
}

// Authenticate finds and verifies the token r presents for role. It returns
// (nil, nil) only when no token is presented at all; any other failure is an
// *Error, so a present but invalid token is never treated as anonymous
// (LEG-5).
func (a *Authorizer) Authenticate(r *http.Request, role Role) (*Grant, error) {
	if role != Publisher && role != Subscriber {
		return nil, &Error{Status: http.StatusInternalServerError, Reason: "unknown role " + role.String()}
	}
	p, perr := a.findToken(r)
	if perr != nil {
		return nil, perr
	}
	if p == nil {
		return nil, nil
	}
	if role == Publisher && p.src == fromCookie {
		if err := a.checkCSRF(r); err != nil {
			return nil, err
		}
	}
	g, verr := a.verify(r, role, p.token)
	if verr != nil {
		verr.Reason = p.where() + ": " + verr.Reason
		return nil, verr
	}
	if p.src == fromQuery && g.Modern {
		// The query parameter exists for 0.x clients only; draft-08 forbids
		// tokens in URLs (AUTH-7), so a modern token there is refused.
		return nil, invalidToken("%s: draft-08 token presented in the URL", p.where())
	}
	return g, nil
}

// verify checks the signature and the claims of a token for role and
// turns it into a Grant.
func (a *Authorizer) verify(r *http.Request, role Role, raw string) (*Grant, *Error) {
	if a.keys[role] == nil && a.jwks == nil {
		return nil, invalidToken("no key configured for %s tokens", role)
	}
	ctx := r.Context()
	holder := &tokenClaims{}
	tok, err := a.parsers[role].ParseWithClaims(raw, holder, func(t *jwt.Token) (any, error) {
		return a.keyFor(ctx, role, t)
	})
	if err != nil {
		return nil, invalidToken("%s", a.describe(role, tok, err))
	}
	if !holder.decoded {
		return nil, invalidToken("claims: not a JSON object")
	}
	claims := holder.m
	if _, ok := tok.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient that does not understand the
		// listed extensions must reject; Hermes understands none.
		return nil, invalidToken("header crit: unsupported extensions")
	}
	typ, _ := tok.Header["typ"].(string)
	_, hasDetails := claims[claimDetails]
	if hasDetails || isATJWT(typ) {
		return a.verifyModern(r, typ, claims)
	}
	return a.verifyLegacy(claims)
}

// keyFor selects the trusted key for t among the role's static key and the
// JWKS, by alg (and kid when both could apply). The token can choose among
// trusted keys, never introduce one (TV-4).
func (a *Authorizer) keyFor(ctx context.Context, role Role, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	sk := a.keys[role]
	useStatic := sk != nil && sk.alg == alg
	useJWKS := a.jwks != nil && slices.Contains(a.jwksAlgs, alg)
	if useStatic && useJWKS {
		// Both accept this alg: a kid points into the key set.
		if _, hasKID := t.Header["kid"]; hasKID {
			useStatic = false
		} else {
			useJWKS = false
		}
	}
	switch {
	case useStatic:
		return sk.key, nil
	case useJWKS:
		return a.jwks.key(ctx, t)
	}
	return nil, fmt.Errorf("no %s key for alg %s", role, alg)
}

// describe turns a golang-jwt error into a Reason naming the failed rule.
func (a *Authorizer) describe(role Role, tok *jwt.Token, err error) string {
	if tok != nil {
		if alg, ok := tok.Header["alg"].(string); ok {
			allowed := a.jwksAlgs
			if k := a.keys[role]; k != nil {
				allowed = append(slices.Clone(allowed), k.alg)
			}
			if !slices.Contains(allowed, alg) {
				return fmt.Sprintf("alg %q not accepted", alg)
			}
		} else if tok.Header != nil {
			return "alg missing"
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed: " + err.Error()
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "no verification key: " + err.Error()
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature invalid"
	}
	return err.Error()
}

// isATJWT reports whether typ is the JWT access token media type (TV-2).
func isATJWT(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// verifyModern applies every draft-08 check (TV-2, TV-5..7, AD-*, TML-*).
func (a *Authorizer) verifyModern(r *http.Request, typ string, c rawClaims) (*Grant, *Error) {
	if !isATJWT(typ) {
		return nil, invalidToken("typ %q is not at+jwt (draft-08 token)", typ)
	}
	if a.issuer == "" {
		return nil, invalidToken("draft-08 tokens are refused: no issuer configured")
	}
	var iss string
	if raw, ok := c["iss"]; !ok || json.Unmarshal(raw, &iss) != nil || isNull(raw) {
		return nil, invalidToken("issuer: iss missing or not a string")
	}
	if iss != a.issuer {
		return nil, invalidToken("issuer: iss %q is not the configured issuer", iss)
	}
	exp, err := checkTimes(c, a.now(), true, false)
	if err != nil {
		return nil, invalidToken("%v", err)
	}
	want := a.ResourceID(r)
	if err := checkAudience(c["aud"], want); err != nil {
		return nil, invalidToken("audience: %v", err)
	}
	var details []detail
	if raw, ok := c[claimDetails]; ok {
		if details, err = parseAuthorizationDetails(raw, a.topicOpt); err != nil {
			return nil, invalidToken("%v", err)
		}
	}
	return newModernGrant(details, exp), nil
}

// checkAudience checks that aud, a string or an array of strings, contains
// want (TV-6).
func checkAudience(raw json.RawMessage, want string) error {
	if raw == nil || isNull(raw) {
		return errors.New("aud missing")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == want {
			return nil
		}
		return fmt.Errorf("aud %q does not contain %q", one, want)
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		return errors.New("aud is neither a string nor an array")
	}
	found := false
	for _, m := range many {
		var s string
		if json.Unmarshal(m, &s) != nil || isNull(m) {
			return errors.New("aud array holds a non-string")
		}
		found = found || s == want
	}
	if !found {
		return fmt.Errorf("aud array does not contain %q", want)
	}
	return nil
}

// verifyLegacy applies the 0.x checks (LEG-8): exp and nbf only when
// present, fractional or numeric strings allowed; no iss, aud or typ.
func (a *Authorizer) verifyLegacy(c rawClaims) (*Grant, *Error) {
	exp, err := checkTimes(c, a.now(), false, true)
	if err != nil {
		return nil, invalidToken("%v", err)
	}
	lg, err := parseLegacyClaim(c, a.topicOpt)
	if err != nil {
		return nil, invalidToken("%v", err)
	}
	return &Grant{Expires: exp, Publish: lg.publish, Subscribe: lg.subscribe, Payload: lg.payload}, nil
}
