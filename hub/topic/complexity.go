package topic

import (
	"regexp/syntax"
	"unicode/utf8"
)

// Go's regexp engine (RE2) runs in time linear in the input, but the factor
// is the size of the compiled program, and for the NFA that
// go-urlpattern's FindStringSubmatch ends up in, also the number of capture
// groups: the worst case is about len(input) x instructions x captures.
// With a 4 KiB pattern of 4000 "*" against a 4 KiB topic that is close to a
// minute of CPU for one Match; a custom regexp group with counted
// repetitions ("([a-z]{1,1000})") is as bad with a much shorter pattern.
// Patterns come from anonymous subscribers, so MAT-9 is enforced in two
// steps:
//
//   - at Compile, an upper bound of the program size and of the capture count
//     is computed from the pattern text; past the limits below the pattern is
//     rejected (URL patterns) or treated as a plain string (legacy templates,
//     as 0.x hubs did for templates they could not use);
//   - at Match, the bound times the topic length is the cost of an
//     evaluation; past maxEvalCost the pattern counts as not matching and the
//     regular expression is not run at all (MAT-9 allows exactly this).
//
// The estimates are deliberately generous (they over-count), so ordinary
// patterns stay far below the limits: "https://example.com/books/:id" is
// about 80 instructions and 1 capture, which allows topics of over 100 KB.
const (
	// maxPatternInsts bounds the estimated program size of one matcher.
	maxPatternInsts = 20_000
	// maxPatternCaptures bounds the capture groups of a URL pattern
	// (named groups, wildcards and regexp groups).
	maxPatternCaptures = 64
	// maxTemplateVars bounds the variables of a legacy URI template; the
	// size of the regular expression uritemplate builds grows with it.
	maxTemplateVars = 64
	// maxEvalCost bounds len(input) x instructions x (captures+1) for one
	// evaluation: a few tens of milliseconds in the worst case.
	maxEvalCost = 10_000_000
)

// cost is the static part of the evaluation cost of a matcher.
type cost struct {
	insts    int // upper bound of the regular expression program size
	captures int // capture groups the engine has to track
}

// tooExpensive reports whether evaluating a matcher of cost c on an input of
// n bytes must be skipped.
func (c cost) tooExpensive(n int) bool {
	return int64(n+1)*int64(c.insts)*int64(c.captures+1) > maxEvalCost
}

// estimateURLPattern over-estimates the regular expressions go-urlpattern
// generates for pattern, scanning the pattern with the URL Pattern
// tokenizer's rules for escapes, names and regexp groups. base is added as
// literal text because a relative pattern inherits parts of it.
func estimateURLPattern(pattern, base string) cost {
	// Eight components, each at least "^(?:...)$" with a wildcard default.
	c := cost{insts: 8*8 + len(base)}
	for i := 0; i < len(pattern); {
		r, size := utf8.DecodeRuneInString(pattern[i:])
		switch {
		case r == '\\':
			// An escaped character is one literal; skip it.
			i += size
			if i < len(pattern) {
				_, size = utf8.DecodeRuneInString(pattern[i:])
			} else {
				size = 0
			}
			c.insts += 3
		case r == '*':
			// Full wildcard "(.*)", or a modifier repeating the previous
			// part; count it as a group either way.
			c.insts += 8
			c.captures++
		case r == ':':
			j := i + size
			for j < len(pattern) {
				nr, ns := utf8.DecodeRuneInString(pattern[j:])
				if !isNameRune(nr, j == i+size) {
					break
				}
				j += ns
			}
			if j > i+size {
				// Named group: a segment wildcard "([^/]+?)", which a "+" or
				// "*" modifier may duplicate.
				c.insts += 16
				c.captures++
				size = j - i
			} else {
				c.insts++
			}
		case r == '(':
			end, body := regexpGroup(pattern, i)
			insts, caps := estimateRegexp(body)
			// A "+" or "*" modifier writes the group body twice.
			c.insts += 2*insts + 8
			c.captures += 1 + caps
			size = end - i
		default:
			// Literal text; canonicalization may percent-encode each byte
			// of a non-ASCII character into three.
			c.insts += 3 * size
		}
		i += size
	}
	return c
}

// isNameRune approximates the URL Pattern tokenizer's name code points (JS
// identifier characters): ASCII letters, digits (not first), '_' and '$',
// and any non-ASCII character. Over-matching only over-estimates.
func isNameRune(r rune, first bool) bool {
	switch {
	case r == '_' || r == '$', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r >= utf8.RuneSelf:
		return true
	case '0' <= r && r <= '9':
		return !first
	}
	return false
}

// regexpGroup returns the end (exclusive) of the regexp group opening at
// pattern[start] == '(' and its body, following the tokenizer: backslash
// escapes the next byte, parentheses nest. An unterminated group extends to
// the end of the pattern (go-urlpattern will reject it anyway).
func regexpGroup(pattern string, start int) (end int, body string) {
	depth := 0
	for i := start; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1, pattern[start+1 : i]
			}
		}
	}
	return len(pattern), pattern[start+1:]
}

// estimateRegexp over-estimates the program size and capture count of a
// Go regular expression. Text that does not parse is counted by its length
// (the pattern compiler will reject it anyway).
func estimateRegexp(expr string) (insts, captures int) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 2*len(expr) + 1, 1
	}
	// +4: the fail, whole-match capture and match instructions of a program.
	return min(regexpInsts(re)+4, maxPatternInsts+1), re.MaxCap()
}

// regexpInsts is an upper bound of the instructions syntax.Compile emits for
// re, saturating at maxPatternInsts+1 (anything above is rejected anyway, and
// nested counted repetitions would otherwise overflow).
func regexpInsts(re *syntax.Regexp) int {
	const limit = maxPatternInsts + 1
	sat := func(n int) int { return min(n, limit) }
	switch re.Op {
	case syntax.OpLiteral:
		// Case folding can turn one rune into an alternation.
		return sat(2 * len(re.Rune))
	case syntax.OpCapture:
		return sat(2 + regexpInsts(re.Sub[0]))
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return sat(2 + regexpInsts(re.Sub[0]))
	case syntax.OpRepeat:
		n := re.Max
		if n < 0 {
			n = re.Min + 1
		}
		n = max(n, 1)
		sub := regexpInsts(re.Sub[0]) + 1
		if sub >= limit/n {
			return limit
		}
		return sat(n * sub)
	case syntax.OpConcat, syntax.OpAlternate:
		total := 1
		for _, s := range re.Sub {
			total = sat(total + regexpInsts(s) + 1)
		}
		return total
	default:
		// Character classes, any-char, empty-width assertions: one or two.
		return 2
	}
}

// countTemplateVars counts the variables of a URI template: one per
// expression plus one per ',' inside an expression.
func countTemplateVars(tpl string) int {
	n, in := 0, false
	for i := 0; i < len(tpl); i++ {
		switch tpl[i] {
		case '{':
			in = true
			n++
		case '}':
			in = false
		case ',':
			if in {
				n++
			}
		}
	}
	return n
}
