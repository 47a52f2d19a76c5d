package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
)

// describeGrant says in plain text what g allows: its dialect, its expiry
// relative to now, every publish and subscribe selector with how it
// matches, and the payloads. One fact per line, no trailing newline.
// Token-supplied values are shown through auth's escaping helpers.
func describeGrant(g *auth.Grant, now time.Time) string {
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
		fmt.Fprintf(&b, "expires: %s\n", describeTime(g.Expires, now))
	}
	describeMatchers(&b, "publish", g.Publish, g.Modern)
	describeMatchers(&b, "subscribe", g.Subscribe, g.Modern)
	if g.Modern {
		for _, d := range g.SubscribePayloads() {
			patterns := make([]string, len(d.Matchers))
			for i, m := range d.Matchers {
				patterns[i] = auth.ShowValue(m.Pattern())
			}
			fmt.Fprintf(&b, "payload for subscriptions to %s: %s\n", clipLine(strings.Join(patterns, ", ")), auth.ShowJSON(d.Payload))
		}
	} else if g.Payload != nil {
		fmt.Fprintf(&b, "payload: %s\n", auth.ShowJSON(g.Payload))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// clipLine bounds a list of already escaped patterns, which may be long.
func clipLine(s string) string {
	const max = 240
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
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
	p := auth.ShowValue(m.Pattern())
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

// describeRefusal renders why a token is refused. An expiry or start date
// is shown relative to now, which the hub's Reason (a log line, read
// later) does not do.
func describeRefusal(e *auth.Error, now time.Time) string {
	switch e.Rule {
	case auth.RuleExpired:
		return "expired at " + describeTime(e.At, now)
	case auth.RuleNotYetValid:
		return "not valid yet: nbf is " + describeTime(e.At, now)
	}
	return e.Reason
}

// describeTime renders t as RFC 3339 in UTC with its distance from now:
// "2026-11-22T10:00:00Z (3h ago)".
//
// The distance is computed in whole seconds, not as a time.Duration: a
// token's exp may lie thousands of years away, where a Duration saturates
// and its negation overflows (issue 10, finding 9).
func describeTime(t, now time.Time) string {
	secs := t.Unix() - now.Unix() // |secs| < 2^63: token dates are bounded by auth
	var rel string
	switch {
	case secs == 0:
		rel = "now"
	case secs < 0:
		rel = humanSeconds(-secs) + " ago"
	default:
		rel = "in " + humanSeconds(secs)
	}
	return t.UTC().Format(time.RFC3339) + " (" + rel + ")"
}

// humanSeconds renders a positive number of seconds with its two largest
// units: 45s, 3m20s, 3h, 2h5m, 12d, 3d4h.
func humanSeconds(s int64) string {
	const (
		minute = 60
		hour   = 60 * minute
		day    = 24 * hour
	)
	two := func(n1 int64, u1 string, n2 int64, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s%d%s", n1, u1, n2, u2)
	}
	switch {
	case s >= day:
		return two(s/day, "d", s%day/hour, "h")
	case s >= hour:
		return two(s/hour, "h", s%hour/minute, "m")
	case s >= minute:
		return two(s/minute, "m", s%minute, "s")
	default:
		return fmt.Sprintf("%ds", s)
	}
}
