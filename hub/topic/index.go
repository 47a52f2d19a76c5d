package topic

import (
	"strings"

	whatwg "github.com/nlnwa/whatwg-url/url"
)

// Index files matchers by the literal start of what they can match, so that
// a topic is evaluated against the few matchers whose literal start fits
// it instead of against all of them (issue 9: a private update used to be
// checked against every pattern of every subscriber's token).
//
// What an index may skip follows from how each kind of matcher compares:
//
//   - exact matchers (and legacy selectors that are not templates) compare
//     bytes: a map on the pattern;
//   - a legacy URI template compiles to an anchored regular expression
//     whose first literal is the template's text up to its first '{',
//     quoted byte for byte, compared with the raw topic: a topic can only
//     match if it starts with that text, so the template is filed under the
//     '/'-separated segments of that text that are followed by a '/';
//   - a URL pattern compares the components of the topic as the WHATWG
//     parser resolves it against the hub URL: protocol, hostname, pathname
//     each against an anchored expression. When the protocol pattern is
//     literal the topic's scheme must equal it; when the hostname pattern
//     is literal too the host must equal it; the pathname must start with
//     the literal text before its first special character. The pattern is
//     filed under (scheme, host, complete path segments of that text), as
//     far as they are literal. Scheme and host are lower-cased on both
//     sides, which can only add candidates;
//   - the wildcard, a pattern whose protocol is not literal (`*://…`,
//     `:scheme://…`, `{scheme}://…` templates) and one whose host is not
//     literal (`https://*.example.com/…`) are filed higher up, at the level
//     where their literal part stops: the root is evaluated for every topic.
//
// Every candidate is then evaluated exactly (Matcher.Match), so the index
// changes what is evaluated, never the answer; FuzzIndexAgreesWithMatch
// checks that against brute force.
//
// An Index is not safe for concurrent use: the hub's registry holds its
// lock around every call. Set is the read-only form for grants.
type Index[T comparable] struct {
	slots  map[*Matcher]*slot[T]
	exact  map[string]*node[T]
	always node[T]
	raw    node[T]
	urls   []*urlTrie[T] // one per hub URL the URL patterns were compiled with

	gen   uint64 // counts Match calls: a slot reported in this call has gen == slot.gen
	evals uint64
}

// slot is one matcher and the values filed with it.
type slot[T comparable] struct {
	m       *Matcher
	members []T
	pos     map[T]int // built when members grow past smallSet
	home    *node[T]
	at      int // position in home.slots
	gen     uint64
}

const smallSet = 8

type node[T comparable] struct {
	parent   *node[T]
	key      string
	children map[string]*node[T]
	slots    []*slot[T]
}

type urlTrie[T comparable] struct {
	base *whatwg.Url
	href string
	root node[T]
}

// indexPath is where an Index files a matcher, computed once by Compile.
type indexPath struct {
	trie trieKind
	segs []string
}

type trieKind uint8

const (
	trieAlways trieKind = iota // evaluated for every topic (the wildcard)
	trieExact                  // byte equality
	trieRaw                    // legacy template: raw segments of its literal start
	trieURL                    // URL pattern: scheme, host, path segments
)

// patternSpecials are the characters that end the literal text of a URL
// pattern component (pattern syntax and escapes).
const patternSpecials = `\:*(){}?+`

// literalPath computes m's indexPath.
func literalPath(m *Matcher) indexPath {
	switch m.kind {
	case kindExact:
		return indexPath{trie: trieExact}
	case kindTemplate:
		lit := m.pattern
		if i := strings.IndexByte(lit, '{'); i >= 0 {
			lit = lit[:i]
		}
		return indexPath{trie: trieRaw, segs: completeSegments(lit)}
	case kindURLPattern:
		return indexPath{trie: trieURL, segs: urlPatternPath(m)}
	}
	return indexPath{trie: trieAlways}
}

// completeSegments splits lit on '/' and keeps the segments a '/' follows:
// those a matching topic must have, whole, at the same places.
func completeSegments(lit string) []string {
	i := strings.LastIndexByte(lit, '/')
	if i < 0 {
		return nil
	}
	return strings.Split(lit[:i], "/")
}

func urlPatternPath(m *Matcher) []string {
	proto, host, p := m.urlComponents()
	if !literalComponent(proto) {
		return nil
	}
	segs := []string{strings.ToLower(proto)}
	if !literalComponent(host) {
		return segs
	}
	segs = append(segs, strings.ToLower(host))
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 || strings.IndexByte(patternSpecials, p[i]) >= 0 {
			if i > 0 && p[i-1] == '/' && optionalToken(p[i:]) {
				// The '/' is the prefix of an optional token
				// (`/books/:id?` matches /books): not literal.
				i--
			}
			p = p[:i]
			break
		}
	}
	return append(segs, completeSegments(p)...)
}

