package topic

import (
	"fmt"
	"strings"
	"testing"
)

// simpleTopics are topics that probe each component the fast path reads:
// scheme, userinfo, host case and spelling, default and other ports, the
// path's prefix edges, dot segments and encodings, query and fragment, and
// unparsable or relative references.
var simpleTopics = []string{
	"https://h.test/a/b",
	"https://h.test/a/b/",
	"https://h.test/a/bc",
	"https://h.test/a/b/c?x=1#f",
	"https://h.test/a/b?x",
	"https://h.test/a/b#f",
	"https://h.test/a",
	"https://h.test/a/",
	"https://h.test/",
	"https://h.test",
	"https://H.TEST/a/b",
	"HTTPS://h.test/a/b",
	"https://h.test:443/a/b",
	"https://h.test:8443/a/b",
	"http://h.test/a/b",
	"http://h.test:80/a/b",
	"https://user@h.test/a/b",
	"https://u:p@h.test/a/b",
	"https://a@b@h.test/a/b",
	"https://h.test@evil.test/a/b",
	"https://evil.test/h.test/a/b",
	"https://h.test.evil.test/a/b",
	"https://h.test/a/./b",
	"https://h.test/a/x/../b",
	"https://h.test/a/%62",
	"https://h.test/a/b%3Fx",
	"https://h.test/a/b%23x",
	"https://h.test/a/b c",
	"https://h.test\\a\\b",
	"https://h.test/A/B",
	"https://127.0.0.1/a/b",
	"https://0x7f.1/a/b",
	"https://[::1]/a/b",
	"/a/b",
	"a/b",
	"//h.test/a/b",
	"urn:x:y",
	"https://",
	"https:/h.test/a/b",
	"",
}

// simplePatterns are patterns of the fast path's shape.
var simplePatterns = []string{
	"https://h.test/a/b",
	"https://h.test/a/b/*",
	"https://h.test/a/b*",
	"https://h.test/a/*",
	"https://h.test/*",
	"https://h.test/",
	"http://h.test/a/b",
	"https://h.test:8443/a/*",
	"http://h.test:443/a/b",
	"https://127.0.0.1/a/*",
	"https://h.test/A/B",
	"https://h-1.example.test/users/42/*",
	"https://h.test/a.json",
	"https://h.test/a/~x_y-z.*",
}

func TestSimpleURLShape(t *testing.T) {
	for _, p := range simplePatterns {
		if _, ok := parseSimpleURL(p); !ok {
			t.Errorf("parseSimpleURL(%q) = false, want the fast path", p)
		}
	}
	for _, p := range []string{
		"https://H.test/a/*",      // the parser lower-cases the host
		"HTTPS://h.test/a/*",      // and the scheme
		"https://h.test:443/a/*",  // and drops a default port
		"https://h.test:08443/a/", // and a leading zero
		"https://h.test:/a/",
		"https://0x7f.1/a/*", // an IPv4 address in another notation
		"https://1.2.3/a/*",
		"https://xn--nxasmq6b.test/a/*", // IDNA
		"https://h.test/a/./b/*",        // dot segments
		"https://h.test/a/../*",
		"https://h.test/a/.*",
		"https://h.test/a/..*",
		"https://h.test/a/:id",   // pattern syntax
		"https://h.test/a/*/b",   // a wildcard inside the path
		"https://h.test/a/(.*)",  // a group
		"https://h.test/a/{b}?",  // a group with a modifier
		"https://h.test/a/b%20c", // an escape
		"https://h.test/a/b?x",   // a search
		"https://h.test/a#f",     // a hash
		"https://u@h.test/a",     // userinfo
		"https://*.h.test/a",
		"https://h.test",
		"https://h.test*",
		"https:///a",
		"/a/*", // relative: resolved against the hub URL by the library
		"urn\\:x\\:*",
		"ftp://h.test/a",
		"https://h.test/a b",
		"https://h.test/a\\b",
	} {
		if _, ok := parseSimpleURL(p); ok {
			t.Errorf("parseSimpleURL(%q) = true, want the library", p)
		}
	}
}

// libraryMatcher compiles pattern with the URL Pattern library, as Compile
// does for every pattern outside the fast path's shape.
func libraryMatcher(t testing.TB, pattern string) *Matcher {
	t.Helper()
	base, err := parseBase(hubOpt.Base)
	if err != nil {
		t.Fatal(err)
	}
	up, err := compileURLPattern(pattern, base.href)
	if err != nil {
		t.Fatalf("the library rejects %q, which the fast path accepts: %v", pattern, err)
	}
	return &Matcher{typ: TypeURLPattern, pattern: pattern, kind: kindURLPattern, up: up,
		base: base.url, baseHref: base.href, cost: estimateURLPattern(pattern, base.href)}
}

