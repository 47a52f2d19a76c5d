package hub

// One place decides how a failed request is answered: writeError maps
// every error a handler can meet (a token refusal, a bad request, a limit,
// a storage failure) to its status, headers, metric and log line.
// Handlers build the error where they detect it and hand it over.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hermes-hub/hermes/auth"
)

// requestError is a client error with its status and a message safe to
// show.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func tooLarge(format string, a ...any) error {
	return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf(format, a...)}
}

// rejection is a request refused by a limit or by the shutdown: counted
// under reason (one of the Reject* values) and answered with a randomized
// Retry-After so that refused clients spread their retries.
type rejection struct {
	reason string
	status int
	msg    string
}

func (e *rejection) Error() string { return e.msg }

func errShuttingDown() error {
	return &rejection{RejectShuttingDown, http.StatusServiceUnavailable, "the hub is shutting down"}
}

// storageError is a failure of the transport during operation op (one of
// the Op* values). The client gets 503 and msg; the cause is logged.
type storageError struct {
	op  string
	msg string
	err error
}

func (e *storageError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

// writeError answers a failed request:
//
//	*auth.Error     its status with an RFC 6750 challenge (ERR-1..5); the
//	                reason is logged at debug level, never sent
//	*requestError   its status and message
//	*rejection      its status, message and a Retry-After
//	*storageError   503 with its message; the cause is logged
//	anything else   500, logged
func (h *Hub) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae *auth.Error
		re *requestError
		rj *rejection
		se *storageError
	)
	switch {
	case errors.As(err, &ae):
		h.metrics.AuthFailure(authFailureReason(ae))
		if ae.Status == http.StatusInternalServerError {
			h.warnings.warn("authorization failed", "error", ae)
			http.Error(w, http.StatusText(ae.Status), ae.Status)
			return
		}
		h.log.Debug("request refused", "status", ae.Status, "rule", ae.Rule, "reason", ae.Reason, "method", r.Method, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", challenge(ae, h.metadataURL()))
		http.Error(w, http.StatusText(ae.Status), ae.Status)
	case errors.As(err, &re):
		http.Error(w, re.msg, re.status)
	case errors.As(err, &rj):
		h.metrics.Rejected(rj.reason)
		w.Header().Set("Retry-After", retryAfter())
		http.Error(w, rj.msg, rj.status)
	case errors.As(err, &se):
		h.metrics.TransportError(se.op)
		h.warnings.warn(r.Method+" "+r.URL.Path+": "+se.msg, "error", se.err)
		http.Error(w, se.msg, http.StatusServiceUnavailable)
	default:
		h.warnings.warn("request failed", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// authenticate finds and verifies the token of r for role. When it returns
// ok false, the request has been answered: the token is invalid, or there
// is none and anonymous is false. A nil grant with ok true is an anonymous
// client.
func (h *Hub) authenticate(w http.ResponseWriter, r *http.Request, role auth.Role, anonymous bool) (grant *auth.Grant, ok bool) {
	grant, err := h.cfg.Auth.Authenticate(r, role)
	if err != nil {
		if ae := (*auth.Error)(nil); !errors.As(err, &ae) {
			// Verification itself failed, not the token.
			h.metrics.AuthFailure(AuthFailureInternal)
		}
		h.writeError(w, r, err)
		return nil, false
	}
	if grant == nil && !anonymous {
		h.writeError(w, r, auth.ErrMissingToken())
		return nil, false
	}
	return grant, true
}

// challenge renders the WWW-Authenticate value for e: `Bearer`, then
// `resource_metadata="…"` when metadataURL is not empty, then `error="…"`
// when e has a code (ERR-1..5). The Reason never appears (ERR-3).
func challenge(e *auth.Error, metadataURL string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	if metadataURL != "" {
		b.WriteString(sep)
		b.WriteString(`resource_metadata=`)
		b.WriteString(quoteString(metadataURL))
		sep = ", "
	}
	if e.Code != "" {
		b.WriteString(sep)
		b.WriteString(`error=`)
		b.WriteString(quoteString(e.Code))
	}
	return b.String()
}

// authFailureReason maps a refusal to its metric label: the RFC 6750 code,
// a small fixed set, never the free-text reason.
func authFailureReason(e *auth.Error) string {
	switch e.Code {
	case "":
		if e.Status == http.StatusInternalServerError {
			return AuthFailureInternal
		}
		return AuthFailureMissing
	case auth.CodeInvalidRequest:
		return AuthFailureInvalidRequest
	case auth.CodeInvalidToken:
		return AuthFailureInvalidToken
	case auth.CodeInsufficientScope:
		return AuthFailureInsufficientScope
	default:
		return AuthFailureInternal
	}
}

// quoteString renders s as an RFC 9110 quoted-string, for challenge and
// Link parameters: `"` and `\` are backslash-escaped, control characters
// dropped, so that whatever s holds the header cannot be broken.
func quoteString(s string) string {
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
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
