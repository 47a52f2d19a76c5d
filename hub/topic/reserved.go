package topic

import (
	"strings"
	"sync/atomic"

	whatwg "github.com/nlnwa/whatwg-url/url"
)

// defaultHubPath is the hub path of the spec's default hub URL.
const defaultHubPath = "/.well-known/mercure"

// reservedBaseOrigin is the origin of the synthetic base topics are resolved against
// in IsReserved. The host is irrelevant to the test (the namespace is
// reserved whatever the authority), and ".invalid" can never be a real one.
const reservedBaseOrigin = "https://mercure.invalid"

// reservedBase is the parsed synthetic base for one hub path, with that path
// in the normalized form paths are compared in.
type reservedBase struct {
	hubPath string // as given by the caller (cache key)
	url     *whatwg.Url
	path    string // normalized, without trailing '/'
}

// lastReserved remembers the base of the last hub path: a hub has one path,
// so this saves a URL parse per published topic.
var lastReserved atomic.Pointer[reservedBase]

// IsReserved reports whether topic addresses the hub's reserved namespace
// (PUB-5): topic is resolved with the WHATWG URL parser against a synthetic
// hub URL whose path is hubPath (so a relative topic is taken relative to the
// hub, as the spec requires), dot segments are removed and percent-encoded
// unreserved octets decoded, and the resulting path is compared with hubPath:
// equal, or hubPath followed by '/', means reserved whatever the scheme or
// host. A topic the parser rejects cannot name a hub path and is not reserved.
//
// hubPath is the path of the hub URL, e.g. "/.well-known/mercure"; empty
// means that default. Note that an empty topic, or one made only of a query
// or fragment, resolves to the hub URL itself and is therefore reserved.
func IsReserved(topic, hubPath string) (reserved bool) {
	rb := reservedBaseFor(hubPath)
	// Most published topics are plain absolute http(s) URLs: their path
	// is read without the parser (a third of the CPU of a publish went to
	// it). Only "not reserved" is decided that way; a path that looks
	// reserved is confirmed by the parser, which also rejects a bad host.
	if p, ok := plainPath(topic); ok && !rb.covers(p) {
		return false
	}
	defer func() {
		// Topics are client input; a parser bug must not crash the publisher.
		if recover() != nil {
			reserved = false
		}
	}()
	u, err := urlParser.BasicParser(topic, rb.url, nil, whatwg.NoState)
	if err != nil {
		return false
	}
	return rb.covers(decodeUnreserved(u.Pathname()))
}

// covers reports whether the normalized path p is the hub path or under it.
func (rb *reservedBase) covers(p string) bool {
	return p == rb.path || (len(p) > len(rb.path) && p[len(rb.path)] == '/' && strings.HasPrefix(p, rb.path))
}

// plainPath returns the path the WHATWG parser gives topic, with ok false
// unless topic is an absolute http or https URL made only of printable
// ASCII characters that the parser keeps as they are in a path (no '%',
// backslash, quote, angle bracket, backquote, brace, caret or pipe), with no
// extra slash after the scheme and no dot segment. For such a topic the
// parser, when it accepts the URL, copies the path verbatim (an empty one
// becomes "/"), which FuzzIsReserved checks against the parser itself.
func plainPath(topic string) (path string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(topic, "https://"):
		rest = topic[len("https://"):]
	case strings.HasPrefix(topic, "http://"):
		rest = topic[len("http://"):]
	default:
		return "", false
	}
	if rest == "" || rest[0] == '/' {
		return "", false
	}
	for i := 0; i < len(topic); i++ {
		switch c := topic[i]; {
		case c <= ' ' || c >= 0x7f:
			return "", false
		case c == '%' || c == '\\' || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}' || c == '^' || c == '|':
			return "", false
		}
	}
	slash := strings.IndexAny(rest, "/?#")
	if slash < 0 || rest[slash] != '/' {
		return "/", true
	}
	path = rest[slash:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if HasDotSegment(path) {
		return "", false
	}
	return path, true
}

func reservedBaseFor(hubPath string) *reservedBase {
	if rb := lastReserved.Load(); rb != nil && rb.hubPath == hubPath {
		return rb
	}
	rb := newReservedBase(hubPath)
	lastReserved.Store(rb)
	return rb
}

// newReservedBase normalizes hubPath exactly like topic paths (so a
// configured path spelled with %XX or dot segments still compares equal) and
// parses the synthetic base. hubPath is configuration, not client input: if
// it cannot be used, the default path is protected rather than nothing.
func newReservedBase(hubPath string) *reservedBase {
	p := hubPath
	if p == "" {
		p = defaultHubPath
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u, err := urlParser.Parse(reservedBaseOrigin + p)
	if err != nil || u.OpaquePath() {
		u, err = urlParser.Parse(reservedBaseOrigin + defaultHubPath)
		if err != nil {
			panic("topic: cannot parse the default reserved base: " + err.Error())
		}
	}
	// Only the path of the base matters for resolving references that
	// depend on it; a query or fragment in hubPath would leak into
	// resolved topics made only of a fragment.
	u.SetSearch("")
	u.SetHash("")
	// See parseBase: initialize lazily-built state before sharing u.
	_ = u.SearchParams()
	// A trailing '/' is dropped so that both "/hub" and "/hub/" protect
	// "/hub" and everything under "/hub/". A hub at the root ("/") thus
	// reserves every hierarchical path, which is what the rule says.
	return &reservedBase{
		hubPath: hubPath,
		url:     u,
		path:    strings.TrimRight(decodeUnreserved(u.Pathname()), "/"),
	}
}

// decodeUnreserved decodes the percent-encoded octets of s that stand for
// RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~), leaving every other
// escape as is. This is the normalization the reserved-namespace rule asks
// for: `/.well-known/%6Dercure` must compare equal to `/.well-known/mercure`
// but `%2F` must not become a path separator.
func decodeUnreserved(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if d := hi<<4 | lo; ok1 && ok2 && isUnreserved(d) {
				b.WriteByte(d)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
