package topic

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/dunglas/go-urlpattern"
	whatwg "github.com/nlnwa/whatwg-url/url"
)

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

// defaultBase is the hub URL used when Options.Base is empty.
const defaultBase = "http://localhost/.well-known/mercure"

// maxPatternLength is a backstop against absurd patterns reaching the
// compilers (URL Pattern and URI template compile to regular expressions
// whose size grows with the pattern). The hub applies its own, smaller,
// protocol limit (4096 bytes, SUB-10) before calling Compile; this one only
// protects callers that forget to.
const maxPatternLength = 64 << 10

// ErrInvalidPattern is returned (wrapped) for a pattern that is not valid
// for its type. The compiler's own message is never shown to clients.
var ErrInvalidPattern = errors.New("invalid topic matcher pattern")

// Options are the compile-time settings shared by all matchers of a hub.
type Options struct {
	// Base is the absolute URL relative URL patterns and relative topics
	// are resolved against (the hub URL, e.g.
	// https://hub.example/.well-known/mercure). Empty means
	// http://localhost/.well-known/mercure.
	Base string
}

// kind is how Match evaluates a topic; a switch on it keeps Match free of
// indirect calls and allocations for the common kinds.
type kind uint8

const (
	kindNone       kind = iota // zero Matcher: matches nothing
	kindWildcard               // "*": matches everything
	kindExact                  // byte equality with pattern
	kindTemplate               // legacy URI template: equality, then regexp
	kindURLPattern             // WHATWG URL Pattern
)

// Matcher is a compiled selector. It is immutable and safe for concurrent use.
// The zero value matches nothing.
type Matcher struct {
	typ     string
	pattern string
	kind    kind

	// kindTemplate: the anchored regular expression of the URI template,
	// or the template of the commonest shape matched without one
	// (simpletemplate.go).
	re  *regexp.Regexp
	tpl *simpleTemplate

	// kindTemplate, kindURLPattern: static evaluation cost (MAT-9).
	cost cost

	// kindURLPattern: the compiled pattern, or the pattern of the commonest
	// shape matched without the library (simpleurl.go), and the parsed hub
	// URL relative topics are resolved against.
	up       *urlpattern.URLPattern
	simple   *simpleURL
	base     *whatwg.Url
	baseHref string // serialized base, part of the cache keys

	// charge is Estimate(typ, pattern): what the hub charges for m.
	charge int

	// path is where an Index files m (index.go).
	path indexPath
}

