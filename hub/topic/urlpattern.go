package topic

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/dunglas/go-urlpattern"
	whatwg "github.com/nlnwa/whatwg-url/url"
)

// urlParser is the WHATWG URL parser with default options; it holds no
// mutable state and is safe for concurrent use.
var urlParser = whatwg.NewParser()

// parsedBase is one parsed hub URL, remembered because every URL pattern
// matcher of a hub is compiled with the same base.
type parsedBase struct {
	raw  string
	url  *whatwg.Url
	href string // serialized url
}

var lastBase atomic.Pointer[parsedBase]

// parseBase parses the hub URL relative patterns and topics resolve against.
// The returned URL is shared between matchers and goroutines, so it is made
// read-only before being published (see below).
func parseBase(raw string) (*parsedBase, error) {
	if raw == "" {
		raw = defaultBase
	}
	if pb := lastBase.Load(); pb != nil && pb.raw == raw {
		return pb, nil
	}
	u, err := urlParser.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("topic: hub base URL is not an absolute URL: %w", err)
	}
	// whatwg-url's Url.Clone, which the parser calls on the base of every
	// relative resolution, lazily creates the search parameters of the URL
	// it clones: a write. Creating them now makes later uses pure reads, so
	// concurrent Match calls sharing this base do not race.
	_ = u.SearchParams()
	pb := &parsedBase{raw: raw, url: u, href: u.Href(false)}
	lastBase.Store(pb)
	return pb, nil
}

// compileURLPattern compiles a WHATWG URL Pattern (MAT-6). ignoreCase is never
// enabled (MAT-7). The compiler's error text is dropped on purpose: it can
// reveal internals and is not meant for clients (SUB-8).
func compileURLPattern(pattern string, base string) (up *urlpattern.URLPattern, err error) {
	invalid := fmt.Errorf("%w: not a valid URL pattern", ErrInvalidPattern)
	defer func() {
		// Patterns are client input; a bug in the third-party compiler must
		// turn into a rejected pattern, not a crashed goroutine.
		if recover() != nil {
			up, err = nil, invalid
		}
	}()
	// Absolute patterns are compiled without a base. The spec only asks for
	// the hub URL when the pattern is relative, and the URL Pattern
	// algorithm would otherwise still resolve a non-absolute pathname of an
	// absolute pattern against it (the pathname "*" of `urn\:x\:*` would
	// become "/.well-known/*").
	up, err = urlpattern.New(pattern, "", nil)
	if errors.Is(err, urlpattern.ErrNoBaseURL) {
		up, err = urlpattern.New(pattern, base, nil)
	}
	if err != nil {
		return nil, invalid
	}
	return up, nil
}

// URL pattern evaluation is dominated by WHATWG URL parsing (a few
// microseconds and ~90 allocations per parse; the regular expressions are a
// small fraction), and go-urlpattern parses its input again. Two small
// package-level caches cut that cost, measured by BenchmarkMatch:
//   - resolvedTopics maps (base, topic) to the resolved absolute URL, so a new
//     topic is resolved once however many pattern matchers examine it;
//   - urlResults maps (base, pattern, topic) to the answer, shared by every
//     matcher compiled from the same pattern (grants of many tokens, repeated
//     subscriptions) and making a repeated topic a map lookup.
//
// Both are bounded in entries, and only short strings are cached, so their
// memory is bounded too (under 20 MB in the very worst case, mostly strings
// that updates and matchers hold anyway).
const (
	maxCachedLen   = 2048
	urlCacheSize   = 2048
	topicCacheSize = 1024
)

type resolvedKey struct{ base, topic string }

type resultKey struct{ base, pattern, topic string }

// resolved is a topic resolved against the hub URL; ok is false when the
// WHATWG parser rejected it.
type resolved struct {
	href string
	ok   bool
}

var (
	resolvedTopics = newBoundedCache[resolvedKey, resolved](topicCacheSize)
	urlResults     = newBoundedCache[resultKey, bool](urlCacheSize)
)

