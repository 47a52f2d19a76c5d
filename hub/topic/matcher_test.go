package topic

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

var hubOpt = Options{Base: "https://hub.test/.well-known/mercure"}

func mustCompile(t testing.TB, typ, pattern string, opt Options) *Matcher {
	t.Helper()
	m, err := Compile(typ, pattern, opt)
	if err != nil {
		t.Fatalf("Compile(%q, %q): %v", typ, pattern, err)
	}
	return m
}

type matchCase struct {
	topic string
	want  bool
}

func checkMatches(t *testing.T, m *Matcher, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		if got := m.Match(c.topic); got != c.want {
			t.Errorf("%s matcher %q: Match(%q) = %v, want %v", m.Type(), m.Pattern(), c.topic, got, c.want)
		}
	}
}

var allTypes = []string{TypeExact, TypeURLPattern, TypeLegacy}

func TestMAT3_WildcardMatchesEveryTopicForEveryType(t *testing.T) {
	topics := []string{"", "*", "a", "https://example.com/books/1", "/.well-known/mercure/subscriptions/x", "http://[", "\x00\xff"}
	for _, typ := range allTypes {
		m := mustCompile(t, typ, Wildcard, hubOpt)
		if !m.IsWildcard() {
			t.Errorf("%s: IsWildcard() = false", typ)
		}
		if m.Type() != typ || m.Pattern() != Wildcard {
			t.Errorf("%s: Type/Pattern = %q/%q", typ, m.Type(), m.Pattern())
		}
		if k, ok := m.ExactKey(); ok {
			t.Errorf("%s: ExactKey() = %q, true; the wildcard is not an exact key", typ, k)
		}
		for _, topic := range topics {
			if !m.Match(topic) {
				t.Errorf("%s wildcard does not match %q", typ, topic)
			}
		}
	}
}

func TestMAT3_WildcardIsRecognizedBeforeURLPatternParsing(t *testing.T) {
	// As a URL pattern resolved against the hub URL, "*" would only cover
	// https://hub.test/.well-known/*; as the wildcard it covers everything.
	m := mustCompile(t, TypeURLPattern, "*", hubOpt)
	checkMatches(t, m, []matchCase{{"https://other.example/x", true}, {"urn:isbn:1", true}, {"not a url", true}})
}

func TestMAT2_UnsupportedTypeRejected(t *testing.T) {
	for _, typ := range []string{"", "Exact", "EXACT", "regex", "uritemplate", "match_exact"} {
		for _, pattern := range []string{"a", Wildcard} {
			_, err := Compile(typ, pattern, hubOpt)
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("Compile(%q, %q) error = %v, want ErrInvalidPattern", typ, pattern, err)
			}
		}
	}
}

func TestMAT4_ExactIsCaseSensitiveByteComparison(t *testing.T) {
	m := mustCompile(t, TypeExact, "https://E.com/a", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://E.com/a", true},
		{"https://e.com/a", false},
		{"https://E.com/a/", false},
		{"https://E.com:443/a", false},
	})
}

func TestMAT4_ExactDoesNotResolveRelativeValues(t *testing.T) {
	m := mustCompile(t, TypeExact, "/a", hubOpt)
	checkMatches(t, m, []matchCase{{"/a", true}, {"https://hub.test/a", false}, {"a", false}})

	abs := mustCompile(t, TypeExact, "https://hub.test/a", hubOpt)
	checkMatches(t, abs, []matchCase{{"/a", false}, {"https://hub.test/a", true}})
}

func TestMAT4_ExactDoesNotNormalizeUnicode(t *testing.T) {
	nfc := "https://example.com/caf\u00e9"
	nfd := "https://example.com/cafe\u0301"
	m := mustCompile(t, TypeExact, nfc, hubOpt)
	checkMatches(t, m, []matchCase{{nfc, true}, {nfd, false}, {"https://example.com/caf%C3%A9", false}})
	m = mustCompile(t, TypeExact, nfd, hubOpt)
	checkMatches(t, m, []matchCase{{nfd, true}, {nfc, false}})
}

