package topic

import (
	"fmt"
	"testing"
)

var simpleTemplates = []string{
	"https://h.test/books/{id}",
	"https://h.test/books/{+rest}",
	"https://h.test/{id}",
	"https://h.test/b-1_x.y~z/{ID_2}",
	"urn:x:{id}",
	"{id}",
	"{+all}",
}

var templateTopics = []string{
	"https://h.test/books/1",
	"https://h.test/books/",
	"https://h.test/books",
	"https://h.test/books/a,b",
	"https://h.test/books/a-b.c_d~e",
	"https://h.test/books/a/b",
	"https://h.test/books/a?x=1#f",
	"https://h.test/books/a%20b",
	"https://h.test/books/a%2",
	"https://h.test/books/a%zz",
	"https://h.test/books/%",
	"https://h.test/books/a b",
	"https://h.test/books/é",
	"https://h.test/books/\xff",
	"https://h.test/books/!$&'()*+;=:@[]",
	"https://h.test/books/%25{id}",
	"https://h.test/books/{id}",
	"https://H.test/books/1",
	"https://h.test/b-1_x.y~z/1",
	"urn:x:1",
	"",
	"1",
	"a/b",
}

// checkTemplateAgrees fails when the fast path and the regular expression
// disagree on whether topic matches tpl (MAT-9's cut-off aside, see
// simpleTemplate).
func checkTemplateAgrees(t *testing.T, tpl, topic string) {
	t.Helper()
	s, ok := parseSimpleTemplate(tpl)
	if !ok {
		return
	}
	re, c, ok := compileTemplate(tpl)
	if !ok {
		t.Fatalf("the template package rejects %q, which the fast path accepts", tpl)
	}
	if c.tooExpensive(len(topic)) {
		return
	}
	if got, want := s.match(topic), re.MatchString(topic); got != want {
		t.Fatalf("template %q, topic %q: fast path %v, regular expression %v (%s)", tpl, topic, got, want, re)
	}
}

func TestSimpleTemplateShape(t *testing.T) {
	for _, p := range simpleTemplates {
		if _, ok := parseSimpleTemplate(p); !ok {
			t.Errorf("parseSimpleTemplate(%q) = false, want the fast path", p)
		}
	}
	for _, p := range []string{
		"https://h.test/books/1", // no expression: LEG-2, plain equality
		"https://h.test/{a}/{b}", // two expressions
		"https://h.test/{id}/x",  // text after the expression
		"https://h.test/{/id}",   // an operator
		"https://h.test/{?q}",
		"https://h.test/{#f}",
		"https://h.test/{id:3}", // a prefix modifier
		"https://h.test/{id*}",  // an explode modifier
		"https://h.test/{a,b}",  // a list
		"https://h.test/{}",
		"https://h.test/{+}",
		"https://h.test/a b/{id}", // literal text the package encodes
		"https://h.test/a%20b/{id}",
		"https://h.test/a?x=/{id}",
		"https://h.test/{id",
	} {
		if _, ok := parseSimpleTemplate(p); ok {
			t.Errorf("parseSimpleTemplate(%q) = true, want the template package", p)
		}
	}
}

// TestSimpleTemplateAgreesWithRegexpLEG3: on every template of the shape and
// every probing topic, the fast path answers as the template's regular
// expression does, and Compile takes it.
func TestSimpleTemplateAgreesWithRegexpLEG3(t *testing.T) {
	matched := 0
	for _, p := range simpleTemplates {
		m, err := Compile(TypeLegacy, p, hubOpt)
		if err != nil {
			t.Fatal(err)
		}
		if m.tpl == nil {
			t.Fatalf("Compile(%q) did not take the fast path", p)
		}
		for _, topic := range templateTopics {
			checkTemplateAgrees(t, p, topic)
			if m.Match(topic) {
				matched++
			}
		}
	}
	if total := len(simpleTemplates) * len(templateTopics); matched == 0 || matched == total {
		t.Fatalf("%d of %d pairs match: the table does not test both answers", matched, total)
	}
}

func FuzzSimpleTemplate(f *testing.F) {
	f.Add("https://h.test/books/", "id", false, "a%2Fb")
	f.Add("https://h.test/books/", "rest", true, "a/b?c#d")
	f.Add("urn:x:", "id", false, "%zz")
	f.Fuzz(func(t *testing.T, literal, name string, reserved bool, rest string) {
		if len(literal)+len(name)+len(rest) > 256 {
			return
		}
		op := ""
		if reserved {
			op = "+"
		}
		tpl := literal + "{" + op + name + "}"
		for _, topic := range []string{literal + rest, rest} {
			checkTemplateAgrees(t, tpl, topic)
			checkTemplateAgrees(t, literal, topic)
		}
	})
}

func BenchmarkCompileNewTemplate(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := Compile(TypeLegacy, fmt.Sprintf("https://bench.test/u/%d/r/7/{id}", i), hubOpt); err != nil {
			b.Fatal(err)
		}
	}
}
