package auth

import (
	"fmt"
	"net/http"
	"time"
)

// RFC 6750 error codes carried in the Bearer challenge.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Rule names the check that refused a request or a token. Callers act on
// it (the hub's metrics, the hints of `hermes token check`) instead of
// reading the Reason text, which is for people.
type Rule string

// The rules, one per kind of refusal.
const (
	RuleNoToken            Rule = "no_token"             // nothing presented (ERR-2)
	RulePresentation       Rule = "presentation"         // header, query or cookie malformed, oversized or duplicated (ERR-5)
	RuleCSRF               Rule = "csrf"                 // cookie publish from an origin not allowed (CORS-4/5)
	RuleTokenInURL         Rule = "token_in_url"         // draft-08 token in the query string (AUTH-7)
	RuleMalformed          Rule = "malformed"            // not a compact JWS, claims not an object, unknown crit
	RuleNoKey              Rule = "no_key"               // no key configured for the role
	RuleAlg                Rule = "alg"                  // alg missing, not a string or not accepted by any key
	RuleSignature          Rule = "signature"            // the signature does not verify with the key named by Key
	RuleType               Rule = "typ"                  // draft-08 token without typ at+jwt (TV-2)
	RuleNoIssuerConfigured Rule = "no_issuer_configured" // draft-08 token, but the hub has no --issuer
	RuleIssuer             Rule = "issuer"               // iss missing or not the configured one
	RuleNoResourceID       Rule = "no_resource_id"       // draft-08 token, but the hub has no --resource-id
	RuleAudience           Rule = "audience"             // aud missing or without the resource id (TV-6)
	RuleTimeClaim          Rule = "time_claim"           // exp or nbf not a NumericDate, exp missing (TV-5)
	RuleExpired            Rule = "expired"              // exp is in the past: At is exp
	RuleNotYetValid        Rule = "not_yet_valid"        // nbf is in the future: At is nbf
	RuleClaims             Rule = "claims"               // mercure or authorization_details claim malformed or over a limit
	RuleTooLarge           Rule = "too_large"            // the token is longer than the hub's limit (AD-6)
	RuleScope              Rule = "scope"                // valid token, operation not granted (ERR-4)
	RuleInternal           Rule = "internal"             // a caller mistake, not the client's
)

// Dialect is the protocol generation a token was judged by.
type Dialect int

// The dialects. DialectUnknown: the token was refused before its claims
// were read.
const (
	DialectUnknown Dialect = iota
	DialectLegacy          // `mercure` claim, Mercure 0.x
	DialectDraft08         // authorization_details and typ at+jwt
)

func (d Dialect) String() string {
	switch d {
	case DialectLegacy:
		return "legacy"
	case DialectDraft08:
		return "draft-08"
	default:
		return "unknown"
	}
}

// KeyRef names a verification key without revealing it.
type KeyRef struct {
	// JWKS is true for a key of the key set, false for the role's
	// configured key.
	JWKS bool
	// KID is the kid the token named ("" if none).
	KID string
	// Alg is the algorithm the key was tried with.
	Alg string
}

// Error is a token-related refusal. Status and Code go to the client (in the
// status line and the WWW-Authenticate challenge); everything else is for
// logs and `hermes token check` only, because telling a client which check
// failed helps an attacker and is forbidden by ERR-3.
type Error struct {
	Status int
	// Code is "" (no token presented, ERR-2), "invalid_request",
	// "invalid_token" or "insufficient_scope".
	Code string
	// Rule is the check that failed.
	Rule Rule
	// Dialect is the dialect the token was judged by; DialectUnknown when
	// the refusal came before the claims were read.
	Dialect Dialect
	// Key is the key an alg or signature refusal concerns; nil otherwise
	// or when no key could apply.
	Key *KeyRef
	// At is the exp of an expired token or the nbf of a token not valid
	// yet; zero for other rules.
	At time.Time
	// Reason says what failed in words, with any token-supplied value
	// shortened and escaped (see reason.go). Never sent to clients.
	Reason string
}

// Error implements error. It includes Reason: callers must not write it to a
// response.
func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = "no token"
	}
	if e.Reason == "" {
		return fmt.Sprintf("auth: %d %s", e.Status, code)
	}
	return fmt.Sprintf("auth: %d %s: %s", e.Status, code, e.Reason)
}

// ErrInsufficientScope is the 403 for a valid token that does not grant the
// operation (ERR-4), e.g. a publish to a topic outside the grant.
func ErrInsufficientScope(reason string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Rule: RuleScope, Reason: reason}
}

// ErrMissingToken is the 401 with a bare challenge for an operation that
// requires a token when none was presented (ERR-2).
func ErrMissingToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Rule: RuleNoToken, Reason: "no token presented"}
}

func errInternal(reason string) *Error {
	return &Error{Status: http.StatusInternalServerError, Rule: RuleInternal, Reason: reason}
}

func invalidRequest(rule Rule, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge refuses a token longer than limit bytes. A token that large
// is over the limits on details, matchers or pattern length in all but
// name, which AD-6 answers with 401 invalid_token; reading its claims
// would cost what the limit is there to prevent.
func tooLarge(where string, size, limit int) *Error {
	return invalidToken(RuleTooLarge, "%s of %d bytes exceeds the limit of %d bytes", where, size, limit)
}

func invalidToken(rule Rule, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}
