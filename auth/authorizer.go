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

	grants  *clockCache[grantKey, cachedGrant] // grantcache.go
	details *clockCache[string, []detail]      // grantcache.go
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
		grants:     newClockCache[grantKey, cachedGrant](grantCacheBytes),
		details:    newClockCache[string, []detail](detailsCacheBytes),
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

// ResourceID returns the configured resource identifier (TV-6), "" when
// there is none. It is never derived from a request: the Host header is the
// client's to choose, and an audience taken from it would let a token
// issued for another hub of the same issuer in.
func (a *Authorizer) ResourceID() string {
	return a.resourceID
}

// Authenticate finds and verifies the token r presents for role. It returns
// (nil, nil) only when no token is presented at all; any other failure is an
// *Error, so a present but invalid token is never treated as anonymous
// (LEG-5).
func (a *Authorizer) Authenticate(r *http.Request, role Role) (*Grant, error) {
	if role != Publisher && role != Subscriber {
		return nil, errInternal("unknown role " + role.String())
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
	g, verr := a.verify(r.Context(), role, p.token, a.resourceID)
	if verr != nil {
		verr.Reason = p.where() + ": " + verr.Reason
		return nil, verr
	}
	if p.src == fromQuery && g.Modern {
		// The query parameter exists for 0.x clients only; draft-08 forbids
		// tokens in URLs (AUTH-7), so a modern token there is refused.
		e := invalidToken(RuleTokenInURL, "%s: draft-08 token presented in the URL", p.where())
		e.Dialect = DialectDraft08
		return nil, e
	}
	return g, nil
}

// verify checks the signature and the claims of a token for role and
// turns it into a Grant. resourceID is the aud a draft-08 token must
// contain. Every refusal names its Rule, and its Reason says in words an
// operator can act on what failed (`hermes token check` prints them).
func (a *Authorizer) verify(ctx context.Context, role Role, raw, resourceID string) (*Grant, *Error) {
	if a.keys[role] == nil && a.jwks == nil {
		return nil, invalidToken(RuleNoKey, "no key configured for %s tokens", role)
	}
	if g := a.cachedGrantFor(role, raw, resourceID); g != nil {
		return g, nil
	}
	holder := &tokenClaims{}
	var used *KeyRef
	tok, err := a.parsers[role].ParseWithClaims(raw, holder, func(t *jwt.Token) (any, error) {
		used = a.keyRef(role, t)
		return a.keyFor(ctx, role, t)
	})
	if err != nil {
		return nil, a.describe(role, tok, err)
	}
	if !holder.decoded {
		return nil, invalidToken(RuleMalformed, "claims are not a JSON object")
	}
	claims := holder.m
	if crit, ok := tok.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient that does not understand the
		// listed extensions must reject; Hermes understands none.
		return nil, invalidToken(RuleMalformed, "header crit %s: Hermes supports no JWS extensions", ShowJSON(crit))
	}
	typ, typIsString := tok.Header["typ"].(string)
	_, hasDetails := claims[claimDetails]
	var (
		g       *Grant
		e       *Error
		dialect = DialectLegacy
	)
	if hasDetails || (typIsString && isATJWT(typ)) {
		dialect = DialectDraft08
		g, e = a.verifyModern(tok.Header["typ"], claims, resourceID)
	} else {
		g, e = a.verifyLegacy(claims)
	}
	if e != nil {
		e.Dialect = dialect
		return nil, e
	}
	if used != nil {
		g.Key = *used
		a.rememberGrant(role, raw, resourceID, g, claims)
	}
	return g, nil
}

// keyFor selects the trusted key for t among the role's static key and the
// JWKS, by alg (and kid when both could apply). The token can choose among
// trusted keys, never introduce one (TV-4).
func (a *Authorizer) keyFor(ctx context.Context, role Role, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	sk := a.keys[role]
	useStatic, useJWKS := a.keySource(role, alg, t.Header)
	switch {
	case useStatic:
		return sk.key, nil
	case useJWKS:
		return a.jwks.key(ctx, t)
	}
	return nil, fmt.Errorf("no %s key for alg %s", role, alg)
}

