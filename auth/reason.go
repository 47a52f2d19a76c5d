package auth

// Refusal reasons quote values taken from tokens, which an attacker
// chooses, and end up in logs and on terminals. The helpers here are the
// one place that decides how such a value is shown: shortened, with every
// control character escaped. Reasons use them, and so does anything that
// shows token content to people (`hermes token check`).

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

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

// ShowJSON renders a token-supplied value as compact JSON, shortened, with
// every control character escaped: encoding/json leaves DEL and the C1
// controls as they are.
func ShowJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strconv.Quote(clip(fmt.Sprint(v)))
	}
	return EscapeControls(clip(string(b)))
}

// EscapeControls writes control characters as \uXXXX, which is also their
// JSON escape. Token-supplied text goes through it before it reaches a log
// or a terminal; `hermes token check` uses it for what it prints.
func EscapeControls(s string) string {
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

// ShowValue renders a token-supplied string, shortened, bare when it is plain printable
// text without spaces, quoted otherwise, so that an alg like "RS256" reads
// naturally while "" or "x\ny" cannot be mistaken for something else.
func ShowValue(s string) string {
	s = clip(s)
	q := strconv.Quote(s)
	if s == "" || q[1:len(q)-1] != s || strings.ContainsAny(s, " \"") {
		return q
	}
	return s
}
