package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
)

const (
	describeKey      = "describe-test-secret"
	describeIssuer   = "https://as.example.com"
	describeResource = "https://hub.example.com/.well-known/mercure"
)

// describeCheck verifies claims, signed with typ, as a subscriber token
// and returns the grant.
func describeCheck(t *testing.T, typ string, claims jwt.MapClaims) *auth.Grant {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = typ
	raw, err := tok.SignedString([]byte(describeKey))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{
		SubscriberKey: []byte(describeKey),
		Issuer:        describeIssuer,
		ResourceID:    describeResource,
		HubPath:       hub.Path,
		TopicOptions:  topic.Options{Base: describeResource},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	g, aerr := a.Check(context.Background(), raw, auth.Subscriber, "")
	if aerr != nil {
		t.Fatalf("token refused: %v", aerr)
	}
	return g
}

func TestDescribeGrantLegacy(t *testing.T) {
	now := time.Now()
	exp := now.Add(time.Hour).Truncate(time.Second).Add(time.Second)
	g := describeCheck(t, "JWT", jwt.MapClaims{
		"mercure": map[string]any{
			"publish":   []string{"*"},
			"subscribe": []string{"https://e.com/books/{id}", "https://e.com/a b"},
			"payload":   map[string]any{"user": "u1"},
		},
		"exp": exp.Unix(),
	})
	want := `dialect: legacy (mercure claim)
expires: ` + exp.UTC().Format(time.RFC3339) + ` (in 1h)
publish:
  * (every topic)
subscribe:
  https://e.com/books/{id} (URI template)
  "https://e.com/a b" (exact topic)
payload: {"user":"u1"}`
	if got := describeGrant(g, exp.Add(-time.Hour)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	g = describeCheck(t, "JWT", jwt.MapClaims{})
	want = "dialect: legacy (mercure claim)\nexpires: never (no exp claim)\npublish: nothing\nsubscribe: nothing"
	if got := describeGrant(g, now); got != want {
		t.Errorf("empty grant: got\n%s\nwant\n%s", got, want)
	}
	if got := describeGrant(nil, now); got != "nothing (anonymous)" {
		t.Errorf("nil grant: %q", got)
	}
}

func TestDescribeGrantModern(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second).Add(time.Second)
	detail := func(actions []string, payload any, topics ...map[string]any) map[string]any {
		d := map[string]any{"type": auth.DetailType, "actions": actions, "topics": topics}
		if payload != nil {
			d["payload"] = payload
		}
		return d
	}
	exact := func(s string) map[string]any { return map[string]any{"match": s, "match_type": "exact"} }
	g := describeCheck(t, "at+jwt", jwt.MapClaims{
		"iss": describeIssuer,
		"aud": describeResource,
		"exp": exp.Unix(),
		"authorization_details": []any{
			detail([]string{"publish"}, nil, exact("https://e.com/a")),
			detail([]string{"subscribe"}, map[string]any{"p": true},
				map[string]any{"match": "/books/:id", "match_type": "urlpattern"}, exact("*")),
		},
	})
	want := `dialect: draft-08 (authorization_details)
expires: ` + exp.UTC().Format(time.RFC3339) + ` (in 1h)
publish:
  https://e.com/a (match_type exact)
subscribe:
  /books/:id (match_type urlpattern)
  * (every topic)
payload for subscriptions to /books/:id, *: {"p":true}`
	if got := describeGrant(g, exp.Add(-time.Hour)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDescribeTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "2026-11-22T10:00:00Z (now)"},
		{-3 * time.Hour, "2026-11-22T07:00:00Z (3h ago)"},
		{45 * time.Second, "2026-11-22T10:00:45Z (in 45s)"},
		{-(3*time.Minute + 20*time.Second), "2026-11-22T09:56:40Z (3m20s ago)"},
		{2*time.Hour + 5*time.Minute + 7*time.Second, "2026-11-22T12:05:07Z (in 2h5m)"},
		{-(12 * 24 * time.Hour), "2026-11-10T10:00:00Z (12d ago)"},
		{3*24*time.Hour + 4*time.Hour, "2026-11-25T14:00:00Z (in 3d4h)"},
	} {
		if got := describeTime(now.Add(tc.d), now); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.d, got, tc.want)
		}
	}
	// Sub-second distances round to whole seconds of the Unix clock.
	if got := describeTime(now.Add(300*time.Millisecond), now); got != "2026-11-22T10:00:00Z (now)" {
		t.Errorf("sub-second: %q", got)
	}
	// Times in another zone are shown in UTC.
	paris := time.FixedZone("CET", 3600)
	if got := describeTime(now.In(paris), now); got != "2026-11-22T10:00:00Z (now)" {
		t.Errorf("zone: %q", got)
	}
}

// TestHostile_AbsurdExpPrintsNoNegativeDuration_Finding9: an exp thousands
// of years away, in the past or the future, is shown with a positive
// distance; a time.Duration would saturate and its negation overflow.
func TestHostile_AbsurdExpPrintsNoNegativeDuration_Finding9(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		sec  int64
		want string
	}{
		{-1e12, "ago)"},
		{1e12, "(in "},
		{-62135596800, "ago)"}, // year 1
	} {
		got := describeTime(time.Unix(tc.sec, 0), now)
		if strings.Contains(got, "-") && !strings.HasPrefix(got, "-") {
			// The date may carry '-' separators; the distance must not be negative.
			if rel := got[strings.Index(got, "("):]; strings.Contains(rel, "-") {
				t.Errorf("exp %d: %q has a negative distance", tc.sec, got)
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("exp %d: %q, want it to contain %q", tc.sec, got, tc.want)
		}
	}
	// End to end: `hermes token check` on a token whose exp is absurdly
	// far in the past.
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": -1e12, "mercure": map[string]any{"subscribe": []string{"*"}}})
	raw, err := tok.SignedString([]byte(checkKey))
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := checkOut(t, nil, "--jwt-key", checkKey, "--role", "subscriber", raw)
	for _, l := range lines(out) {
		if i := strings.LastIndex(l, "("); i >= 0 && strings.Contains(l[i:], "-") {
			t.Errorf("negative distance in %q", l)
		}
	}
	if !strings.Contains(out, "subscriber: refused (401 invalid_token): expired at ") {
		t.Errorf("not refused as expired:\n%s", out)
	}
}
