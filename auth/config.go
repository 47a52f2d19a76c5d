// Package auth finds and verifies the JWT a request presents and turns both
// claim dialects (the legacy `mercure` claim and draft-08
// `authorization_details`) into one Grant.
package auth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Role says which key set verifies a token: publishing and subscribing may
// use different keys.
type Role int

const (
	Publisher Role = iota
	Subscriber
)

// Default cookie names: the one today's clients set (Symfony, Laravel) and
// the one draft-08 recommends.
const (
	LegacyCookieName = "mercureAuthorization"
	ModernCookieName = "__Secure-mercure_access_token"
)

// Config configures an Authorizer. Zero values are documented per field.
type Config struct {
	// PublisherKey and SubscriberKey verify tokens of each role: a raw HMAC
	// secret, or a PEM-encoded public key (a private key is accepted too
	// and its public half used). Either may be empty when JWKSURL is set;
	// a role with neither a key nor a JWKS refuses every token presented
	// for it (401), while requests without a token stay anonymous.
	// With both a static key and a JWKS, the token's alg picks the one
	// that accepts it; when both do, a token with a kid goes to the JWKS.
	PublisherKey  []byte
	SubscriberKey []byte
	// Alg is the one algorithm static keys accept. Empty means HS256 for a
	// secret; a PEM key requires an explicit asymmetric alg that fits the
	// key type. "none" is never accepted.
	Alg string
	// PublisherAlg and SubscriberAlg override Alg for the key of one role,
	// for deployments whose two keys are of different kinds (e.g. an HMAC
	// publisher secret and an RSA subscriber key). Empty: Alg.
	PublisherAlg  string
	SubscriberAlg string
	// JWKSURL is fetched for keys of both roles (selected by kid), cached,
	// and refreshed periodically and on an unknown kid. The first fetch
	// runs in the background: an unreachable server never blocks New.
	// Only http(s) URLs are supported (no file://).
	JWKSURL string
	// JWKSAlgs is the allowlist for JWKS keys. Empty means EdDSA, ES256/384/512,
	// RS256/384/512, PS256/384/512.
	JWKSAlgs []string
	// HTTPClient fetches the JWKS. Nil means a client with a 10 s timeout.
	// Responses are read up to 1 MiB whatever the client.
	HTTPClient *http.Client
	// JWKSRefreshInterval is how often the JWKS is fetched again. Zero
	// means one hour.
	JWKSRefreshInterval time.Duration
	// JWKSUnknownKIDInterval is the minimum time between two refreshes
	// caused by a token whose kid is not in the cached set, so that forged
	// kids cannot make the hub hammer the authorization server. Zero means
	// five minutes.
	JWKSUnknownKIDInterval time.Duration

	// Issuer is the iss every modern (draft-08) token must carry exactly.
	// Empty: modern tokens are refused (legacy tokens need no issuer).
	Issuer string
	// ResourceID is the aud modern tokens must contain. Empty: modern
	// tokens are refused, as without Issuer; it is never derived from a
	// request, whose Host the client chooses.
	ResourceID string
	// HubPath is the hub's path. Empty means /.well-known/mercure.
	HubPath string

	// CookieNames are read, in order, when no Authorization header is
	// present. Nil means [mercureAuthorization, __Secure-mercure_access_token].
	CookieNames []string
	// PublishOrigins are the origins from which a cookie-authenticated
	// publish is accepted (CSRF guard, CORS-4). "*" allows any origin that
	// is sent; "https://*.example.com" style wildcards are allowed. Empty:
	// cookie-authenticated publishing is always refused.
	PublishOrigins []string

	// MaxTokenBytes bounds the length of a presented token. A longer one is
	// a malformed presentation: 400 invalid_request, whatever its source.
	// Zero means 16 KiB (a legacy token listing many topics can exceed the
	// 8 KiB header buffers of some proxies, so the hub should not be the
	// tighter limit).
	MaxTokenBytes int

	// TopicOptions is passed to topic.Compile for the matchers of grants.
	TopicOptions topic.Options
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives JWKS fetch failures. Nil means slog.Default().
	Logger *slog.Logger
}