// optionalToken reports whether rest starts with a token that takes the
// '/' before it as its prefix (a name, a regular expression group or a
// wildcard) and has an optional modifier ('?' or '*'). When unsure it says
// yes: trimming a segment only adds candidates.
func optionalToken(rest string) bool {
	i := 0
	switch {
	case rest[0] == '*':
		i = 1
	case rest[0] == ':':
		i = 1
		for i < len(rest) && (isNameByte(rest[i]) || rest[i] >= 0x80) {
			i++
		}
		if i < len(rest) && rest[i] == '(' {
			if i = groupEnd(rest, i); i < 0 {
				return true
			}
		}
	case rest[0] == '(':
		if i = groupEnd(rest, 0); i < 0 {
			return true
		}
	default:
		// '{' starts a group, which takes no prefix; '\' escapes a
		// literal; '?' '+' cannot follow a '/' in a valid pattern.
		return rest[0] != '{' && rest[0] != '\\'
	}
	return i < len(rest) && (rest[i] == '?' || rest[i] == '*')
}

func isNameByte(c byte) bool {
	return c == '_' || c == '$' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// groupEnd returns the index after the ')' closing the '(' at rest[start],
// -1 if it cannot tell.
func groupEnd(rest string, start int) int {
	depth := 0
	for i := start; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func literalComponent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || strings.IndexByte(patternSpecials, s[i]) >= 0 {
			return false
		}
	}
	return true
}

// NewIndex returns an empty index.
func NewIndex[T comparable]() *Index[T] {
	return &Index[T]{slots: make(map[*Matcher]*slot[T]), exact: make(map[string]*node[T])}
}

// Add files v under m; adding the same pair again changes nothing.
func (ix *Index[T]) Add(m *Matcher, v T) {
	if m == nil {
		return
	}
	s := ix.slots[m]
	if s == nil {
		s = &slot[T]{m: m}
		s.home = ix.home(m, true)
		s.at = len(s.home.slots)
		s.home.slots = append(s.home.slots, s)
		ix.slots[m] = s
	}
	s.add(v)
}

// Remove takes v off m; removing a pair that is not there changes nothing.
// A matcher without values leaves the index, and so do the trie nodes it
// alone needed.
func (ix *Index[T]) Remove(m *Matcher, v T) {
	s := ix.slots[m]
	if s == nil || !s.remove(v) || len(s.members) > 0 {
		return
	}
	delete(ix.slots, m)
	n := s.home
	last := len(n.slots) - 1
	n.slots[s.at] = n.slots[last]
	n.slots[s.at].at = s.at
	n.slots[last] = nil
	n.slots = n.slots[:last]
	if m.path.trie == trieExact && len(n.slots) == 0 {
		delete(ix.exact, m.pattern)
		return
	}
	for n.parent != nil && len(n.slots) == 0 && len(n.children) == 0 {
		delete(n.parent.children, n.key)
		n = n.parent
	}
	if len(n.slots) == 0 && len(n.children) == 0 {
		// An empty URL trie root: forget that hub URL.
		for i, u := range ix.urls {
			if &u.root == n {
				ix.urls = append(ix.urls[:i], ix.urls[i+1:]...)
				break
			}
		}
	}
}

// Len is the number of distinct matchers in the index.
func (ix *Index[T]) Len() int { return len(ix.slots) }

// Evaluations counts the matcher evaluations Match made (tests, benchmarks).
func (ix *Index[T]) Evaluations() uint64 { return ix.evals }

// Match calls fn with every value filed under a matcher that matches at
// least one of topics. Each matcher is evaluated at most once per topic and
// reported at most once per call; a value filed under several matching
// matchers is passed once for each (callers deduplicate).
func (ix *Index[T]) Match(topics []string, fn func(v T)) {
	ix.gen++
	for _, t := range topics {
		ix.candidates(t, func(s *slot[T]) bool {
			if s.gen == ix.gen {
				return true
			}
			ix.evals++
			if s.m.Match(t) {
				s.gen = ix.gen
				for _, v := range s.members {
					fn(v)
				}
			}
			return true
		})
	}
}

// home returns the node m is filed at, creating it when create is set (nil
// if it does not exist otherwise).
func (ix *Index[T]) home(m *Matcher, create bool) *node[T] {
	p := m.path
	switch p.trie {
	case trieExact:
		n := ix.exact[m.pattern]
		if n == nil && create {
			n = &node[T]{}
			ix.exact[m.pattern] = n
		}
		return n
	case trieRaw:
		return ix.raw.descend(p.segs, create)
	case trieURL:
		for _, u := range ix.urls {
			if u.href == m.baseHref {
				return u.root.descend(p.segs, create)
			}
		}
		if !create {
			return nil
		}
		u := &urlTrie[T]{base: m.base, href: m.baseHref}
		ix.urls = append(ix.urls, u)
		return u.root.descend(p.segs, true)
	}
	return &ix.always
}