func TestMAT4_ExactKey(t *testing.T) {
	m := mustCompile(t, TypeExact, "https://example.com/a", hubOpt)
	if k, ok := m.ExactKey(); !ok || k != "https://example.com/a" {
		t.Errorf("ExactKey() = %q, %v", k, ok)
	}
	m = mustCompile(t, TypeExact, "https://example.com/{id}", hubOpt)
	if k, ok := m.ExactKey(); !ok || k != "https://example.com/{id}" {
		t.Errorf("exact matchers never interpret templates: ExactKey() = %q, %v", k, ok)
	}
	checkMatches(t, m, []matchCase{{"https://example.com/1", false}})
	m = mustCompile(t, TypeURLPattern, "https://example.com/a", hubOpt)
	if _, ok := m.ExactKey(); ok {
		t.Error("URL pattern matcher has an ExactKey")
	}
}

func TestMAT6_RelativePatternMatchesSubscriptionEventTopics(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "/.well-known/mercure/subscriptions/:t/:m/:s", hubOpt)
	checkMatches(t, m, []matchCase{
		// Subscription event topics are relative (EVT).
		{"/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa/urn%3Auuid%3A1", true},
		{"/.well-known/mercure/subscriptions/urlpattern/x/y", true},
		// The same resource written absolutely on the hub host.
		{"https://hub.test/.well-known/mercure/subscriptions/exact/a/b", true},
		{"https://HUB.test/.well-known/mercure/subscriptions/exact/a/b", true},
		// Another host, another scheme, or too few segments.
		{"https://other.test/.well-known/mercure/subscriptions/exact/a/b", false},
		{"http://hub.test/.well-known/mercure/subscriptions/exact/a/b", false},
		{"/.well-known/mercure/subscriptions/exact/a", false},
	})
}

func TestMAT6_AbsolutePatternMatchesRelativeTopicOnHubHost(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "https://hub.test/books/:id", hubOpt)
	checkMatches(t, m, []matchCase{
		{"/books/1", true},
		{"https://hub.test/books/1", true},
		{"https://other.test/books/1", false},
		{"/books/1/2", false},
	})
}

func TestMAT6_RelativePatternPathIsResolvedAgainstHubPath(t *testing.T) {
	// A pattern path without leading '/' is relative to the hub URL's
	// directory, like any URL reference.
	m := mustCompile(t, TypeURLPattern, "books/:id", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://hub.test/.well-known/books/1", true},
		{"books/1", true},
		{"https://hub.test/books/1", false},
	})
}

func TestMAT6_DefaultBase(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "/books/:id", Options{})
	checkMatches(t, m, []matchCase{
		{"/books/1", true},
		{"http://localhost/books/1", true},
		{"https://hub.test/books/1", false},
	})
}

func TestMAT6_AbsolutePatternIgnoresBase(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "https://example.com/books/:id", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://example.com/books/1", true},
		{"https://example.com/books/1?x=y#f", true},
		{"/books/1", false},
	})
	// A non-special absolute pattern keeps its own path rather than one
	// derived from the hub's.
	m = mustCompile(t, TypeURLPattern, `urn\:isbn\:*`, hubOpt)
	checkMatches(t, m, []matchCase{{"urn:isbn:0451450523", true}, {"urn:issn:1", false}})
}

