package topic

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func FuzzCompileAndMatch(f *testing.F) {
	seeds := []struct{ typ, pattern, topic string }{
		{TypeExact, "https://example.com/a", "https://example.com/a"},
		{TypeExact, "*", "anything"},
		{TypeURLPattern, "https://example.com/books/:id", "https://EXAMPLE.com/books/1"},
		{TypeURLPattern, "/.well-known/mercure/subscriptions/:t/:m/:s", "/.well-known/mercure/subscriptions/exact/a/b"},
		{TypeURLPattern, "http://:host/*", "http://["},
		{TypeURLPattern, "https://e.com/(", "https://e.com/"},
		{TypeURLPattern, "*", "x"},
		{TypeURLPattern, "(a+)+b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"},
		{TypeLegacy, "https://example.com/books/{id}", "https://example.com/books/"},
		{TypeLegacy, "https://example.com/users/foo/{?topic}", "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"},
		{TypeLegacy, "{foo", "{foo"},
		{TypeLegacy, "{+a}{#b}{.c}{/d*}{;e}{?f}{&g:3}", "x"},
		{"regex", "*", "x"},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.pattern, s.topic)
	}
	f.Fuzz(func(t *testing.T, typ, pattern, topic string) {
		// Patterns and topics go through third-party parsers: turn a hang
		// into a crash the fuzzer records, instead of a silent stall.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("HANG %q %q %q", typ, pattern, topic))
			}
		}()
		m, err := Compile(typ, pattern, hubOpt)
		if err != nil {
			// The base is valid, so every failure is the client's.
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("Compile(%q, %q): error %v does not wrap ErrInvalidPattern", typ, pattern, err)
			}
			// SUB-8: only our own generic reasons, never compiler text.
			reason := strings.TrimPrefix(err.Error(), ErrInvalidPattern.Error()+": ")
			switch {
			case reason == "unsupported matcher type", reason == "not a valid URL pattern",
				strings.HasPrefix(reason, "pattern longer than"):
			default:
				if verr := ValidString(pattern); verr == nil || verr.Error() != reason {
					t.Fatalf("Compile(%q, %q): unexpected error text %q", typ, pattern, err)
				}
			}
			if typ == TypeExact && pattern != Wildcard && ValidString(pattern) == nil && len(pattern) <= maxPatternLength {
				t.Fatalf("exact matcher %q rejected: %v", pattern, err)
			}
			return
		}
		// The hub charges Estimate before compiling and releases Cost after:
		// the two must agree, and for templates the pre-compile figure must
		// bound the program actually built (issue 10 finding 1).
		if est := Estimate(typ, pattern, hubOpt); m.Cost() != est {
			t.Fatalf("Cost() = %d, Estimate = %d for %s %q", m.Cost(), est, typ, pattern)
		}
		if m.kind == kindTemplate && m.cost.insts+matcherOverhead > m.Cost() {
			t.Fatalf("template %q: Estimate %d below its program's %d instructions", pattern, m.Cost(), m.cost.insts)
		}
		if (typ == TypeExact || m.IsWildcard()) && m.Cost() != 0 {
			t.Fatalf("%s %q compares by equality but costs %d", typ, pattern, m.Cost())
		}
		got := m.Match(topic)
		_ = m.MatchAny([]string{topic, pattern})
		if m.Type() != typ || m.Pattern() != pattern {
			t.Fatalf("Type/Pattern = %q/%q, want %q/%q", m.Type(), m.Pattern(), typ, pattern)
		}
		if pattern == Wildcard {
			if !got || !m.IsWildcard() {
				t.Fatalf("wildcard %s matcher did not match %q", typ, topic)
			}
			return
		}
		if m.IsWildcard() {
			t.Fatalf("%q is not the wildcard", pattern)
		}
		if key, ok := m.ExactKey(); ok {
			if key != pattern {
				t.Fatalf("ExactKey() = %q, want %q", key, pattern)
			}
			if got != (topic == pattern) {
				t.Fatalf("ExactKey matcher %q: Match(%q) = %v", pattern, topic, got)
			}
		}
		switch typ {
		case TypeExact:
			if _, ok := m.ExactKey(); !ok {
				t.Fatal("exact matcher without ExactKey")
			}
			if !m.Match(pattern) {
				t.Fatalf("exact matcher %q does not match itself", pattern)
			}
		case TypeLegacy:
			if !m.Match(pattern) {
				t.Fatalf("legacy selector %q does not match itself", pattern)
			}
		}
		if m.Match(topic) != got {
			t.Fatalf("Match(%q) is not deterministic (cache inconsistency?)", topic)
		}
	})
}

