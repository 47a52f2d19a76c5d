package topic

import "strings"

// simpleURL is a URL pattern of the shape applications put in their tokens
// by the hundred, an absolute http or https URL of plain text with at most
// one "*", at the end of its path ("https://example.com/users/42/*",
// "https://example.com/books/7"). It is matched without the URL Pattern
// library.
//
// Why: compiling a pattern with the library costs 0.1-0.3 ms (its
// constructor parses the pattern, canonicalizes each component through the
// WHATWG parser and compiles eight regular expressions), so a token of 100
// patterns nobody used before took 10-30 ms of CPU to connect; this shape
// is recognized and checked in a few microseconds.
//
// Exactness: for this shape the library's components are the scheme, the
// literal host, the literal port or "" (the default port), the literal
// path with or without a final full wildcard, and "*" for username,
// password, search and hash. A topic is tested in its canonical form (the
// WHATWG serialization, which matchURL already computes), where those
// components are plain substrings, so comparing the substrings gives the
// library's answer. The shape is accepted only when the pattern's literal
// URL is its own canonical serialization (lower-case host, no default
// port, no dot segments, nothing the parser would percent-encode), which
// is what makes a byte comparison with canonical topics exact.
// FuzzSimpleURL compares both on arbitrary patterns and topics.
type simpleURL struct {
	prefix   string // "https://": the scheme and the authority's start
	hostPort string // the host, then ":port" when the pattern has one
	host     string
	path     string // the literal path, without the final "*"
	wildcard bool   // the path ended with "*": any path that starts with path
}

// parseSimpleURL recognizes the shape; ok is false for any other pattern,
// which the library then compiles.
func parseSimpleURL(pattern string) (s simpleURL, ok bool) {
	switch {
	case strings.HasPrefix(pattern, "https://"):
		s.prefix = "https://"
	case strings.HasPrefix(pattern, "http://"):
		s.prefix = "http://"
	default:
		return simpleURL{}, false
	}
	rest := pattern[len(s.prefix):]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return simpleURL{}, false
	}
	s.hostPort, s.path = rest[:slash], rest[slash:]
	s.host = s.hostPort
	if colon := strings.IndexByte(s.hostPort, ':'); colon >= 0 {
		s.host = s.hostPort[:colon]
		if !allBytes(s.hostPort[colon+1:], isDigit) || colon+1 == len(s.hostPort) {
			return simpleURL{}, false
		}
	}
	if s.host == "" || !allBytes(s.host, isHostByte) || strings.Contains(s.host, "xn--") {
		return simpleURL{}, false
	}
	if p, ok := strings.CutSuffix(s.path, "*"); ok {
		s.path, s.wildcard = p, true
	}
	if !allBytes(s.path, isPathByte) {
		return simpleURL{}, false
	}
	for seg := range strings.SplitSeq(s.path, "/") {
		if seg == "." || seg == ".." {
			return simpleURL{}, false
		}
	}
	// The literal must serialize to itself: this rules out what the checks
	// above let through and the parser would still rewrite (a host that is
	// an IPv4 address in another notation, a default port, a leading zero
	// in a port).
	literal := pattern[:len(s.prefix)+slash+len(s.path)]
	if r := (&Matcher{}).resolve(literal); !r.ok || r.href != literal {
		return simpleURL{}, false
	}
	return s, true
}

// test reports whether href, a canonical absolute URL, matches. The
// authority of a canonical special URL ends at the first '/', its userinfo
// at the last '@' before it, and its path at the first '?' or '#' (the
// parser percent-encodes those characters everywhere before).
func (s *simpleURL) test(href string) bool {
	rest, ok := strings.CutPrefix(href, s.prefix)
	if !ok {
		return false
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return false
	}
	auth, path := rest[:slash], rest[slash:]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	if auth != s.hostPort {
		return false
	}
	if end := strings.IndexAny(path, "?#"); end >= 0 {
		path = path[:end]
	}
	if s.wildcard {
		return strings.HasPrefix(path, s.path)
	}
	return path == s.path
}

// components are the protocol, hostname and pathname the library reports
// for the same pattern (an Index files patterns by them).
func (s *simpleURL) components() (protocol, hostname, pathname string) {
	pathname = s.path
	if s.wildcard {
		pathname += "*"
	}
	return strings.TrimSuffix(s.prefix, "://"), s.host, pathname
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isHostByte: lower-case letters, digits, '-' and '.', which a host keeps
// as is through the WHATWG host parser (other spellings are rewritten or
// are pattern syntax).
func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || isDigit(c) || c == '-' || c == '.'
}

// isPathByte: unreserved characters and '/', which the path serializer
// keeps and the URL Pattern syntax reads as plain text.
func isPathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}

// urlComponents are the protocol, hostname and pathname of a URL pattern
// matcher, whichever way it was compiled.
func (m *Matcher) urlComponents() (protocol, hostname, pathname string) {
	if m.simple != nil {
		return m.simple.components()
	}
	return m.up.Protocol(), m.up.Hostname(), m.up.Pathname()
}
