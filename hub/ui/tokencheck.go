package ui

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
)

// tokenCheckPath is the token check endpoint under the UI root.
const tokenCheckPath = "/token-check"

// checkTimeout bounds one check: only a JWKS fetch can take time.
const checkTimeout = 10 * time.Second

// maxCheckBody bounds the request: the largest token auth inspects, plus the
// form's field name and percent-encoding slack.
const maxCheckBody = 3*auth.MaxInspectBytes + 1024

// Checker verifies a raw token for a role exactly as the hub verifies one
// in a request (auth.Authorizer does).
type Checker interface {
	Check(ctx context.Context, token string, role auth.Role, resourceID string) (*auth.Grant, *auth.Error)
	// ResourceID is the aud draft-08 tokens must contain: configured, never
	// taken from the request (issue 10 finding 5).
	ResourceID() string
}

// KeyInfo describes what verifies one role's tokens without revealing it.
type KeyInfo struct {
	Role string `json:"role"`
	// Kind is "secret", "pem", "jwks" or "none".
	Kind string `json:"kind"`
	// Alg is the algorithm the key is bound to, "" when the key decides.
	Alg string `json:"alg,omitempty"`
}

// checkResult is the JSON answer: what `hermes token check` prints.
type checkResult struct {
	// Header and Claims are decoded without verification, for display.
	Header      map[string]any `json:"header"`
	Claims      map[string]any `json:"claims"`
	DecodeError string         `json:"decodeError,omitempty"`
	Keys        []KeyInfo      `json:"keys"`
	ResourceID  string         `json:"resourceID"`
	Roles       []roleResult   `json:"roles"`
}

// roleResult is the verdict for one role.
type roleResult struct {
	Role     string `json:"role"`
	Accepted bool   `json:"accepted"`
	// Refused: the status and RFC 6750 code the hub would answer, the
	// rule that failed (auth.Rule) and why in words; At is the exp or nbf
	// of a time refusal.
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	At     string `json:"at,omitempty"`
	// Dialect is "legacy" or "draft-08"; "" when the token was refused
	// before its claims were read.
	Dialect string `json:"dialect,omitempty"`
	// Key is the key the signature was verified with (accepted) or that an
	// alg or signature refusal concerns: never the key itself.
	Key *keyRef `json:"key,omitempty"`
	// Accepted: what the token grants.
	Expires   string          `json:"expires,omitempty"` // RFC 3339; "" for none
	Publish   []grantMatcher  `json:"publish,omitempty"`
	Subscribe []grantMatcher  `json:"subscribe,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

type keyRef struct {
	// Source is "configured" (the role's key) or "jwks".
	Source string `json:"source"`
	KID    string `json:"kid,omitempty"`
	Alg    string `json:"alg,omitempty"`
}

func newKeyRef(k *auth.KeyRef) *keyRef {
	if k == nil {
		return nil
	}
	r := &keyRef{Source: "configured", KID: k.KID, Alg: k.Alg}
	if k.JWKS {
		r.Source = "jwks"
	}
	return r
}

type grantMatcher struct {
	Type    string `json:"type"`
	Pattern string `json:"pattern"`
}

// tokenCheck answers POST token=TOKEN (a form) with a checkResult. It says
// why a token is refused, which the hub never tells a client (ERR-3): that
// is the point of a debug page, and the reason the UI is off unless asked.
// Keys are described, never shown.
type tokenCheck struct {
	checker Checker
	keys    []KeyInfo
	log     *slog.Logger
}

func (tc *tokenCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCheckBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "invalid form", http.StatusBadRequest)
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if t, ok := cutBearer(tok); ok {
		tok = t
	}
	if tok == "" {
		http.Error(w, "missing token", http.StatusBadRequest)
		return
	}
	if len(tok) > auth.MaxInspectBytes {
		http.Error(w, "token too large", http.StatusRequestEntityTooLarge)
		return
	}
	res := checkResult{Keys: tc.keys, ResourceID: tc.checker.ResourceID(), Roles: []roleResult{}}
	if res.Keys == nil {
		res.Keys = []KeyInfo{}
	}
	var err error
	if res.Header, res.Claims, err = auth.Inspect(tok); err != nil {
		res.DecodeError = err.Error()
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	for _, role := range []auth.Role{auth.Publisher, auth.Subscriber} {
		g, aerr := tc.checker.Check(ctx, tok, role, res.ResourceID)
		rr := roleResult{Role: role.String()}
		if aerr != nil {
			rr.Status, rr.Code, rr.Rule, rr.Reason = aerr.Status, aerr.Code, string(aerr.Rule), aerr.Reason
			if aerr.Dialect != auth.DialectUnknown {
				rr.Dialect = aerr.Dialect.String()
			}
			rr.Key = newKeyRef(aerr.Key)
			if !aerr.At.IsZero() {
				rr.At = aerr.At.UTC().Format(time.RFC3339)
			}
		} else {
			rr.Accepted = true
			rr.Dialect = auth.DialectLegacy.String()
			if g.Modern {
				rr.Dialect = auth.DialectDraft08.String()
			}
			rr.Key = newKeyRef(&g.Key)
			if !g.Expires.IsZero() {
				rr.Expires = g.Expires.UTC().Format(time.RFC3339)
			}
			rr.Publish, rr.Subscribe = describeMatchers(g.Publish), describeMatchers(g.Subscribe)
			if len(g.Payload) > 0 && json.Valid(g.Payload) {
				rr.Payload = g.Payload
			}
		}
		res.Roles = append(res.Roles, rr)
	}
	tc.log.Debug("ui: token checked", "publisher", res.Roles[0].Accepted, "subscriber", res.Roles[1].Accepted)
	b, err := json.Marshal(res)
	if err != nil {
		http.Error(w, "encoding the result failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func describeMatchers(ms []*topic.Matcher) []grantMatcher {
	out := make([]grantMatcher, 0, len(ms))
	for _, m := range ms {
		out = append(out, grantMatcher{Type: m.Type(), Pattern: m.Pattern()})
	}
	return out
}

// cutBearer removes a pasted "Bearer " prefix, as the CLI does.
func cutBearer(s string) (string, bool) {
	const bearer = "bearer "
	if len(s) > len(bearer) && strings.EqualFold(s[:len(bearer)], bearer) {
		return strings.TrimSpace(s[len(bearer):]), true
	}
	return s, false
}
