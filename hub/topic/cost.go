package topic

import "strings"

// The hub bounds what the matchers of its subscribers may cost, per
// subscription and in total (issue 10: a few hundred near-limit URL
// patterns held gigabytes of compiled programs and took the dispatcher
// seconds per update). It needs that figure before compiling anything, so
// that a request over its budget costs no compilation either: Estimate
// gives it from the pattern text alone, and Matcher.Cost repeats it for a
// compiled matcher, so that what the hub charges and what it releases are
// the same number.
//
// The unit stands for both resources a matcher holds: the cost of a URL
// pattern is its estimated program size times its capture groups plus one
// (the factor of an evaluation, see complexity.go), plus a fixed overhead
// per matcher. Measured on the 2-core machine with go-urlpattern, one unit
// is at most about 15 bytes of compiled program and about 10 ns of one
// evaluation against a 100-byte topic: "https://example.com/books/:id" is
// about 900 units (9 us), twenty "*" wildcards about 8,500 (90 us), a
// 4 KiB literal path about 12,700 (190 KB). A legacy template is matched
// without captures, so its cost is its program size.
const matcherOverhead = 512

// Estimate is the cost of the matcher Compile would build for typ and
// pattern, from the text alone (nothing is compiled). Exact matchers, the
// wildcard and legacy selectors that are not templates cost nothing: they
// compile to no program and are matched by comparison. It is an upper
// bound for legacy templates, whose program is only known once compiled.
// An unknown typ or an unusable base costs 0: Compile refuses them anyway.
func Estimate(typ, pattern string, opt Options) int {
	if pattern == Wildcard {
		return 0
	}
	switch typ {
	case TypeURLPattern:
		base, err := parseBase(opt.Base)
		if err != nil {
			return 0
		}
		c := estimateURLPattern(pattern, base.href)
		return c.insts*(c.captures+1) + matcherOverhead
	case TypeLegacy:
		if !strings.Contains(pattern, "{") {
			return 0
		}
		return templateBound(pattern) + matcherOverhead
	}
	return 0
}

// templateBound over-estimates the program of a URI template's regular
// expression: uritemplate writes each literal byte as one literal (a few
// instructions with case folding and escaping) and each variable as a
// bounded alternation of character classes.
func templateBound(tpl string) int {
	return 4*len(tpl) + 32*countTemplateVars(tpl)
}

// Cost is Estimate for m's type and pattern (0 for a nil matcher), also
// when a legacy selector charged as a template turned out to be a plain
// string: what was charged before compiling is what is released.
func (m *Matcher) Cost() int {
	if m == nil {
		return 0
	}
	return m.charge
}
