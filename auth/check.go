package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Check verifies one raw token for role exactly as Authenticate verifies a
// token sent in an Authorization header: same size and syntax limits, same
// keys, same claim rules. resourceID is the aud a draft-08 token must
// contain; "" means the configured ResourceID (without either, draft-08
// tokens are refused, as the hub would have to derive the value from a
// request). It exists for `hermes token check`, which answers the most
// common hub question, "why is my token refused?", with the Reason of the
// returned Error.
func (a *Authorizer) Check(ctx context.Context, token string, role Role, resourceID string) (*Grant, *Error) {
	if role != Publisher && role != Subscriber {
		return nil, &Error{Status: http.StatusInternalServerError, Reason: "unknown role " + role.String()}
	}
	tok, err := a.parseBearer("Bearer " + token)
	if err != nil {
		return nil, err
	}
	if resourceID == "" {
		resourceID = a.resourceID
	}
	return a.verify(ctx, role, tok, resourceID)
}

// MaxInspectBytes bounds the token Inspect decodes.
const MaxInspectBytes = 1 << 20

// Inspect decodes the header and claims of a compact JWS without verifying
// anything, so that a refused token can still be shown. Numbers are kept as
// json.Number, exactly as written. When the claims cannot be decoded, the
// header is still returned along with the error. The result must never be
// trusted for access decisions: use Check or Authenticate.
func Inspect(token string) (header, claims map[string]any, err error) {
	if len(token) > MaxInspectBytes {
		return nil, nil, fmt.Errorf("token longer than %d bytes", MaxInspectBytes)
	}
	parts := strings.Split(token, ".")
	switch n := len(parts); {
	case n == 5:
		return nil, nil, errors.New("5 segments: this is an encrypted token (JWE); Mercure hubs take signed tokens (JWS, 3 segments)")
	case n != 3:
		return nil, nil, fmt.Errorf("%d segments, want 3 (header.claims.signature)", n)
	}
	if header, err = decodeSegment(parts[0]); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if claims, err = decodeSegment(parts[1]); err != nil {
		return header, nil, fmt.Errorf("claims: %w", err)
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return header, claims, errors.New("signature: not unpadded base64url")
	}
	return header, claims, nil
}

// decodeSegment decodes one base64url JSON object segment.
func decodeSegment(seg string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		// Padding is the usual culprit: JWS forbids it (RFC 7515 §2).
		if strings.HasSuffix(seg, "=") {
			return nil, errors.New("base64url with = padding, which JWS forbids")
		}
		return nil, errors.New("not unpadded base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("not a JSON object: %q", clip(string(b)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

// Describe says in plain text what g allows: its dialect, its expiry
// relative to now, every publish and subscribe selector with how it
// matches, and the payloads. One fact per line, no trailing newline.
func (g *Grant) Describe(now time.Time) string {
	if g == nil {
		return "nothing (anonymous)"
	}
	var b strings.Builder
	if g.Modern {
		b.WriteString("dialect: draft-08 (authorization_details)\n")
	} else {
		b.WriteString("dialect: legacy (mercure claim)\n")
	}
	if g.Expires.IsZero() {
		b.WriteString("expires: never (no exp claim)\n")
	} else {
		fmt.Fprintf(&b, "expires: %s\n", DescribeTime(g.Expires, now))
	}
	describeMatchers(&b, "publish", g.Publish, g.Modern)
	describeMatchers(&b, "subscribe", g.Subscribe, g.Modern)
	if g.Modern {
		for _, d := range g.subscribeDetails {
			if d.payload == nil {
				continue
			}
			patterns := make([]string, len(d.matchers))
			for i, m := range d.matchers {
				patterns[i] = show(m.Pattern())
			}
			fmt.Fprintf(&b, "payload for subscriptions to %s: %s\n", clip(strings.Join(patterns, ", ")), clipJSON(d.payload))
		}
	} else if g.Payload != nil {
		fmt.Fprintf(&b, "payload: %s\n", clipJSON(g.Payload))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func describeMatchers(b *strings.Builder, action string, ms []*topic.Matcher, modern bool) {
	if len(ms) == 0 {
		fmt.Fprintf(b, "%s: nothing\n", action)
		return
	}
	fmt.Fprintf(b, "%s:\n", action)
	for _, m := range ms {
		fmt.Fprintf(b, "  %s\n", describeMatcher(m, modern))
	}
}

// describeMatcher names a selector and how it matches topics.
func describeMatcher(m *topic.Matcher, modern bool) string {
	p := show(m.Pattern())
	switch _, plain := m.ExactKey(); {
	case m.IsWildcard():
		return p + " (every topic)"
	case modern:
		return p + " (match_type " + m.Type() + ")"
	case plain:
		return p + " (exact topic)"
	default:
		return p + " (URI template)"
	}
}

// DescribeTime renders t as RFC 3339 in UTC with its distance from now:
// "2026-11-22T10:00:00Z (3h ago)".
func DescribeTime(t, now time.Time) string {
	d := t.Sub(now)
	var rel string
	switch {
	case d > -time.Second && d < time.Second:
		rel = "now"
	case d < 0:
		rel = humanDuration(-d) + " ago"
	default:
		rel = "in " + humanDuration(d)
	}
	return t.UTC().Format(time.RFC3339) + " (" + rel + ")"
}

// humanDuration renders d with its two largest units: 45s, 3m20s, 3h,
// 2h5m, 12d, 3d4h.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	two := func(n1 int64, u1 string, n2 int64, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s%d%s", n1, u1, n2, u2)
	}
	switch {
	case d >= day:
		return two(int64(d/day), "d", int64(d%day/time.Hour), "h")
	case d >= time.Hour:
		return two(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	case d >= time.Minute:
		return two(int64(d/time.Minute), "m", int64(d%time.Minute/time.Second), "s")
	default:
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
}

// maxShown bounds every token-supplied value quoted in a Reason or a
// description: a Reason is a log line, and the values are attacker-chosen.
const maxShown = 120

// clip shortens s to maxShown bytes on a rune boundary.
func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// clipJSON renders a token value as compact JSON, shortened, with every
// control character escaped: encoding/json leaves DEL and the C1 controls
// as they are, and a Reason ends up on terminals.
func clipJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strconv.Quote(clip(fmt.Sprint(v)))
	}
	return escapeControls(clip(string(b)))
}

// escapeControls writes control characters as \uXXXX, which is also their
// JSON escape.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// show renders a token-supplied string bare when it is plain printable
// text without spaces, quoted otherwise, so that an alg like "RS256" reads
// naturally while "" or "x\ny" cannot be mistaken for something else.
func show(s string) string {
	s = clip(s)
	q := strconv.Quote(s)
	if s == "" || q[1:len(q)-1] != s || strings.ContainsAny(s, " \"") {
		return q
	}
	return s
}