func TestMAT6_InvalidBaseIsAConfigurationError(t *testing.T) {
	_, err := Compile(TypeURLPattern, "/books/:id", Options{Base: "not a url"})
	if err == nil {
		t.Fatal("expected an error for a relative base")
	}
	if errors.Is(err, ErrInvalidPattern) {
		t.Errorf("a bad base is not the client's fault, yet error %v wraps ErrInvalidPattern", err)
	}
	// Exact and legacy matchers never use the base.
	for _, typ := range []string{TypeExact, TypeLegacy} {
		if _, err := Compile(typ, "/books/{id}", Options{Base: "not a url"}); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestMAT7_PathIsCaseSensitive(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "https://e.com/Books/:id", hubOpt)
	checkMatches(t, m, []matchCase{{"https://e.com/books/1", false}, {"https://e.com/Books/1", true}})
	m = mustCompile(t, TypeURLPattern, "https://e.com/books/1?q=A", hubOpt)
	checkMatches(t, m, []matchCase{{"https://e.com/books/1?q=a", false}, {"https://e.com/books/1?q=A", true}})
}

func TestMAT7_HostIsCaseInsensitiveThroughCanonicalization(t *testing.T) {
	m := mustCompile(t, TypeURLPattern, "https://e.com/books/:id", hubOpt)
	checkMatches(t, m, []matchCase{{"https://E.COM/books/1", true}, {"HTTPS://e.Com/books/1", true}})
	m = mustCompile(t, TypeURLPattern, "https://E.COM/books/:id", hubOpt)
	checkMatches(t, m, []matchCase{{"https://e.com/books/1", true}})
}

func TestMAT8_UnparsableTopicNeverMatches(t *testing.T) {
	for _, pattern := range []string{"http://:host/*", "*://*/*", "/*", "https://e.com/*"} {
		m := mustCompile(t, TypeURLPattern, pattern, hubOpt)
		for _, topic := range []string{"http://[", "https://e.com:99999/", "https://exa mple.com/", "http://%zz/", "https://[::1/x"} {
			if pattern == "*://*/*" && topic == "http://%zz/" {
				continue
			}
			if m.Match(topic) {
				t.Errorf("pattern %q matched unparsable topic %q", pattern, topic)
			}
		}
	}
	// Sanity: the same patterns do match parsable topics (":host" is one
	// hostname label, '.' being the hostname delimiter).
	m := mustCompile(t, TypeURLPattern, "http://:host/*", hubOpt)
	checkMatches(t, m, []matchCase{{"http://localhost/a", true}, {"http://[::1]/a", true}, {"http://[", false}})
}

func TestSUB8_InvalidURLPatternRejectedWithoutCompilerText(t *testing.T) {
	for _, pattern := range []string{"https://e.com/(", "https://e.com/:id(", "https://e.com/(?<x>a)", "https://e.com:99999/", "https://e.com/{a"} {
		_, err := Compile(TypeURLPattern, pattern, hubOpt)
		if !errors.Is(err, ErrInvalidPattern) {
			t.Errorf("Compile(urlpattern, %q) error = %v, want ErrInvalidPattern", pattern, err)
			continue
		}
		if want := ErrInvalidPattern.Error() + ": not a valid URL pattern"; err.Error() != want {
			t.Errorf("Compile(urlpattern, %q) message %q, want the generic %q", pattern, err.Error(), want)
		}
	}
}

func TestSUB8_InvalidCharactersRejectedForEveryType(t *testing.T) {
	for _, typ := range allTypes {
		for _, pattern := range []string{"a\x00", "\u200b", "a\u202eb", "\xff", "a\nb", "a\x7f", "a\u0085"} {
			_, err := Compile(typ, pattern, hubOpt)
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("Compile(%q, %q) error = %v, want ErrInvalidPattern", typ, pattern, err)
			}
		}
	}
}

func TestCompileRejectsOverlongPattern(t *testing.T) {
	long := "https://e.com/" + strings.Repeat("a", maxPatternLength)
	for _, typ := range allTypes {
		if _, err := Compile(typ, long, hubOpt); !errors.Is(err, ErrInvalidPattern) {
			t.Errorf("%s: error = %v, want ErrInvalidPattern", typ, err)
		}
	}
}

func TestLEG2_WildcardSelector(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "*", hubOpt)
	checkMatches(t, m, []matchCase{{"https://example.com/a", true}, {"anything", true}, {"", true}})
}

