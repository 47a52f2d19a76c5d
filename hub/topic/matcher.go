// Package topic validates topics and matches them against the selectors of
// both protocol generations: exact and URL Pattern matchers (draft-08) and
// the legacy selectors of 0.x hubs (exact string, RFC 6570 URI template, *).
package topic

import "errors"

// Matcher types. Exact and URLPattern are the draft-08 names (canonical,
// lowercase, as they appear in match_<type> and in tokens); Legacy is the
// selector of a legacy `topic=` parameter or `mercure` claim entry.
const (
	TypeExact      = "exact"
	TypeURLPattern = "urlpattern"
	TypeLegacy     = "legacy"
)

// Wildcard matches every topic, whatever the matcher type (MAT-3, LEG-2).
const Wildcard = "*"

// ErrInvalidPattern is returned (wrapped) for a pattern that is not valid
// for its type. The compiler's own message is never shown to clients.
var ErrInvalidPattern = errors.New("invalid topic matcher pattern")

// Options are the compile-time settings shared by all matchers of a hub.
type Options struct {
	// Base is the absolute URL relative URL patterns and relative topics
	// are resolved against (the hub URL, e.g.
	// https://hub.example/.well-known/mercure).
	Base string
}

// Matcher is a compiled selector. It is immutable and safe for concurrent use.
type Matcher struct {
	typ     string
	pattern string
	impl    func(topic string) bool // nil: exact comparison or wildcard
}