func (n *node[T]) descend(segs []string, create bool) *node[T] {
	for _, seg := range segs {
		c := n.children[seg]
		if c == nil {
			if !create {
				return nil
			}
			if n.children == nil {
				n.children = make(map[string]*node[T])
			}
			c = &node[T]{parent: n, key: seg}
			n.children[seg] = c
		}
		n = c
	}
	return n
}

// candidates calls visit for every matcher that may match topic (a
// superset of those that do), until visit returns false. It only reads the
// index.
func (ix *Index[T]) candidates(topic string, visit func(*slot[T]) bool) bool {
	if n := ix.exact[topic]; n != nil && !visitAll(n.slots, visit) {
		return false
	}
	if !visitAll(ix.always.slots, visit) {
		return false
	}
	if !walkSegments(&ix.raw, topic, visit) {
		return false
	}
	for _, u := range ix.urls {
		n := &u.root
		if !visitAll(n.slots, visit) {
			return false
		}
		if len(n.children) == 0 {
			continue
		}
		p, ok := topicParts(topic, u.base, u.href)
		if !ok {
			// Unparsable: no URL pattern of this hub URL matches it
			// (MAT-8), the root's included, but those were cheap to ask.
			continue
		}
		if n = n.children[p.scheme]; n == nil {
			continue
		}
		if !visitAll(n.slots, visit) {
			return false
		}
		if n = n.children[p.host]; n == nil {
			continue
		}
		if !walkSegments(n, p.path, visit) {
			return false
		}
	}
	return true
}

// walkSegments visits n, then the children along the '/'-separated
// segments of s that a '/' follows.
func walkSegments[T comparable](n *node[T], s string, visit func(*slot[T]) bool) bool {
	for {
		if !visitAll(n.slots, visit) {
			return false
		}
		i := strings.IndexByte(s, '/')
		if i < 0 || len(n.children) == 0 {
			return true
		}
		if n = n.children[s[:i]]; n == nil {
			return true
		}
		s = s[i+1:]
	}
}

func visitAll[T comparable](slots []*slot[T], visit func(*slot[T]) bool) bool {
	for _, s := range slots {
		if !visit(s) {
			return false
		}
	}
	return true
}

func (s *slot[T]) add(v T) {
	if s.pos != nil {
		if _, ok := s.pos[v]; ok {
			return
		}
		s.pos[v] = len(s.members)
		s.members = append(s.members, v)
		return
	}
	for _, x := range s.members {
		if x == v {
			return
		}
	}
	s.members = append(s.members, v)
	if len(s.members) > smallSet {
		s.pos = make(map[T]int, len(s.members))
		for i, x := range s.members {
			s.pos[x] = i
		}
	}
}

func (s *slot[T]) remove(v T) bool {
	i := -1
	if s.pos != nil {
		if j, ok := s.pos[v]; ok {
			i = j
			delete(s.pos, v)
		}
	} else {
		for j, x := range s.members {
			if x == v {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return false
	}
	last := len(s.members) - 1
	s.members[i] = s.members[last]
	if s.pos != nil && i != last {
		s.pos[s.members[i]] = i
	}
	var zero T
	s.members[last] = zero
	s.members = s.members[:last]
	return true
}

// Set is a read-only index of matchers answering "does one of them match":
// what a token's grant asks for every private update and every publish.
// It is safe for concurrent use.
type Set struct {
	all []*Matcher
	ix  *Index[struct{}] // nil for small sets, evaluated in order
}

// setIndexFrom: below it, walking an index costs more than it saves.
const setIndexFrom = 4

// NewSet builds the set of ms.
func NewSet(ms []*Matcher) *Set {
	s := &Set{all: ms}
	if len(ms) >= setIndexFrom {
		s.ix = NewIndex[struct{}]()
		for _, m := range ms {
			s.ix.Add(m, struct{}{})
		}
	}
	return s
}

// Match reports whether a matcher of the set matches topic.
func (s *Set) Match(topic string) bool {
	if s == nil {
		return false
	}
	if s.ix == nil {
		for _, m := range s.all {
			if m.Match(topic) {
				return true
			}
		}
		return false
	}
	found := false
	s.ix.candidates(topic, func(sl *slot[struct{}]) bool {
		found = sl.m.Match(topic)
		return !found
	})
	return found
}

// MatchAny reports whether a matcher of the set matches one of topics.
func (s *Set) MatchAny(topics []string) bool {
	for _, t := range topics {
		if s.Match(t) {
			return true
		}
	}
	return false
}