// keyRef names the key keyFor picks for t; nil when none applies.
func (a *Authorizer) keyRef(role Role, t *jwt.Token) *KeyRef {
	if t == nil || t.Method == nil {
		return nil
	}
	alg := t.Method.Alg()
	useStatic, useJWKS := a.keySource(role, alg, t.Header)
	if !useStatic && !useJWKS {
		return nil
	}
	kid, _ := t.Header["kid"].(string)
	return &KeyRef{JWKS: useJWKS, KID: kid, Alg: alg}
}

// keySource says whether the static key or the JWKS verifies a token of
// role signed with alg: the one that accepts alg, and when both do, the
// JWKS if the token names a kid. keyFor and describe share it so that a
// refusal names the key that was actually tried.
func (a *Authorizer) keySource(role Role, alg string, header map[string]any) (useStatic, useJWKS bool) {
	sk := a.keys[role]
	useStatic = sk != nil && sk.alg == alg
	useJWKS = a.jwks != nil && slices.Contains(a.jwksAlgs, alg)
	if useStatic && useJWKS {
		// Both accept this alg: a kid points into the key set.
		if _, hasKID := header["kid"]; hasKID {
			useStatic = false
		} else {
			useJWKS = false
		}
	}
	return useStatic, useJWKS
}

// describe turns a golang-jwt error into an Error naming the failed rule
// and, for alg and signature failures, the key that was (or could have
// been) used, since "which key does the hub have" is what an operator
// chasing a 401 needs to know.
func (a *Authorizer) describe(role Role, tok *jwt.Token, err error) *Error {
	if tok != nil && tok.Header != nil {
		rawAlg, present := tok.Header["alg"]
		alg, isString := rawAlg.(string)
		switch {
		case !present:
			return invalidToken(RuleAlg, "header alg missing")
		case !isString:
			return invalidToken(RuleAlg, "header alg %s is not a string", ShowJSON(rawAlg))
		case !slices.Contains(a.allowedAlgs(role), alg):
			return invalidToken(RuleAlg, "%s", a.describeAlg(role, alg))
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken(RuleMalformed, "malformed: %s", strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": "))
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		msg := strings.TrimPrefix(err.Error(), jwt.ErrTokenUnverifiable.Error()+": ")
		msg = strings.TrimPrefix(msg, "error while executing keyfunc: ")
		e := invalidToken(RuleSignature, "no key to verify the signature: %s", msg)
		e.Key = a.keyRef(role, tok)
		return e
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		e := invalidToken(RuleSignature, "%s", a.describeSignature(role, tok))
		e.Key = a.keyRef(role, tok)
		return e
	}
	return invalidToken(RuleMalformed, "%s", err.Error())
}

// allowedAlgs are the algs some key of role accepts.
func (a *Authorizer) allowedAlgs(role Role) []string {
	allowed := slices.Clone(a.jwksAlgs)
	if k := a.keys[role]; k != nil && !slices.Contains(allowed, k.alg) {
		allowed = append(allowed, k.alg)
	}
	return allowed
}

// describeAlg explains why alg is refused for role: what the configured
// keys accept instead.
func (a *Authorizer) describeAlg(role Role, alg string) string {
	head := fmt.Sprintf("alg %s not allowed", ShowValue(alg))
	if strings.EqualFold(alg, "none") {
		return head + ": unsigned tokens are never accepted"
	}
	var have []string
	if k := a.keys[role]; k != nil {
		have = append(have, fmt.Sprintf("the configured %s key is %s", role, k.alg))
	}
	if a.jwks != nil {
		have = append(have, "the JWKS accepts "+strings.Join(a.jwksAlgs, ", "))
	}
	return head + ": " + strings.Join(have, " and ")
}

// describeSignature names the key a signature failed to verify with.
func (a *Authorizer) describeSignature(role Role, tok *jwt.Token) string {
	k := a.keyRef(role, tok)
	switch {
	case k == nil:
		return "signature does not verify"
	case !k.JWKS:
		return fmt.Sprintf("signature does not verify with the configured %s key (%s)", role, k.Alg)
	case k.KID != "":
		return fmt.Sprintf("signature does not verify with JWKS key %s (%s)", ShowValue(k.KID), k.Alg)
	default:
		return fmt.Sprintf("signature does not verify with any JWKS key for %s", k.Alg)
	}
}

