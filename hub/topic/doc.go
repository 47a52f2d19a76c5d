// Package topic validates topics and matches them against the selectors of
// both protocol generations served by the hub.
//
// A selector is compiled once into a [Matcher] with [Compile] and then
// evaluated many times, concurrently, on the dispatch path. Three types exist:
//
//   - [TypeExact] (draft-08 `match`, `match_exact`, default `match_type`):
//     byte-for-byte comparison, no resolution and no normalization.
//   - [TypeURLPattern] (draft-08 `match_urlpattern`): a WHATWG URL Pattern.
//     Relative patterns and relative topics are resolved against the hub URL
//     ([Options.Base]) so a pattern such as
//     `/.well-known/mercure/subscriptions/:type/:match/:subscriber` selects the
//     relative topics of subscription events. Topics that the WHATWG URL
//     parser rejects simply do not match.
//   - [TypeLegacy] (0.x `topic=` parameter and `mercure.publish` /
//     `mercure.subscribe` claim entries): the exact string, or, when it parses
//     as one, an RFC 6570 URI template turned into an anchored regular
//     expression with the semantics deployed 0.x clients were written against.
//
// The value [Wildcard] (`*`) matches every topic whatever the type.
//
// Every regular expression involved runs on Go's RE2 engine, so matching
// time is linear in the topic length. The factor (program size, capture
// groups) is bounded too: patterns too costly to evaluate are refused at
// compile time, and an evaluation whose estimated cost exceeds a fixed budget
// counts as not matching (MAT-9). See complexity.go.
//
// Compiled patterns, URL pattern results and resolved topics are kept in
// small bounded package-level caches: the clients of one application use the
// same few patterns, and URL parsing dominates URL pattern matching.
//
// [ValidString] implements the character rules shared by topics and matcher
// values (TOP-1), and [IsReserved] the reserved hub namespace test applied to
// published topics (PUB-5).
package topic
