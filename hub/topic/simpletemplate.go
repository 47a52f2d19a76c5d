package topic

import "strings"

// simpleTemplate is a URI template of the shape applications use for a
// resource's items, literal text then one expression at the end,
// "{name}" or "{+name}" ("https://example.com/books/{id}"). It is matched
// without compiling the template into a regular expression.
//
// Why: compiling costs about 50 µs (the uritemplate package builds the
// expression, RE2 compiles it), so a legacy token granting 100 resources
// nobody used before took 5 ms of CPU to connect; this shape is recognized
// and matched in well under a microsecond.
//
// Exactness: the package's expression for this shape is the literal text,
// quoted, then any run of the expression's allowed characters and
// percent-escapes ("%" and two hex digits), anchored at both ends; match
// checks exactly that. Literal text is limited to characters that need no
// quoting or encoding. The one difference is on purpose: match runs in
// time linear in the topic with a constant of a few instructions, so it
// skips the evaluation cost limit (MAT-9) the expression is subject to,
// which only turns very long topics into misses. FuzzSimpleTemplate
// compares both.
type simpleTemplate struct {
	literal  string
	reserved bool // "{+name}": reserved characters may appear unescaped
}

func parseSimpleTemplate(tpl string) (s simpleTemplate, ok bool) {
	open := strings.IndexByte(tpl, '{')
	if open < 0 || !strings.HasSuffix(tpl, "}") {
		return simpleTemplate{}, false
	}
	s.literal = tpl[:open]
	name := tpl[open+1 : len(tpl)-1]
	name, s.reserved = strings.CutPrefix(name, "+")
	if name == "" || !allBytes(name, isVarNameByte) || !allBytes(s.literal, isTemplateLiteralByte) {
		return simpleTemplate{}, false
	}
	return s, true
}

func (s *simpleTemplate) match(topic string) bool {
	rest, ok := strings.CutPrefix(topic, s.literal)
	if !ok {
		return false
	}
	allowed := &simpleExpansion
	if s.reserved {
		allowed = &reservedExpansion
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case allowed[c]:
		case c == '%' && i+2 < len(rest) && isHexDigit(rest[i+1]) && isHexDigit(rest[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// The characters an expansion may hold unescaped (RFC 6570, 3.2.2 and
// 3.2.3): unreserved, plus ',' which joins list values; a reserved
// expansion also passes the reserved set.
var simpleExpansion, reservedExpansion = func() (simple, reserved [256]bool) {
	for c := range 256 {
		simple[c] = isUnreserved(byte(c)) || c == ','
		reserved[c] = isUnreserved(byte(c)) || strings.IndexByte(":/?#[]@!$&'()*+,;=", byte(c)) >= 0
	}
	return simple, reserved
}()

func isHexDigit(c byte) bool {
	_, ok := unhex(c)
	return ok
}

func isVarNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_'
}

// isTemplateLiteralByte: unreserved characters, ':' and '/', which the
// template package copies into its expression as plain text.
func isTemplateLiteralByte(c byte) bool {
	return isUnreserved(c) || c == ':' || c == '/'
}
