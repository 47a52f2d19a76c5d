package topic

import "testing"

func TestPUB5_ReservedNamespace(t *testing.T) {
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		// The examples of PUB-5.
		{"/.well-known/mercure", true},
		{"/.well-known/mercure/subscriptions/x", true},
		{"https://other.host/.well-known/mercure/x", true},
		{"/.well-known/%6Dercure/x", true},
		{"/a/../.well-known/mercure/x", true},
		{`https:\\h\.well-known\mercure`, true},
		{"https://e.com/.well-known/mercurefoo", false},
		// Variants of the same rules.
		{"/.well-known/mercurex", false},
		{"/.well-known/mercure/", true},
		{"/.well-known/mercure?x=1", true},
		{"/.well-known/mercure#f", true},
		{"/.well-known/%6dercure", true},
		{"/%2Ewell-known/mercure", true},
		{"/.well-known/mercure/../mercure/x", true},
		{"/.well-known/x/%2e%2E/mercure/y", true},
		{"/.well-known/./mercure", true},
		{"//other.host/.well-known/mercure", true},
		{"http://other.host:8080/.well-known/mercure/subscriptions", true},
		{"ws://h/.well-known/mercure", true},
		{"foo:/.well-known/mercure/x", true}, // any scheme with a hierarchical path
		{"mercure", true},                    // relative: /.well-known/mercure
		{"mercure/subscriptions", true},
		{"./mercure/x", true},
		{"", true}, // the hub URL itself
		{"?topic=x", true},
		{"#x", true},
		{"subscriptions/x", false}, // /.well-known/subscriptions/x
		{".", false},               // /.well-known/
		{"/.well-known", false},
		{"/.well-known/mercure%2Fx", false}, // an encoded slash is not a separator
		{"/.well-known/MERCURE", false},     // paths are case-sensitive
		{"/x/.well-known/mercure", false},
		{"urn:x:/.well-known/mercure", false}, // opaque path
		{"https://example.com/books/1", false},
		{"https://example.com/.well-known/mercure-x", false},
		// Unparsable topics are not reserved.
		{"http://[/.well-known/mercure", false},
		{"https://h:99999/.well-known/mercure", false},
	} {
		if got := IsReserved(tc.topic, "/.well-known/mercure"); got != tc.want {
			t.Errorf("IsReserved(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestPUB5_EmptyHubPathMeansDefault(t *testing.T) {
	if !IsReserved("/.well-known/mercure/x", "") || IsReserved("/hub/x", "") {
		t.Error("empty hub path must mean /.well-known/mercure")
	}
}

func TestPUB5_CustomHubPath(t *testing.T) {
	for _, hubPath := range []string{"/hub", "/hub/", "hub", "/%68ub"} {
		for _, tc := range []struct {
			topic string
			want  bool
		}{
			{"/hub", true},
			{"/hub/subscriptions/x", true},
			{"https://o/h%75b/x", true},
			{"/hubx", false},
			{"/.well-known/mercure", false},
		} {
			if got := IsReserved(tc.topic, hubPath); got != tc.want {
				t.Errorf("IsReserved(%q, %q) = %v, want %v", tc.topic, hubPath, got, tc.want)
			}
		}
	}
	// Alternating hub paths must not confuse the cached base.
	if !IsReserved("/a/x", "/a") || IsReserved("/a/x", "/b") || !IsReserved("/b/x", "/b") {
		t.Error("cached reserved base used for the wrong hub path")
	}
}

func TestPUB5_RootHubReservesEveryPath(t *testing.T) {
	for _, topic := range []string{"/", "/x", "https://e.com/a/b"} {
		if !IsReserved(topic, "/") {
			t.Errorf("hub at / must reserve %q", topic)
		}
	}
	if IsReserved("urn:isbn:1", "/") {
		t.Error("opaque paths are never hub paths")
	}
}

func TestDecodeUnreserved(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"abc":         "abc",
		"%41%7a%2D":   "Az-",
		"%2e%5F%7E":   "._~",
		"%2F%3A%25":   "%2F%3A%25",
		"%":           "%",
		"%4":          "%4",
		"%zz%41":      "%zz" + "A",
		"a%C3%A9b%30": "a%C3%A9b0",
	} {
		if got := decodeUnreserved(in); got != want {
			t.Errorf("decodeUnreserved(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPUB5_PlainPathAgreesWithParser: the shortcut for plain http(s) topics
// reads the same path as the WHATWG parser, and leaves every topic it cannot
// read exactly to the parser.
func TestPUB5_PlainPathAgreesWithParser(t *testing.T) {
	for _, c := range []struct {
		topic string
		plain bool
	}{
		{"https://example.com/books/1", true},
		{"https://example.com", true},
		{"http://h:8080?x=/.well-known/mercure", true},
		{"https://u:p@h/.well-known/mercure#f", true},
		{"https://h/.well-known/mercure/x", true},
		{"https://h/a/../.well-known/mercure", false},
		{"https://h/.well-known/%6Dercure", false},
		{"https:///.well-known/mercure", false},
		{`https://h\.well-known\mercure`, false},
		{"HTTPS://h/x", false},
		{"/.well-known/mercure", false},
		{"https://h/{x}", false},
		{"https://h/a b", false},
	} {
		p, ok := plainPath(c.topic)
		if ok != c.plain {
			t.Errorf("plainPath(%q) ok = %v, want %v", c.topic, ok, c.plain)
			continue
		}
		if !ok {
			continue
		}
		u, err := urlParser.Parse(c.topic)
		if err != nil {
			t.Fatalf("parse %q: %v", c.topic, err)
		}
		if want := decodeUnreserved(u.Pathname()); p != want {
			t.Errorf("plainPath(%q) = %q, the parser's path is %q", c.topic, p, want)
		}
	}
	if !IsReserved("https://h/.well-known/mercure/x", "") || IsReserved("https://h/.well-known/mercurex", "") {
		t.Error("a plain topic is not classified as the parser classifies it")
	}
}