// checkSimpleAgrees fails when the fast path and the library disagree on
// pattern's components or on whether topic matches.
func checkSimpleAgrees(t *testing.T, pattern, topic string) {
	t.Helper()
	s, ok := parseSimpleURL(pattern)
	if !ok {
		return
	}
	lib := libraryMatcher(t, pattern)
	fast := &Matcher{typ: TypeURLPattern, pattern: pattern, kind: kindURLPattern, simple: &s, base: lib.base, baseHref: lib.baseHref}
	lp, lh, lpath := lib.urlComponents()
	fp, fh, fpath := fast.urlComponents()
	if lp != fp || lh != fh || lpath != fpath {
		t.Fatalf("%q: components %q %q %q, the library's %q %q %q", pattern, fp, fh, fpath, lp, lh, lpath)
	}
	for _, c := range []struct{ name, got string }{
		{"username", lib.up.Username()}, {"password", lib.up.Password()},
		{"search", lib.up.Search()}, {"hash", lib.up.Hash()},
	} {
		if c.got != "*" {
			t.Fatalf("%q: the library's %s is %q, the fast path takes any", pattern, c.name, c.got)
		}
	}
	want := lib.evalURL(lib.resolve(topic))
	if got := fast.evalURL(fast.resolve(topic)); got != want {
		t.Fatalf("pattern %q, topic %q: fast path %v, library %v", pattern, topic, got, want)
	}
}

// TestSimpleURLAgreesWithLibraryMAT6: on every pattern of the shape and
// every probing topic, the fast path answers as the URL Pattern standard's
// implementation does (MAT-6), host case folded by canonicalization
// (MAT-7), unparsable topics never matching (MAT-8).
func TestSimpleURLAgreesWithLibraryMAT6(t *testing.T) {
	matched := 0
	for _, p := range simplePatterns {
		for _, topic := range simpleTopics {
			checkSimpleAgrees(t, p, topic)
			if m, err := Compile(TypeURLPattern, p, hubOpt); err != nil {
				t.Fatal(err)
			} else if m.simple == nil {
				t.Fatalf("Compile(%q) did not take the fast path", p)
			} else if m.Match(topic) {
				matched++
			}
		}
	}
	// The table must exercise both answers, or agreement means little.
	if total := len(simplePatterns) * len(simpleTopics); matched == 0 || matched == total {
		t.Fatalf("%d of %d pairs match: the table does not test both answers", matched, total)
	}
}

// FuzzSimpleURL builds patterns and topics from parts, so that most
// patterns are near the fast path's shape and most topics near its
// patterns; the raw parts are tried as whole patterns and topics too.
func FuzzSimpleURL(f *testing.F) {
	f.Add("h.test", "/a/", true, "u@h.test:443", "/a/%2e%2E/b?#")
	f.Add("h.test:8443", "/a/b", false, "H.test:8443", "/a/b#x")
	f.Add("127.0.0.1", "/", true, "0x7f.1", "/a")
	f.Add("h.test", "/a/b", false, "h.test", "\\a/b")
	f.Fuzz(func(t *testing.T, hostPort, path string, wildcard bool, topicAuth, topicRest string) {
		if len(hostPort)+len(path)+len(topicAuth)+len(topicRest) > 256 {
			return
		}
		pattern := "https://" + hostPort + path
		if wildcard {
			pattern += "*"
		}
		for _, topic := range []string{"https://" + topicAuth + topicRest, "http://" + topicAuth + topicRest, topicRest} {
			checkSimpleAgrees(t, pattern, topic)
			checkSimpleAgrees(t, topicRest, topic)
		}
	})
}

// BenchmarkCompileNewURLPattern is the cost of compiling a URL pattern no
// client used before, as each token listing its own resources brings: the
// fast path's shape, and one the library compiles.
func BenchmarkCompileNewURLPattern(b *testing.B) {
	for _, shape := range []string{"https://bench.test/u/%d/r/7/*", "https://bench.test/u/%d/r/:id"} {
		b.Run(strings.SplitN(shape, "%d", 2)[1], func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := Compile(TypeURLPattern, fmt.Sprintf(shape, i), hubOpt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
