package hub

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/auth"
)

const testMetadata = "https://hub.test/.well-known/oauth-protected-resource/.well-known/mercure"

func TestERR1_ChallengeCarriesResourceMetadata(t *testing.T) {
	for _, e := range []*auth.Error{
		auth.ErrMissingToken(),
		{Status: http.StatusUnauthorized, Code: auth.CodeInvalidToken},
		{Status: http.StatusBadRequest, Code: auth.CodeInvalidRequest},
		auth.ErrInsufficientScope("x"),
	} {
		got := challenge(e, testMetadata)
		if !strings.HasPrefix(got, `Bearer resource_metadata="`+testMetadata+`"`) {
			t.Errorf("%d %q: challenge %q lacks resource_metadata", e.Status, e.Code, got)
		}
	}
	if got := challenge(&auth.Error{Code: auth.CodeInvalidToken}, ""); got != `Bearer error="invalid_token"` {
		t.Errorf("without metadata URL: %q", got)
	}
}

func TestERR1_ChallengeQuotesMetadataURL(t *testing.T) {
	got := challenge(auth.ErrMissingToken(), "https://h/\"x\\y\r\nSet-Cookie: a=b")
	want := `Bearer resource_metadata="https://h/\"x\\ySet-Cookie: a=b"`
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestERR2_MissingTokenBareChallenge(t *testing.T) {
	e := auth.ErrMissingToken()
	if got, want := challenge(e, testMetadata), `Bearer resource_metadata="`+testMetadata+`"`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := challenge(e, ""); got != "Bearer" {
		t.Fatalf("got %q, want bare Bearer", got)
	}
}

// TestERR3_ChallengeHidesReason: the reason names the failed rule for the
// logs; the client sees only the code.
func TestERR3_ChallengeHidesReason(t *testing.T) {
	e := auth.ErrInsufficientScope("topic b not granted")
	if got := challenge(e, ""); got != `Bearer error="insufficient_scope"` {
		t.Fatalf("challenge %q", got)
	}
	if strings.Contains(challenge(e, testMetadata), "topic b") {
		t.Fatal("reason leaked into the challenge")
	}
}

// TestWriteErrorMapsEveryKind pins the one mapping from error to answer.
func TestWriteErrorMapsEveryKind(t *testing.T) {
	h, _, rec := newOpsHub(t, Config{})
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		header     string // a header the answer must carry
		body       string // a substring of the body
		bodyAbsent string // a substring the body must not hold
	}{
		{"token", &auth.Error{Status: 401, Code: auth.CodeInvalidToken, Reason: "secret detail"}, 401, "WWW-Authenticate", "Unauthorized", "secret detail"},
		{"scope", auth.ErrInsufficientScope("topic x"), 403, "WWW-Authenticate", "Forbidden", "topic x"},
		{"request", badRequest("the %s field is bad", "retry"), 400, "", "the retry field is bad", ""},
		{"too large", tooLarge("too big"), 413, "", "too big", ""},
		{"limit", &rejection{RejectMaxSubscribers, 429, "too many subscribers"}, 429, "Retry-After", "too many subscribers", ""},
		{"shutdown", errShuttingDown(), 503, "Retry-After", "shutting down", ""},
		{"storage", &storageError{OpAppend, "the update could not be stored", errors.New("disk on fire")}, 503, "", "could not be stored", "disk on fire"},
		{"wrapped", errors.Join(errors.New("context"), badRequest("inner")), 400, "", "inner", ""},
		{"other", errors.New("internal detail"), 500, "", "Internal Server Error", "internal detail"},
	} {
		w := httptest.NewRecorder()
		h.writeError(w, httptest.NewRequest(http.MethodPost, Path, nil), tc.err)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
		}
		if tc.header != "" && w.Header().Get(tc.header) == "" {
			t.Errorf("%s: no %s header", tc.name, tc.header)
		}
		if body := w.Body.String(); !strings.Contains(body, tc.body) || (tc.bodyAbsent != "" && strings.Contains(body, tc.bodyAbsent)) {
			t.Errorf("%s: body %q", tc.name, body)
		}
	}
	m := rec.snapshot()
	if m.auth[AuthFailureInvalidToken] != 1 || m.auth[AuthFailureInsufficientScope] != 1 {
		t.Errorf("auth failures counted: %v", m.auth)
	}
	if m.rejected[RejectMaxSubscribers] != 1 || m.rejected[RejectShuttingDown] != 1 {
		t.Errorf("rejections counted: %v", m.rejected)
	}
	if m.transport[OpAppend] != 1 {
		t.Errorf("transport errors counted: %v", m.transport)
	}
}
