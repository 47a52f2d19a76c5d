package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hermes-hub/hermes/hub/topic"
)

// FuzzAuthenticate feeds arbitrary Authorization header, legacy query
// parameter and cookie values. Authenticate must never panic, must fail
// only with a well-formed *Error, must be anonymous only when nothing was
// presented, and must never succeed without a valid signature by one of
// the configured keys.
func FuzzAuthenticate(f *testing.F) {
	legacy := legacyToken(f, subSecret, `{"mercure":{"subscribe":["*"],"publish":["*"]}}`)
	modern := modernToken(f, subSecret, subscribeAll())
	none := b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"mercure":{"publish":["*"]}}`)) + "."
	f.Add("Bearer "+legacy, "", "", true)
	f.Add("bearer "+modern, "", "", true)
	f.Add("", legacy, "", false)
	f.Add("", modern, "", false)
	f.Add("", "", legacy, false)
	f.Add("", "", modern, false)
	f.Add("Bearer "+none, "", "", true)
	f.Add("Basic xyz", "", legacy, true)
	f.Add("Bearer ", "", "", true)
	f.Add("", "", "", false)
	f.Add("Bearer a.b.c", "a.b", "x", true)
	f.Add("", "", strings.Replace(legacy, ".", "..", 1), false)
	f.Add("", "", legacy[:len(legacy)-3]+"AAA", false)

	a, err := New(baseConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	keyfunc := func(role Role) jwt.Keyfunc {
		return func(*jwt.Token) (any, error) {
			if role == Publisher {
				return pubSecret, nil
			}
			return subSecret, nil
		}
	}

	f.Fuzz(func(t *testing.T, header, cookie, query string, setHeader bool) {
		for _, role := range []Role{Publisher, Subscriber} {
			r := httptest.NewRequest("POST", testURL, nil)
			r.Header.Set("Origin", "https://app.test")
			if setHeader {
				r.Header["Authorization"] = []string{header}
			}
			if query != "" {
				r.URL.RawQuery = "authorization=" + url.QueryEscape(query)
			}
			if cookie != "" {
				r.Header["Cookie"] = []string{LegacyCookieName + "=" + cookie}
			}
			g, err := a.Authenticate(r, role)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("non-*Error failure: %v", err)
				}
				if g != nil {
					t.Fatal("grant and error together")
				}
				switch {
				case e.Status == http.StatusBadRequest && e.Code == CodeInvalidRequest:
				case e.Status == http.StatusUnauthorized && e.Code == CodeInvalidToken:
				default:
					t.Fatalf("unexpected error %d %q", e.Status, e.Code)
				}
				if e.Reason == "" {
					t.Fatal("error without reason")
				}
				continue
			}
			cookieTok := ""
			for _, name := range a.cookies {
				if c, err := r.Cookie(name); err == nil && c.Value != "" {
					cookieTok = c.Value
					break
				}
			}
			hasCookie := cookieTok != ""
			if g == nil {
				if setHeader || query != "" || hasCookie {
					t.Fatalf("anonymous although a token was presented")
				}
				continue
			}
			// Success: the token used must carry a valid signature.
			var tok string
			switch {
			case setHeader:
				tok = header[len("Bearer "):]
			case query != "":
				tok = query
			default:
				tok = cookieTok
			}
			p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
			if _, err := p.Parse(tok, keyfunc(role)); err != nil {
				t.Fatalf("accepted a token whose signature does not verify: %v", err)
			}
		}
	})
}

// FuzzParseAuthorizationDetails checks that any claim value either fails
// cleanly or yields details within every limit (AD-6) and matcher types of
// draft-08 only (TML-1).
func FuzzParseAuthorizationDetails(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"type":"` + DetailType + `","actions":["subscribe"],"topics":[{"match":"*"}]}]`,
		`[{"type":"` + DetailType + `","actions":["publish","x"],"topics":[{"match":"https://e.com/:id","match_type":"urlpattern"}],"payload":{"a":1}}]`,
		`[{"type":"other","topics":"x"}]`,
		`[{"type":"` + DetailType + `","actions":[],"topics":[]}]`,
		`[{"type":"` + DetailType + `","actions":["subscribe"],"topics":[{"match":"x","match_type":"Exact"}]}]`,
		`[{"type":"` + DetailType + `","actions":["subscribe"],"topics":[{"match":"https://e.com/(","match_type":"urlpattern"}]}]`,
		`null`, `{}`, `[null]`, `[1]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	opt := topic.Options{Base: testHub}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := parseAuthorizationDetails(json.RawMessage(data), opt)
		if err != nil {
			if ds != nil {
				t.Fatal("details returned with an error")
			}
			return
		}
		if !json.Valid(data) {
			t.Fatal("invalid JSON accepted")
		}
		if len(ds) > MaxDetails {
			t.Fatalf("%d details", len(ds))
		}
		n := 0
		for _, d := range ds {
			if len(d.matchers) == 0 {
				t.Fatal("detail without matchers")
			}
			for _, m := range d.matchers {
				n++
				if m.Type() != topic.TypeExact && m.Type() != topic.TypeURLPattern {
					t.Fatalf("matcher type %q", m.Type())
				}
				if l := len(m.Pattern()); l == 0 || l > MaxPatternBytes {
					t.Fatalf("pattern of %d bytes", l)
				}
			}
			if d.payload != nil && !json.Valid(d.payload) {
				t.Fatal("invalid payload JSON")
			}
		}
		if n > MaxMatchers {
			t.Fatalf("%d matchers", n)
		}
	})
}

// FuzzNumericDate: any claim value parses or fails without panicking, and
// what parses is a number (or, when allowed, a numeric string).
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{`1700000000`, `1700000000.123`, `"1700000000"`, `-1.5`, `1e300`, `-1e300`, `1e-300`,
		`99999999999999999999999`, `"0x10"`, `"Inf"`, `null`, `true`, `{}`, `"1 2"`, `0.0000000001`} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowString bool) {
		tm, ok, err := numericDate(json.RawMessage(data), allowString)
		if err != nil || !ok {
			if !tm.IsZero() {
				t.Fatal("time returned without a value")
			}
			return
		}
		if tm.Unix() > maxNumericDate || tm.Unix() < -maxNumericDate {
			t.Fatalf("unclamped time %v", tm)
		}
		if !allowString && strings.HasPrefix(strings.TrimSpace(string(data)), `"`) {
			t.Fatal("string accepted")
		}
	})
}

