package topic

import "testing"

func TestHasDotSegment(t *testing.T) {
	for topic, want := range map[string]bool{
		"https://e.com/a/../b":      true,
		"https://e.com/a/./b":       true,
		"https://e.com/a/%2e%2e/b":  true,
		"https://e.com/a/%2E./b":    true,
		"https://e.com/a/.%2E/b":    true,
		"https://e.com/a/%2e/b":     true,
		"https://e.com/a/..":        true,
		"https://e.com/a/..\\b":     true,
		"../x":                      true,
		".":                         true,
		"a/..?q":                    true,
		"https://e.com/a/b":         false,
		"https://e.com/a..b/c":      false,
		"https://e.com/.hidden":     false,
		"https://e.com/.../x":       false,
		"https://e.com/%2e%2e%2e/x": false,
		"https://e.com/a/%2f../x":   false, // %2f is no separator, the segment is "%2f.."
		"https://e.com/a?x=/../":    false, // the query is not the path
		"https://e.com/a#/../":      false,
		"urn:isbn:0451450523":       false,
		"https://e.com/a/b.json":    false,
		"https://e.com/%2":          false,
		"":                          false,
		"https://e.com/users/{+id}": false,
	} {
		if got := HasDotSegment(topic); got != want {
			t.Errorf("HasDotSegment(%q) = %v, want %v", topic, got, want)
		}
	}
}

// FuzzHasDotSegment: a topic HasDotSegment accepts is one whose path the
// WHATWG parser leaves in place, so that legacy selectors (raw string) and
// URL patterns (parsed URL) see the same path.
func FuzzHasDotSegment(f *testing.F) {
	for _, s := range []string{"a/../b", "%2e", "a/.%2E/b", "https://e.com/x/y", "x?../"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if HasDotSegment(s) {
			return
		}
		u, err := urlParser.Parse("https://e.com/base/" + s)
		if err != nil {
			return
		}
		// Without dot segments, resolving against /base/ keeps the prefix.
		if p := u.Pathname(); len(p) < len("/base/") || p[:len("/base/")] != "/base/" {
			if len(s) > 0 && (s[0] == '/' || s[0] == '\\' || s[0] == '?' || s[0] == '#') {
				return // absolute path or no path: replaces the base path
			}
			t.Fatalf("%q has no dot segment but resolves to path %q", s, p)
		}
	})
}
