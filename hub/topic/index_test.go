package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// indexed returns the patterns (as "typ pattern") the index reports for
// topics, sorted, each once.
func indexed(ix *Index[string], topics ...string) []string {
	seen := map[string]bool{}
	ix.Match(topics, func(v string) { seen[v] = true })
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// bruteForce is what evaluating every matcher says.
func bruteForce(ms map[string]*Matcher, topics ...string) []string {
	var out []string
	for v, m := range ms {
		if m.MatchAny(topics) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

type indexCase struct{ typ, pattern, topic string }

// TestIndexNeverPrunesAMatch (issue 9): for patterns whose literal start is
// partly or wholly variable, and topics written differently from the
// pattern (case, percent-encoding, ports, relative), the indexed lookup
// finds every pattern that matches. Each case is also checked against
// Match directly, so that a case that stopped matching at all is noticed.
func TestIndexNeverPrunesAMatch(t *testing.T) {
	cases := []indexCase{
		// Wildcard and variable hosts.
		{TypeURLPattern, "https://*.example.com/books/:id", "https://www.example.com/books/1"},
		{TypeURLPattern, "https://:sub.example.com/books/*", "https://api.example.com/books/1/x"},
		{TypeURLPattern, "https://{*.}?example.com/*", "https://example.com/x"},
		{TypeURLPattern, "*://example.com/books/*", "http://example.com/books/1"},
		{TypeURLPattern, "*://*/books/*", "urn://a/books/1"},
		// Variable scheme.
		{TypeURLPattern, ":scheme://example.com/books/:id", "https://example.com/books/7"},
		{TypeURLPattern, "http{s}?://example.com/books/:id", "https://example.com/books/7"},
		// Case of scheme and host, default and explicit ports.
		{TypeURLPattern, "https://example.com/books/:id", "HTTPS://EXAMPLE.COM/books/1"},
		{TypeURLPattern, "https://EXAMPLE.com/books/:id", "https://example.COM/books/1"},
		{TypeURLPattern, "https://example.com/books/:id", "https://example.com:443/books/1"},
		{TypeURLPattern, "https://example.com:8443/books/:id", "https://example.com:8443/books/1"},
		{TypeURLPattern, "https://example.com:*/books/:id", "https://example.com:8443/books/1"},
		// Percent-encoding and non-ASCII in host and path.
		{TypeURLPattern, "https://example.com/caf%C3%A9/:id", "https://example.com/café/1"},
		{TypeURLPattern, "https://example.com/café/:id", "https://example.com/caf%C3%A9/1"},
		{TypeURLPattern, "https://bücher.example/:id", "https://xn--bcher-kva.example/1"},
		{TypeURLPattern, "https://xn--bcher-kva.example/:id", "https://BÜCHER.example/1"},
		{TypeURLPattern, "https://example.com/a%2Fb/*", "https://example.com/a%2Fb/c"},
		// Optional segments and groups right after a literal segment.
		{TypeURLPattern, "https://example.com/books/:id?", "https://example.com/books"},
		{TypeURLPattern, "https://example.com/books{/:id}?", "https://example.com/books"},
		{TypeURLPattern, "https://example.com/books/*", "https://example.com/books/"},
		{TypeURLPattern, "https://example.com/(books|authors)/*", "https://example.com/authors/1"},
		{TypeURLPattern, "https://example.com/books\\:x/*", "https://example.com/books:x/1"},
		// Relative patterns and topics resolved against the hub URL.
		{TypeURLPattern, "/books/:id", "https://hub.test/books/1"},
		{TypeURLPattern, "/books/:id", "/books/1"},
		{TypeURLPattern, "https://hub.test/books/:id", "/books/1"},
		{TypeURLPattern, "/.well-known/mercure/subscriptions/:t/:m/:s", "/.well-known/mercure/subscriptions/exact/a/b"},
		// Dot segments in the topic are resolved by the parser.
		{TypeURLPattern, "https://example.com/books/:id", "https://example.com/x/../books/1"},
		// Non-special schemes and opaque paths.
		{TypeURLPattern, "urn\\:isbn\\:*", "urn:isbn:123"},
		{TypeURLPattern, "mailto\\:*", "mailto:a@example.com"},
		// Legacy URI templates: leading variables, reserved and path
		// expansions crossing '/'.
		{TypeLegacy, "{scheme}://example.com/books/{id}", "https://example.com/books/1"},
		{TypeLegacy, "{+base}/books/{id}", "https://example.com/books/1"},
		{TypeLegacy, "https://example.com/{+path}", "https://example.com/a/b/c"},
		{TypeLegacy, "https://example.com/books{/segments*}", "https://example.com/books/a/b"},
		{TypeLegacy, "https://example.com/books{/id}", "https://example.com/books"},
		{TypeLegacy, "https://example.com/books/{id}", "https://example.com/books/"},
		{TypeLegacy, "https://example.com/books/{id}", "https://example.com/books/{id}"},
		{TypeLegacy, "https://example.com/users/foo/{?topic}", "https://example.com/users/foo/?topic=x"},
		{TypeLegacy, "https://example.com/{a}/{b}", "https://example.com/1/2"},
		{TypeLegacy, "/books/{id}", "/books/1"},
		// Exact, wildcard and legacy selectors that are not templates.
		{TypeExact, "https://example.com/books/1", "https://example.com/books/1"},
		{TypeLegacy, "https://example.com/books/1", "https://example.com/books/1"},
		{TypeLegacy, "https://example.com/books/{1", "https://example.com/books/{1"},
		{TypeURLPattern, "*", "anything"},
		{TypeLegacy, "*", "anything"},
	}
	for _, c := range cases {
		m := mustCompile(t, c.typ, c.pattern, hubOpt)
		if !m.Match(c.topic) {
			t.Errorf("%s %q does not match %q at all: the case tests nothing", c.typ, c.pattern, c.topic)
			continue
		}
		ix := NewIndex[string]()
		// Decoys filed under other literal paths, to see pruning happen.
		for i, d := range []string{"https://example.com/other/:id", "https://else.example/books/:id", "http://example.com/books/:id"} {
			ix.Add(mustCompile(t, TypeURLPattern, d, hubOpt), fmt.Sprint("decoy", i))
		}
		ix.Add(mustCompile(t, TypeLegacy, "https://example.com/other/{id}", hubOpt), "decoy-tpl")
		ix.Add(m, "want")
		if got := indexed(ix, c.topic); !slices.Contains(got, "want") {
			t.Errorf("%s %q matches %q but the index pruned it (got %v)", c.typ, c.pattern, c.topic, got)
		}
		set := NewSet([]*Matcher{
			mustCompile(t, TypeURLPattern, "https://example.com/other/:id", hubOpt),
			mustCompile(t, TypeURLPattern, "https://else.example/books/:id", hubOpt),
			mustCompile(t, TypeLegacy, "https://example.com/other/{id}", hubOpt),
			m,
		})
		if !set.Match(c.topic) {
			t.Errorf("%s %q matches %q but the grant set says no", c.typ, c.pattern, c.topic)
		}
	}
}

// TestIndexPrunes: the index is worth having only if it evaluates few
// matchers: 100 users' patterns, one update, a handful of evaluations.
func TestIndexPrunes(t *testing.T) {
	ix := NewIndex[int]()
	for u := range 100 {
		for r := range 10 {
			ix.Add(mustCompile(t, TypeURLPattern, fmt.Sprintf("https://example.com/u/%d/r/%d/*", u, r), hubOpt), u)
			ix.Add(mustCompile(t, TypeLegacy, fmt.Sprintf("https://example.com/u/%d/t/%d/{id}", u, r), hubOpt), u)
		}
	}
	var got []int
	ix.Match([]string{"https://example.com/u/42/r/7/123"}, func(v int) { got = append(got, v) })
	if !slices.Equal(got, []int{42}) {
		t.Fatalf("delivered to %v, want [42]", got)
	}
	if n := ix.Evaluations(); n > 2 {
		t.Fatalf("%d evaluations among 2000 patterns, want at most 2", n)
	}
	ix.Match([]string{"https://example.com/u/42/t/7/123"}, func(v int) { got = append(got, v) })
	if !slices.Equal(got, []int{42, 42}) {
		t.Fatalf("template: delivered to %v", got)
	}
}

// TestIndexRemove: values leave, empty matchers and trie nodes go.
func TestIndexRemove(t *testing.T) {
	ix := NewIndex[int]()
	ms := []*Matcher{
		mustCompile(t, TypeURLPattern, "https://example.com/a/b/*", hubOpt),
		mustCompile(t, TypeLegacy, "https://example.com/a/{b}", hubOpt),
		mustCompile(t, TypeExact, "https://example.com/a", hubOpt),
		mustCompile(t, TypeURLPattern, "*", hubOpt),
	}
	for v := range 20 {
		for _, m := range ms {
			ix.Add(m, v)
			ix.Add(m, v) // idempotent
		}
	}
	count := func(topic string) int {
		n := 0
		ix.Match([]string{topic}, func(int) { n++ })
		return n
	}
	if n := count("https://example.com/a/b/c"); n != 40 {
		t.Fatalf("%d deliveries, want 40 (pattern and wildcard)", n)
	}
	for v := range 20 {
		for _, m := range ms {
			ix.Remove(m, v)
			ix.Remove(m, v)
		}
	}
	if ix.Len() != 0 || len(ix.exact) != 0 || len(ix.urls) != 0 || len(ix.raw.children) != 0 || len(ix.always.slots) != 0 {
		t.Fatalf("index not empty after removing everything: %d slots, %d exact, %d url tries, %d raw children", ix.Len(), len(ix.exact), len(ix.urls), len(ix.raw.children))
	}
}

// TestCompileInterns (issue 9): one distinct pattern is one matcher.
func TestCompileInterns(t *testing.T) {
	for _, c := range []struct{ typ, pattern string }{
		{TypeURLPattern, "https://example.com/interned/:id"},
		{TypeLegacy, "https://example.com/interned/{id}"},
		{TypeURLPattern, "*"},
	} {
		a, b := mustCompile(t, c.typ, c.pattern, hubOpt), mustCompile(t, c.typ, c.pattern, hubOpt)
		if a != b {
			t.Errorf("%s %q compiled twice into two matchers", c.typ, c.pattern)
		}
	}
	other := Options{Base: "https://other.test/.well-known/mercure"}
	if mustCompile(t, TypeURLPattern, "/interned/:id", hubOpt) == mustCompile(t, TypeURLPattern, "/interned/:id", other) {
		t.Error("a relative pattern of two hub URLs was interned as one")
	}
}

// randomPattern and randomTopic draw from a small alphabet of segments so
// that random pairs often match.
var (
	indexSchemes = []string{"https", "http", "HTTPS", "urn"}
	indexHosts   = []string{"example.com", "EXAMPLE.com", "ex.org", "hub.test", "example.com:8443", "[::1]"}
	indexSegs    = []string{"a", "b", "A", "caf%C3%A9", "café", "%61", "..", ".", "x y", ""}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randomPath(r *rand.Rand, vars []string) string {
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteByte('/')
		if r.IntN(4) == 0 {
			b.WriteString(pick(r, vars))
		} else {
			b.WriteString(pick(r, indexSegs))
		}
	}
	if r.IntN(3) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

func randomPattern(r *rand.Rand) (typ, pattern string) {
	if r.IntN(2) == 0 {
		typ = TypeURLPattern
		scheme := pick(r, append([]string{"*", ":s", "http{s}?"}, indexSchemes...))
		host := pick(r, append([]string{"*", "*.example.com", ":h.com", "{www.}?example.com"}, indexHosts...))
		path := randomPath(r, []string{":id", "*", "(a|b)", "{:x}?", ":id?", "a*"})
		switch r.IntN(5) {
		case 0:
			return typ, path // relative
		case 1:
			return typ, pick(r, []string{"*", "urn\\:a\\:*", "urn\\:*"})
		}
		return typ, scheme + "://" + host + path
	}
	typ = TypeLegacy
	scheme := pick(r, append([]string{"{s}"}, indexSchemes...))
	host := pick(r, append([]string{"{h}", "{+h}"}, indexHosts...))
	path := randomPath(r, []string{"{id}", "{+p}", "{/p*}", "{?q}", "{a,b}", "{#f}"})
	switch r.IntN(5) {
	case 0:
		return typ, path
	case 1:
		return typ, pick(r, []string{"*", "{+all}", "urn:a:{x}"})
	}
	return typ, scheme + "://" + host + path
}

func randomTopic(r *rand.Rand) string {
	path := randomPath(r, indexSegs)
	switch r.IntN(6) {
	case 0:
		return path
	case 1:
		return "urn:a:" + pick(r, indexSegs)
	}
	return pick(r, indexSchemes) + "://" + pick(r, indexHosts) + path
}

// TestIndexAgreesWithBruteForce: random patterns and topics, the indexed
// lookup returns exactly what evaluating every matcher returns.
func TestIndexAgreesWithBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for round := range 40 {
		ix := NewIndex[string]()
		ms := map[string]*Matcher{}
		for range 60 {
			typ, p := randomPattern(r)
			m, err := Compile(typ, p, hubOpt)
			if err != nil {
				continue
			}
			v := typ + " " + p
			ms[v] = m
			ix.Add(m, v)
		}
		for range 60 {
			topic := randomTopic(r)
			want, got := bruteForce(ms, topic), indexed(ix, topic)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, topic %q: index %v, brute force %v", round, topic, got, want)
			}
		}
	}
}

// FuzzIndexAgreesWithMatch: for any pattern and topic, the index reports
// the pattern exactly when it matches.
func FuzzIndexAgreesWithMatch(f *testing.F) {
	for _, s := range []indexCase{
		{TypeURLPattern, "https://*.example.com/books/:id", "https://www.example.com/books/1"},
		{TypeURLPattern, ":scheme://example.com/books/:id", "https://example.com/books/7"},
		{TypeURLPattern, "https://example.com/caf%C3%A9/:id", "https://example.com/café/1"},
		{TypeURLPattern, "/books/:id", "https://hub.test/books/1"},
		{TypeLegacy, "https://example.com/{+path}", "https://example.com/a/b/c"},
		{TypeLegacy, "{scheme}://example.com/books/{id}", "https://example.com/books/1"},
		{TypeExact, "https://example.com/a", "https://example.com/a"},
	} {
		f.Add(s.typ == TypeLegacy, s.pattern, s.topic)
	}
	f.Fuzz(func(t *testing.T, legacy bool, pattern, topic string) {
		typ := TypeURLPattern
		if legacy {
			typ = TypeLegacy
		}
		if len(pattern) > 256 || len(topic) > 256 {
			return
		}
		m, err := Compile(typ, pattern, hubOpt)
		if err != nil {
			return
		}
		ix := NewIndex[int]()
		ix.Add(m, 1)
		got := false
		ix.Match([]string{topic}, func(int) { got = true })
		if want := m.Match(topic); got != want {
			t.Fatalf("%s %q, topic %q: index %v, Match %v (path %q)", typ, pattern, topic, got, want, m.path.segs)
		}
		if set := NewSet([]*Matcher{m, m, m, m}); set.Match(topic) != m.Match(topic) {
			t.Fatalf("%s %q, topic %q: Set disagrees with Match", typ, pattern, topic)
		}
	})
}