func TestLEG2_PlainSelectorIsExact(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "https://example.com/books/1", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://example.com/books/1", true},
		{"https://example.com/Books/1", false},
		{"https://EXAMPLE.com/books/1", false},
		{"/books/1", false},
	})
	if k, ok := m.ExactKey(); !ok || k != "https://example.com/books/1" {
		t.Errorf("ExactKey() = %q, %v", k, ok)
	}
}

func TestLEG2_TemplateMatchesItself(t *testing.T) {
	sel := "https://example.com/books/{id}"
	m := mustCompile(t, TypeLegacy, sel, hubOpt)
	// "{" and "}" are not allowed in a simple expansion, so only the
	// byte-identity rule can make this match.
	checkMatches(t, m, []matchCase{{sel, true}, {"https://example.com/books/{idx}", false}})
	if _, ok := m.ExactKey(); ok {
		t.Error("a template selector must not have an ExactKey")
	}
}

func TestLEG2_BrokenTemplateFallsBackToExact(t *testing.T) {
	for _, sel := range []string{"https://example.com/{foo", "{foo", "https://example.com/{}", "https://example.com/{a b}"} {
		m := mustCompile(t, TypeLegacy, sel, hubOpt)
		checkMatches(t, m, []matchCase{{sel, true}, {"https://example.com/", false}, {"https://example.com/x", false}})
		if k, ok := m.ExactKey(); !ok || k != sel {
			t.Errorf("%q: ExactKey() = %q, %v; a broken template is an exact selector", sel, k, ok)
		}
	}
}

func TestLEG2_TemplateWithTooManyVariablesFallsBackToExact(t *testing.T) {
	// uritemplate turns n variables into a repeat count n-1, which RE2
	// refuses above 1000; its Regexp() would panic.
	vars := make([]string, 1100)
	for i := range vars {
		vars[i] = fmt.Sprintf("v%d", i)
	}
	sel := "https://example.com/{" + strings.Join(vars, ",") + "}"
	m := mustCompile(t, TypeLegacy, sel, hubOpt)
	checkMatches(t, m, []matchCase{{sel, true}, {"https://example.com/1", false}})
}

func TestLEG3_SimpleExpansion(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "https://example.com/books/{id}", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://example.com/books/1", true},
		{"https://example.com/books/a,b", true},
		{"https://example.com/books/", true}, // every expression is optional
		{"https://example.com/books/a-b.c_d~e", true},
		{"https://example.com/books/%C3%A9", true},
		{"https://example.com/books/1/2", false},
		{"https://example.com/books/1?x=y", false},
		{"https://example.com/books/\u00e9", false},
		{"https://example.com/books/a b", false},
		{"https://example.com/books", false},
		{"https://example.com/Books/1", false},
		{"prefix https://example.com/books/1", false}, // anchored
		{"https://example.com/books/1 suffix", false},
	})
}

func TestLEG3_QueryExpansionWithEncodedTopic(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "https://example.com/users/foo/{?topic}", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1", true},
		{"https://example.com/users/foo/", true},
		{"https://example.com/users/bar/?topic=x", false},
		{"https://example.com/users/foo/?topic=https://example.com/books/1", false},
	})
}

func TestLEG3_LegacySubscriptionEventTopics(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "/.well-known/mercure/subscriptions{/topic}{/subscriber}", hubOpt)
	checkMatches(t, m, []matchCase{
		// LEG-18 shape: QueryEscape'd selector and subscriber id.
		{"/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6", true},
		{"/.well-known/mercure/subscriptions/a/b", true},
		{"/.well-known/mercure/subscriptions", true},
		// Modern three-segment topics are not legacy events (§2.4 point 7).
		{"/.well-known/mercure/subscriptions/exact/a/b", false},
		{"https://hub.test/.well-known/mercure/subscriptions/a/b", false},
	})
}