// matchURL resolves topic against the hub URL with the WHATWG parser and
// tests the result against the pattern. A topic the parser rejects never
// matches (MAT-8); the host is lower-cased by that parsing (MAT-7).
func (m *Matcher) matchURL(topic string) bool {
	if m.simple != nil {
		// Testing costs less than looking the answer up.
		return m.evalURL(m.resolveCached(topic))
	}
	if len(topic) > maxCachedLen || len(m.pattern) > maxCachedLen {
		return m.evalURL(m.resolve(topic))
	}
	rk := resultKey{base: m.baseHref, pattern: m.pattern, topic: topic}
	if v, ok := urlResults.get(rk); ok {
		return v
	}
	v := m.evalURL(m.resolveCached(topic))
	urlResults.put(rk, v)
	return v
}

// resolveCached is resolve through the resolvedTopics cache, for the
// topics short enough to be kept.
func (m *Matcher) resolveCached(topic string) resolved {
	if len(topic) > maxCachedLen {
		return m.resolve(topic)
	}
	tk := resolvedKey{base: m.baseHref, topic: topic}
	r, ok := resolvedTopics.get(tk)
	if !ok {
		r = m.resolve(topic)
		resolvedTopics.put(tk, r)
	}
	return r
}

// parts are the components of a resolved topic an Index files URL patterns
// by, lower-cased scheme and host.
type parts struct {
	scheme, host, path string
}

var topicPartsCache = newBoundedCache[resolvedKey, parts](topicCacheSize)

// topicParts resolves topic against base (serialized as href) and returns
// the components URLPattern.Test compares: Test parses the serialized URL
// again, so the components come from that second parse too, not from the
// first one, and the index files patterns by exactly what they are tested
// on. ok is false when either parse fails: no URL pattern matches then.
func topicParts(topic string, base *whatwg.Url, href string) (p parts, ok bool) {
	cacheable := len(topic) <= maxCachedLen
	tk := resolvedKey{base: href, topic: topic}
	if cacheable {
		if p, ok := topicPartsCache.get(tk); ok {
			return p, p.scheme != ""
		}
	}
	m := Matcher{base: base}
	var r resolved
	if cacheable {
		var hit bool
		if r, hit = resolvedTopics.get(tk); !hit {
			r = m.resolve(topic)
			resolvedTopics.put(tk, r)
		}
	} else {
		r = m.resolve(topic)
	}
	if r.ok {
		p, ok = splitURL(r.href)
	}
	if cacheable {
		topicPartsCache.put(tk, p)
	}
	return p, ok
}

func splitURL(href string) (p parts, ok bool) {
	defer func() {
		if recover() != nil {
			p, ok = parts{}, false
		}
	}()
	u, err := urlParser.BasicParser(href, nil, nil, whatwg.NoState)
	if err != nil || u.Scheme() == "" {
		return parts{}, false
	}
	return parts{scheme: strings.ToLower(u.Scheme()), host: strings.ToLower(u.Hostname()), path: u.Pathname()}, true
}

// resolve parses topic as a URL reference against the hub URL.
func (m *Matcher) resolve(topic string) (r resolved) {
	defer func() {
		// Topics are client input; a parser bug must mean "no match".
		if recover() != nil {
			r = resolved{}
		}
	}()
	u, err := urlParser.BasicParser(topic, m.base, nil, whatwg.NoState)
	if err != nil {
		return resolved{}
	}
	return resolved{href: u.Href(false), ok: true}
}

// evalURL tests an absolute, already canonical URL against the pattern,
// unless that would cost more than the evaluation limit (MAT-9).
func (m *Matcher) evalURL(r resolved) (ok bool) {
	if r.ok && m.simple != nil {
		return m.simple.test(r.href)
	}
	if !r.ok || m.cost.tooExpensive(len(r.href)) {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return m.up.Test(r.href, "")
}
