package topic

import (
	"regexp"
	"strings"

	"github.com/yosida95/uritemplate/v3"
)

// compileTemplate returns the anchored regular expression of a legacy
// selector that is an RFC 6570 URI template and its evaluation cost; ok is
// false when the selector is not one (no '{'), does not parse, or is too
// large to be matched safely (LEG-2: fall back to exact comparison).
//
// The expression comes from yosida95/uritemplate/v3 on purpose: 0.x hubs used
// that library, and deployed clients rely on its exact semantics (LEG-3):
// every expression is optional and may be empty, simple expansions do not
// cross '/', '?' or raw non-ASCII, variable lists are joined by the
// operator's separator.
func compileTemplate(selector string) (re *regexp.Regexp, c cost, ok bool) {
	if !strings.Contains(selector, "{") || countTemplateVars(selector) > maxTemplateVars {
		return nil, cost{}, false
	}
	tpl, err := uritemplate.New(selector)
	if err != nil {
		return nil, cost{}, false
	}
	// Template.Regexp uses regexp.MustCompile: a template that parses but
	// yields an expression RE2 refuses would panic (an expression listing
	// more than 1001 variables becomes a repeat count over RE2's limit of
	// 1000; maxTemplateVars already keeps clear of that, this is defense in
	// depth). A 0.x hub could not match such a selector either; treat it
	// like a broken template.
	defer func() {
		if recover() != nil {
			re, c, ok = nil, cost{}, false
		}
	}()
	re = tpl.Regexp()
	// Match only asks whether the expression matches, so the engine tracks
	// no captures.
	insts, _ := estimateRegexp(re.String())
	if insts > maxPatternInsts {
		return nil, cost{}, false
	}
	return re, cost{insts: insts}, true
}