// isATJWT reports whether typ is the JWT access token media type (TV-2).
func isATJWT(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// verifyModern applies every draft-08 check (TV-2, TV-5..7, AD-*, TML-*).
// rawTyp is the header's typ as decoded (any JSON value, nil if absent).
func (a *Authorizer) verifyModern(rawTyp any, c rawClaims, resourceID string) (*Grant, *Error) {
	if typ, ok := rawTyp.(string); !ok || !isATJWT(typ) {
		// Only a token with authorization_details reaches here with a
		// wrong typ: typ at+jwt alone is what makes the others modern.
		var got string
		switch {
		case rawTyp == nil:
			got = "typ missing"
		case !ok:
			got = "typ " + ShowJSON(rawTyp)
		default:
			got = "typ " + ShowValue(typ)
		}
		return nil, invalidToken(RuleType, "%s: draft-08 tokens (with authorization_details) need typ at+jwt", got)
	}
	if a.issuer == "" {
		return nil, invalidToken(RuleNoIssuerConfigured, "draft-08 token refused: no issuer is configured, so the hub accepts legacy tokens only")
	}
	if resourceID == "" {
		return nil, invalidToken(RuleNoResourceID, "draft-08 token refused: no resource id is configured (--resource-id), so the hub accepts legacy tokens only")
	}
	var iss string
	raw, ok := c["iss"]
	switch {
	case !ok || isNull(raw):
		return nil, invalidToken(RuleIssuer, "iss missing: draft-08 tokens must carry the configured issuer %q", clip(a.issuer))
	case json.Unmarshal(raw, &iss) != nil:
		return nil, invalidToken(RuleIssuer, "iss %s is not a string: draft-08 tokens must carry the configured issuer %q", ShowJSON(raw), clip(a.issuer))
	case iss != a.issuer:
		return nil, invalidToken(RuleIssuer, "iss %q is not the configured issuer %q", clip(iss), clip(a.issuer))
	}
	exp, err := checkTimes(c, a.now(), true, false)
	if err != nil {
		return nil, err
	}
	if err := checkAudience(c["aud"], resourceID); err != nil {
		return nil, invalidToken(RuleAudience, "%v", err)
	}
	var details []detail
	if raw, ok := c[claimDetails]; ok {
		var derr error
		if details, derr = a.parseDetails(raw); derr != nil {
			return nil, invalidToken(RuleClaims, "%v", derr)
		}
	}
	return newModernGrant(details, exp), nil
}

// checkAudience checks that aud, a string or an array of strings, contains
// want (TV-6).
func checkAudience(raw json.RawMessage, want string) error {
	if raw == nil || isNull(raw) {
		return fmt.Errorf("aud missing: draft-08 tokens must name the hub's resource id %q", clip(want))
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == want {
			return nil
		}
		return fmt.Errorf("aud %q does not contain the hub's resource id %q", clip(one), clip(want))
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		return fmt.Errorf("aud %s is neither a string nor an array of strings", ShowJSON(raw))
	}
	found := false
	for i, m := range many {
		var s string
		if json.Unmarshal(m, &s) != nil || isNull(m) {
			return fmt.Errorf("aud[%d] %s is not a string", i, ShowJSON(m))
		}
		found = found || s == want
	}
	if !found {
		return fmt.Errorf("aud %s does not contain the hub's resource id %q", ShowJSON(raw), clip(want))
	}
	return nil
}

// verifyLegacy applies the 0.x checks (LEG-8): exp and nbf only when
// present, fractional or numeric strings allowed; no iss, aud or typ.
func (a *Authorizer) verifyLegacy(c rawClaims) (*Grant, *Error) {
	exp, terr := checkTimes(c, a.now(), false, true)
	if terr != nil {
		return nil, terr
	}
	lg, err := parseLegacyClaim(c, a.topicOpt)
	if err != nil {
		return nil, invalidToken(RuleClaims, "%v", err)
	}
	return &Grant{Expires: exp, Publish: lg.publish, Subscribe: lg.subscribe, Payload: lg.payload}, nil
}
