package topic

import (
	"regexp"
	"strings"

	"github.com/yosida95/uritemplate/v3"
)

// compileTemplate returns the anchored regular expression of a legacy
// selector that is an RFC 6570 URI template, or nil when the selector is not
// one (no '{') or does not parse (LEG-2: fall back to exact comparison).
//
// The expression comes from yosida95/uritemplate/v3 on purpose: 0.x hubs used
// that library, and deployed clients rely on its exact semantics (LEG-3):
// every expression is optional and may be empty, simple expansions do not
// cross '/', '?' or raw non-ASCII, variable lists are joined by the
// operator's separator.
func compileTemplate(selector string) (re *regexp.Regexp) {
	if !strings.Contains(selector, "{") {
		return nil
	}
	tpl, err := uritemplate.New(selector)
	if err != nil {
		return nil
	}
	// Template.Regexp uses regexp.MustCompile: a template that parses but
	// yields an expression RE2 refuses (e.g. an expression listing more than
	// 1001 variables becomes a repeat count over RE2's limit of 1000) would
	// panic. A 0.x hub could not match such a selector either; treat it like
	// a broken template.
	defer func() {
		if recover() != nil {
			re = nil
		}
	}()
	return tpl.Regexp()
}