func TestLEG3_ReservedAndFragmentExpansions(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "https://example.com{+path}", hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://example.com/a/b?c=d", true},
		{"https://example.com", true},
		{"https://example.com/\u00e9", false},
	})
	m = mustCompile(t, TypeLegacy, "https://example.com/a{#frag}", hubOpt)
	checkMatches(t, m, []matchCase{{"https://example.com/a#x/y", true}, {"https://example.com/a", true}, {"https://example.com/ax", false}})
}

func TestLEG3_MultipleVariables(t *testing.T) {
	m := mustCompile(t, TypeLegacy, "https://example.com/{a,b}", hubOpt)
	checkMatches(t, m, []matchCase{{"https://example.com/1,2", true}, {"https://example.com/1,2,3", true}, {"https://example.com/1/2", false}})
	m = mustCompile(t, TypeLegacy, "https://example.com{/a,b}", hubOpt)
	checkMatches(t, m, []matchCase{{"https://example.com/1/2", true}, {"https://example.com/1/2/3", false}})
}

func TestMatchAny(t *testing.T) {
	m := mustCompile(t, TypeExact, "b", hubOpt)
	if !m.MatchAny([]string{"a", "b"}) || m.MatchAny([]string{"a", "c"}) || m.MatchAny(nil) {
		t.Error("MatchAny on exact matcher")
	}
	w := mustCompile(t, TypeExact, Wildcard, hubOpt)
	if !w.MatchAny([]string{"x"}) || w.MatchAny(nil) {
		t.Error("MatchAny on wildcard matcher")
	}
	u := mustCompile(t, TypeURLPattern, "https://e.com/:id", hubOpt)
	if !u.MatchAny([]string{"http://[", "https://e.com/1"}) {
		t.Error("an unparsable first topic must not stop MatchAny")
	}
}

func TestZeroAndNilMatcherMatchNothing(t *testing.T) {
	var zero Matcher
	var nilM *Matcher
	for _, m := range []*Matcher{&zero, nilM} {
		if m.Match("x") || m.Match("") || m.MatchAny([]string{"x"}) || m.IsWildcard() {
			t.Error("zero/nil matcher matched")
		}
		if _, ok := m.ExactKey(); ok {
			t.Error("zero/nil matcher has an ExactKey")
		}
		if m.Type() != "" || m.Pattern() != "" {
			t.Error("zero/nil matcher has a type or pattern")
		}
	}
}

func TestURLPatternCacheKeepsMatchersApart(t *testing.T) {
	// Two matchers with the same pattern but different hubs must not share
	// cached answers for the same relative topic.
	a := mustCompile(t, TypeURLPattern, "https://a.test/x", Options{Base: "https://a.test/.well-known/mercure"})
	b := mustCompile(t, TypeURLPattern, "https://a.test/x", Options{Base: "https://b.test/.well-known/mercure"})
	for range 2 { // the second round is served from the caches
		if !a.Match("/x") {
			t.Error("hub a: /x should match")
		}
		if b.Match("/x") {
			t.Error("hub b: /x should not match")
		}
	}
}

func TestMatchIsSafeForConcurrentUse(t *testing.T) {
	ms := []*Matcher{
		mustCompile(t, TypeURLPattern, "/books/:id", hubOpt),
		mustCompile(t, TypeURLPattern, "https://example.com/books/:id", hubOpt),
		mustCompile(t, TypeLegacy, "https://example.com/books/{id}", hubOpt),
		mustCompile(t, TypeExact, "https://example.com/books/1", hubOpt),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				topic := fmt.Sprintf("https://example.com/books/%d", (i*7+g)%50)
				rel := fmt.Sprintf("/books/%d", i%50)
				if !ms[1].Match(topic) || !ms[2].Match(topic) || !ms[0].Match(rel) {
					t.Errorf("concurrent match failed for %q / %q", topic, rel)
					return
				}
				_ = ms[3].Match(topic)
				_ = IsReserved(rel, "")
			}
		})
	}
	wg.Wait()
}

