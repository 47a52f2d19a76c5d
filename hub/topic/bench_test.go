package topic

import (
	"strconv"
	"testing"
)

// BenchmarkMatch measures Match per matcher type. Run with -benchmem:
// exact and template matching allocate nothing; URL patterns cost one WHATWG
// parse (plus one per new topic, see matchURL) unless the answer is cached.
func BenchmarkMatch(b *testing.B) {
	exact := mustCompile(b, TypeExact, "https://example.com/books/1", hubOpt)
	tpl := mustCompile(b, TypeLegacy, "https://example.com/books/{id}", hubOpt)
	up := mustCompile(b, TypeURLPattern, "https://example.com/books/:id", hubOpt)
	rel := mustCompile(b, TypeURLPattern, "/.well-known/mercure/subscriptions/:t/:m/:s", hubOpt)

	topic := "https://example.com/books/1"
	miss := "https://example.com/authors/1"
	event := "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fbooks%2F1/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"

	run := func(name string, m *Matcher, topic string, want bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.Match(topic) != want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
	run("exact/hit", exact, topic, true)
	run("exact/miss", exact, miss, false)
	run("template/hit", tpl, topic, true)
	run("template/miss", tpl, miss, false)
	run("urlpattern/repeated", up, topic, true)
	run("urlpattern/relative-repeated", rel, event, true)

	// New topics every time: the cost of a cache miss (the hub sees this for
	// every topic the first time).
	b.Run("urlpattern/new-topic", func(b *testing.B) {
		b.ReportAllocs()
		topics := make([]string, 4096)
		for i := range topics {
			topics[i] = "https://example.com/books/" + strconv.Itoa(i)
		}
		i := 0
		for b.Loop() {
			up.evalURL(up.resolve(topics[i%len(topics)]))
			i++
		}
	})
}

func BenchmarkIsReserved(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if IsReserved("https://example.com/books/1", "/.well-known/mercure") {
			b.Fatal("wrong answer")
		}
	}
}

func BenchmarkValidString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if ValidString("https://example.com/books/\u00e9/1") != nil {
			b.Fatal("wrong answer")
		}
	}
}