// FuzzLegacyClaim: any `mercure` claim parses within the 0.x limits or
// fails cleanly.
func FuzzLegacyClaim(f *testing.F) {
	for _, s := range []string{
		`{"mercure":{"publish":["*"]}}`,
		`{"mercure":{"subscribe":["https://e.com/{id}"],"payload":{"a":1}}}`,
		`{"https://mercure.rocks/":{"publish":[]},"mercure":{"publish":["*"]}}`,
		`{"mercure":{"publish":[1]}}`, `{"mercure":"x"}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c rawClaims
		if json.Unmarshal(data, &c) != nil {
			return
		}
		g, err := parseLegacyClaim(c, topic.Options{Base: testHub})
		if err != nil {
			return
		}
		if len(g.publish) > maxLegacySelectors || len(g.subscribe) > maxLegacySelectors {
			t.Fatal("too many selectors")
		}
		for _, m := range append(g.publish, g.subscribe...) {
			if m.Type() != topic.TypeLegacy || len(m.Pattern()) > MaxPatternBytes {
				t.Fatalf("selector %q of type %q", m.Pattern(), m.Type())
			}
		}
	})
}

// FuzzRequestOrigin: the CSRF origin extraction never panics and returns
// lower-case scheme://host values (or "").
func FuzzRequestOrigin(f *testing.F) {
	f.Add("https://App.test", "")
	f.Add("", "https://app.test/x?y")
	f.Add("", "//no-scheme")
	f.Add("", "https://user@host:1/%zz")
	a, err := New(Config{PublishOrigins: []string{"https://*.e.com", "https://app.test"}, Logger: quietLog})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, origin, referer string) {
		r := httptest.NewRequest("POST", testURL, nil)
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		if referer != "" {
			r.Header["Referer"] = []string{referer}
		}
		o := requestOrigin(r)
		if o != strings.ToLower(o) {
			t.Fatalf("origin %q not lower-cased", o)
		}
		if err := a.checkCSRF(r); err == nil {
			if o == "" {
				t.Fatal("CSRF check passed without an origin")
			}
			if o != "https://app.test" && !(strings.HasPrefix(o, "https://") && strings.HasSuffix(o, ".e.com")) {
				t.Fatalf("origin %q allowed", o)
			}
		}
	})
}