func TestMAT9_PathologicalURLPatternsRejected(t *testing.T) {
	for name, pattern := range map[string]string{
		"many wildcards":      "https://e.com/" + strings.Repeat("*a", 100),
		"many named groups":   "https://e.com" + strings.Repeat("/:p", 100),
		"counted repetitions": "https://e.com/" + strings.Repeat("([a-z]{1,1000})", 10),
	} {
		_, err := Compile(TypeURLPattern, pattern, hubOpt)
		if !errors.Is(err, ErrInvalidPattern) || !strings.HasSuffix(err.Error(), "URL pattern too complex") {
			t.Errorf("%s: error = %v, want a too-complex ErrInvalidPattern", name, err)
		}
	}
}

func TestMAT9_EvaluationOverCostLimitDoesNotMatch(t *testing.T) {
	// Accepted, but each byte of input is costly for the NFA (60 captures).
	m := mustCompile(t, TypeURLPattern, "https://e.com/"+strings.Repeat("*", 60), hubOpt)
	checkMatches(t, m, []matchCase{
		{"https://e.com/abc", true},
		{"https://e.com/" + strings.Repeat("a", 100_000), false},
	})
	if !m.cost.tooExpensive(100_000) || m.cost.tooExpensive(20) {
		t.Errorf("cost %+v: limit not where expected", m.cost)
	}
}

func TestMAT9_LegacyTemplateOverCostLimitOnlyMatchesItself(t *testing.T) {
	sel := "https://e.com/" + strings.Repeat("{a}", 60)
	m := mustCompile(t, TypeLegacy, sel, hubOpt)
	checkMatches(t, m, []matchCase{
		{sel, true}, // byte identity is always checked
		{"https://e.com/abc", true},
		{"https://e.com/" + strings.Repeat("a", 1_000_000), false},
	})
}

func TestMAT9_OrdinaryPatternsAllowLongTopics(t *testing.T) {
	long := strings.Repeat("x", 8000)
	checkMatches(t, mustCompile(t, TypeURLPattern, "https://example.com/books/:id", hubOpt),
		[]matchCase{{"https://example.com/books/" + long, true}})
	checkMatches(t, mustCompile(t, TypeLegacy, "https://example.com/books/{id}", hubOpt),
		[]matchCase{{"https://example.com/books/" + long + long + long, true}})
}

func TestLEG2_TemplateWithMoreThanMaxVariablesIsExact(t *testing.T) {
	sel := "https://example.com/{" + strings.Repeat("a,", maxTemplateVars) + "a}"
	m := mustCompile(t, TypeLegacy, sel, hubOpt)
	if k, ok := m.ExactKey(); !ok || k != sel {
		t.Errorf("ExactKey() = %q, %v; want the selector itself", k, ok)
	}
	ok := "https://example.com/{" + strings.Repeat("a,", maxTemplateVars-2) + "a}"
	if _, isExact := mustCompile(t, TypeLegacy, ok, hubOpt).ExactKey(); isExact {
		t.Errorf("a template with %d variables must stay a template", maxTemplateVars)
	}
}

func TestCompileSharesCompiledPatterns(t *testing.T) {
	a := mustCompile(t, TypeURLPattern, "https://example.com/shared/:id", hubOpt)
	b := mustCompile(t, TypeURLPattern, "https://example.com/shared/:id", hubOpt)
	if a.up != b.up {
		t.Error("identical URL patterns were compiled twice")
	}
	c := mustCompile(t, TypeURLPattern, "/shared/:id", Options{Base: "https://other.test/.well-known/mercure"})
	d := mustCompile(t, TypeURLPattern, "/shared/:id", hubOpt)
	if c.up == d.up || !c.Match("https://other.test/shared/1") || c.Match("https://hub.test/shared/1") || !d.Match("https://hub.test/shared/1") {
		t.Error("compiled patterns shared across bases")
	}
	for range 2 { // the second failure comes from the cache
		if _, err := Compile(TypeURLPattern, "https://e.com/(", hubOpt); !errors.Is(err, ErrInvalidPattern) {
			t.Errorf("error = %v", err)
		}
	}
}