func FuzzIsReserved(f *testing.F) {
	for _, s := range []string{
		"/.well-known/mercure", "/.well-known/mercure/subscriptions/x", "https://other.host/.well-known/mercure/x",
		"/.well-known/%6Dercure/x", "/a/../.well-known/mercure/x", `https:\\h\.well-known\mercure`,
		"https://e.com/.well-known/mercurefoo", "http://[", "", "?x", "urn:a:b", "file:///.well-known/mercure",
		"https://example.com/books/1?x=/.well-known/mercure", "http://h:8080", "https://u:p@h/a/b#/.well-known/mercure",
		"https://h/.well-known/mercure/", "https://h/.well-known/mercure/../x", "HTTPS://h/.well-known/mercure",
	} {
		f.Add(s, "/.well-known/mercure")
	}
	f.Add("/hub/x", "/hub/")
	f.Add("/x", "")
	f.Fuzz(func(t *testing.T, topic, hubPath string) {
		got := IsReserved(topic, hubPath)
		if IsReserved(topic, hubPath) != got {
			t.Fatal("IsReserved is not deterministic")
		}
		// A hub at the root reserves every hierarchical path, so it reserves
		// at least what the default hub path does.
		if IsReserved(topic, "/.well-known/mercure") && !IsReserved(topic, "/") {
			t.Fatalf("%q reserved under /.well-known/mercure but not under /", topic)
		}
		// The shortcut for plain URLs reads the path the parser would.
		if p, ok := plainPath(topic); ok {
			if u, err := urlParser.Parse(topic); err == nil {
				if want := decodeUnreserved(u.Pathname()); p != want {
					t.Fatalf("plainPath(%q) = %q, the parser's path is %q", topic, p, want)
				}
			}
		}
	})
}

func FuzzValidString(f *testing.F) {
	for _, s := range []string{"", "https://example.com/a", "a\u202eb", "a\x00b", "\xff", "https://example.com/\u0645\u0631\u062d\u0628\u0627", "\u200b", "\u0085", "\x7f", "\xed\xa0\x80", "\U000E0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidString(s)
		// Oracle written differently: Cc is exactly C0 + DEL + C1.
		want := utf8.ValidString(s)
		for _, r := range s {
			if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("ValidString(%q) = %v, want valid=%v", s, err, want)
		}
	})
}

// FuzzEstimate checks the cost estimators used for MAT-9: they never panic,
// and the regexp estimate is an upper bound of the real program size.
func FuzzEstimate(f *testing.F) {
	for _, s := range []string{
		"a", "[a-z]+", "(a|b)*c", "a{2,5}", "(?:ab){3,}", "(?P<x>a)(b)?", `\d+\.\d*`, "^$", "(a{1,1000}){1,1000}",
		"https://e.com/:id/(\\d+)/*", `urn\:x\:*`, "{/books}?/:id+", "(", "((?:a))", "[", "x**",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_ = estimateURLPattern(expr, "https://hub.test/.well-known/mercure")
		insts, caps := estimateRegexp(expr)
		if insts < 1 || caps < 0 {
			t.Fatalf("estimateRegexp(%q) = %d, %d", expr, insts, caps)
		}
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil || insts > maxPatternInsts {
			return
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return
		}
		if len(prog.Inst) > insts {
			t.Fatalf("estimateRegexp(%q) = %d instructions, the program has %d", expr, insts, len(prog.Inst))
		}
		if caps != re.MaxCap() {
			t.Fatalf("estimateRegexp(%q) captures = %d, want %d", expr, caps, re.MaxCap())
		}
	})
}