// Compile builds a matcher. typ is TypeExact, TypeURLPattern or TypeLegacy;
// any other typ is an error wrapping ErrInvalidPattern, even for "*", because
// a matcher type the hub cannot interpret must fail loudly (MAT-2).
//
// The pattern must pass ValidString. "*" is the wildcard for every type and
// is recognized before any type-specific parsing (MAT-3, LEG-2).
//
// A URL pattern whose regular expressions would be too large or track too
// many capture groups to be evaluated safely is rejected (MAT-9); a legacy
// URI template in that case is compared as a plain string, like a template
// that does not parse.
//
// Every error caused by typ or pattern wraps ErrInvalidPattern and never
// repeats the text of the underlying compiler (SUB-8). An unusable
// opt.Base is a configuration error and does not wrap ErrInvalidPattern.
//
// Compile interns what it builds: while a matcher of (typ, pattern, base)
// is alive, Compile returns that same *Matcher (intern.go), so identical
// patterns of many tokens and subscriptions are one matcher.
func Compile(typ, pattern string, opt Options) (*Matcher, error) {
	switch typ {
	case TypeExact, TypeURLPattern, TypeLegacy:
	default:
		return nil, fmt.Errorf("%w: unsupported matcher type", ErrInvalidPattern)
	}
	if len(pattern) > maxPatternLength {
		return nil, fmt.Errorf("%w: pattern longer than %d bytes", ErrInvalidPattern, maxPatternLength)
	}
	if err := ValidString(pattern); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPattern, err)
	}

	if pattern == Wildcard {
		return wildcards[typ], nil
	}
	m := &Matcher{typ: typ, pattern: pattern}

	if typ == TypeExact {
		m.kind = kindExact
		return m, nil
	}

	var key compiledKey
	if typ == TypeURLPattern {
		base, err := parseBase(opt.Base)
		if err != nil {
			return nil, err
		}
		m.base, m.baseHref = base.url, base.href
		key.base = base.href
	}
	key.typ, key.pattern = typ, pattern
	if im := interned.get(key); im != nil {
		return im, nil
	}
	c, ok := compiledPatterns.get(key)
	if !ok {
		c = compilePattern(typ, pattern, m.baseHref)
		if len(pattern) <= maxCachedPatternLen && c.cost.insts <= maxCachedPatternInsts {
			compiledPatterns.put(key, c)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	m.kind, m.re, m.tpl, m.up, m.simple, m.cost = c.kind, c.re, c.tpl, c.up, c.simple, c.cost
	// What the hub charged before compiling, even for a selector that
	// turned out not to be a template (LEG-2): charge and release agree.
	m.charge = Estimate(typ, pattern, opt)
	m.path = literalPath(m)
	return interned.put(key, m), nil
}

// wildcards are the "*" matchers, one per type: immutable, so shared.
var wildcards = map[string]*Matcher{
	TypeExact:      {typ: TypeExact, pattern: Wildcard, kind: kindWildcard},
	TypeURLPattern: {typ: TypeURLPattern, pattern: Wildcard, kind: kindWildcard},
	TypeLegacy:     {typ: TypeLegacy, pattern: Wildcard, kind: kindWildcard},
}

// compiledKey identifies the result of compiling a pattern: the base only
// matters to URL patterns and is empty for legacy selectors.
type compiledKey struct{ typ, base, pattern string }

// compiled is the immutable, shareable result of compiling a legacy or URL
// pattern selector (compiled regular expressions and URL patterns are safe
// for concurrent use).
type compiled struct {
	kind   kind
	re     *regexp.Regexp
	tpl    *simpleTemplate
	up     *urlpattern.URLPattern
	simple *simpleURL
	cost   cost
	err    error
}

// Compiling is far more expensive than matching (about 0.1-0.3 ms for a URL
// pattern, 50 µs for a URI template, outside the shapes of simpleurl.go and
// simpletemplate.go), and the clients of an application
// all subscribe with the same few patterns, so compilations (failures
// included) are shared through a bounded cache. Only small patterns are kept
// (typical ones are 100 to 300 estimated instructions), so that the cache
// holds at most a few megabytes of compiled programs whatever clients send.
const (
	compiledCacheSize     = 256
	maxCachedPatternLen   = 1024
	maxCachedPatternInsts = 1024
)

var compiledPatterns = newBoundedCache[compiledKey, compiled](compiledCacheSize)

// compilePattern compiles a non-wildcard legacy selector or URL pattern.
func compilePattern(typ, pattern, baseHref string) compiled {
	if typ == TypeLegacy {
		if st, ok := parseSimpleTemplate(pattern); ok {
			return compiled{kind: kindTemplate, tpl: &st}
		}
		if re, c, ok := compileTemplate(pattern); ok {
			return compiled{kind: kindTemplate, re: re, cost: c}
		}
		// LEG-2: not a template (or a broken one): plain equality.
		return compiled{kind: kindExact}
	}
	c := estimateURLPattern(pattern, baseHref)
	if c.insts > maxPatternInsts || c.captures > maxPatternCaptures {
		return compiled{err: fmt.Errorf("%w: URL pattern too complex", ErrInvalidPattern)}
	}
	if s, ok := parseSimpleURL(pattern); ok {
		return compiled{kind: kindURLPattern, simple: &s, cost: c}
	}
	up, err := compileURLPattern(pattern, baseHref)
	if err != nil {
		return compiled{err: err}
	}
	return compiled{kind: kindURLPattern, up: up, cost: c}
}

// Type returns the matcher type given to Compile.
func (m *Matcher) Type() string {
	if m == nil {
		return ""
	}
	return m.typ
}

// Pattern returns the pattern given to Compile, unchanged.
func (m *Matcher) Pattern() string {
	if m == nil {
		return ""
	}
	return m.pattern
}

// IsWildcard reports whether m is the "*" matcher.
func (m *Matcher) IsWildcard() bool {
	return m != nil && m.kind == kindWildcard
}

// ExactKey returns the single topic m matches when matching is plain byte
// equality (exact matchers, and legacy selectors that are not templates), so
// the hub can index it in a hash map. ok is false for the wildcard, URI
// templates and URL patterns, which must be evaluated with Match.
func (m *Matcher) ExactKey() (key string, ok bool) {
	if m == nil || m.kind != kindExact {
		return "", false
	}
	return m.pattern, true
}

// Match reports whether topic is selected by m. It never fails: a topic that
// cannot be interpreted for m's type (e.g. an unparsable URL for a URL
// pattern, MAT-8) does not match, and neither does a topic so long that
// evaluating m's regular expression on it would exceed the evaluation cost
// limit (MAT-9; only pathological patterns reach it with ordinary topics).
func (m *Matcher) Match(topic string) bool {
	if m == nil {
		return false
	}
	switch m.kind {
	case kindWildcard:
		return true
	case kindExact:
		return topic == m.pattern
	case kindTemplate:
		// LEG-2: a template also matches itself, byte for byte.
		if topic == m.pattern {
			return true
		}
		if m.tpl != nil {
			return m.tpl.match(topic)
		}
		return !m.cost.tooExpensive(len(topic)) && m.re.MatchString(topic)
	case kindURLPattern:
		return m.matchURL(topic)
	default:
		return false
	}
}

// MatchAny reports whether at least one of topics is selected by m (an update
// is routed on its canonical and alternate topics alike, TOP-2). An empty
// list matches nothing, even for the wildcard.
func (m *Matcher) MatchAny(topics []string) bool {
	for _, t := range topics {
		if m.Match(t) {
			return true
		}
	}
	return false
}
