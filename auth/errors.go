package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// RFC 6750 error codes carried in the Bearer challenge.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is a token-related refusal. Status and Code go to the client (in the
// status line and the WWW-Authenticate challenge); Reason is for logs and
// `hermes token check` only, because telling a client which check failed
// helps an attacker and is forbidden by ERR-3.
type Error struct {
	Status int
	// Code is "" (no token presented, ERR-2), "invalid_request",
	// "invalid_token" or "insufficient_scope".
	Code string
	// Reason names the rule that failed. Never sent to clients.
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

// Challenge renders the WWW-Authenticate value for e: `Bearer`, then
// `resource_metadata="…"` when resourceMetadataURL is not empty, then
// `error="…"` when e has a code (ERR-1..5). The Reason never appears.
func (e *Error) Challenge(resourceMetadataURL string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	if resourceMetadataURL != "" {
		b.WriteString(sep)
		b.WriteString(`resource_metadata=`)
		b.WriteString(quote(resourceMetadataURL))
		sep = ", "
	}
	if e.Code != "" {
		b.WriteString(sep)
		b.WriteString(`error=`)
		b.WriteString(quote(e.Code))
	}
	return b.String()
}

// quote renders s as an RFC 9110 quoted-string. A configured URL never
// needs escaping, but a header value must not be breakable whatever it is
// given, so CR, LF and other controls are dropped.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ErrInsufficientScope is the 403 for a valid token that does not grant the
// operation (ERR-4), e.g. a publish to a topic outside the grant.
func ErrInsufficientScope(reason string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Reason: reason}
}

// ErrMissingToken is the 401 with a bare challenge for an operation that
// requires a token when none was presented (ERR-2).
func ErrMissingToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: "no token presented"}
}

func invalidRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Reason: fmt.Sprintf(format, args...)}
}

func invalidToken(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Reason: fmt.Sprintf(format, args...)}
}
