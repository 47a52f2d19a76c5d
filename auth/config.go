// Package auth finds and verifies the JWT a request presents and turns both
// claim dialects (the legacy `mercure` claim and draft-08
// `authorization_details`) into one Grant.
package auth

import (
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
	// and its public half used). Either may be empty when JWKSURL is set.
	PublisherKey  []byte
	SubscriberKey []byte
	// Alg is the one algorithm static keys accept. Empty means HS256 for a
	// secret; a PEM key requires an explicit asymmetric alg that fits the
	// key type. "none" is never accepted.
	Alg string
	// JWKSURL is fetched for keys of both roles (selected by kid), cached,
	// and refreshed periodically and on an unknown kid.
	JWKSURL string
	// JWKSAlgs is the allowlist for JWKS keys. Empty means EdDSA, ES256/384/512,
	// RS256/384/512, PS256/384/512.
	JWKSAlgs []string
	// HTTPClient fetches the JWKS. Nil means a client with a 10 s timeout.
	HTTPClient *http.Client

	// Issuer is the iss every modern (draft-08) token must carry exactly.
	// Empty: modern tokens are refused (legacy tokens need no issuer).
	Issuer string
	// ResourceID is the aud modern tokens must contain. Empty: derived per
	// request as scheme://Host + HubPath.
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

	// TopicOptions is passed to topic.Compile for the matchers of grants.
	TopicOptions topic.Options
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}
