package ui

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
)

const testSecret = "ui-package-secret-0123456789abcdef"

func newTestUI(t *testing.T) http.Handler {
	t.Helper()
	a, err := auth.New(auth.Config{
		PublisherKey:  []byte(testSecret),
		SubscriberKey: []byte(testSecret),
		HubPath:       "/.well-known/mercure",
		TopicOptions:  topic.Options{Base: "http://hub.test/.well-known/mercure"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return New(Options{Checker: a, Keys: []KeyInfo{{Role: "publisher", Kind: "secret", Alg: "HS256"}}})
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every file of the page is served from the binary, byte for byte the file
// of the repository, with its type and the UI's CSP.
func TestUIServesEmbeddedAssetsWithStrictCSP(t *testing.T) {
	h := newTestUI(t)
	for path, c := range map[string]struct{ file, ctype string }{
		"/":       {"static/index.html", "text/html; charset=utf-8"},
		"/ui.js":  {"static/ui.js", "text/javascript; charset=utf-8"},
		"/ui.css": {"static/ui.css", "text/css; charset=utf-8"},
	} {
		rec := do(t, h, http.MethodGet, path, nil)
		want, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) || rec.Header().Get("Content-Type") != c.ctype {
			t.Errorf("%s: %d, %s, %d bytes; want 200, %s, the %d bytes of %s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), c.ctype, len(want), c.file)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, need := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, need) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, need)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q allows more than the UI's own origin", path, csp)
		}
	}
	for _, path := range []string{"/nope", "/static/ui.js", "/hermes.js", "/ui.js/"} {
		if rec := do(t, h, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
	if rec := do(t, h, http.MethodPost, "/", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", rec.Code)
	}
}

// The page loads nothing from another origin and has no inline script or
// style, so that the CSP needs no exception.
func TestUIPageHasNoInlineCodeNorThirdPartyResource(t *testing.T) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>|<script(?:\s(?:[^s>]|s[^r])*)?>|<style|\sstyle=|\son[a-z]+=`).Find(page); m != nil {
		t.Errorf("inline script or style in index.html: %q", m)
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllSubmatch(page, -1) {
		if u, err := url.Parse(string(m[1])); err != nil || u.IsAbs() || u.Host != "" {
			t.Errorf("index.html references %q, not a relative URL of the hub", m[1])
		}
	}
	for _, name := range []string{"ui.js", "hermes.js", "ui.css"} {
		b, _ := static.ReadFile("static/" + name)
		for _, call := range regexp.MustCompile(`(?:fetch|new URL|SharedWorker|url)\(\s*['"]https?:`).FindAll(b, -1) {
			t.Errorf("%s requests an absolute URL: %q", name, call)
		}
	}
}

// hermes.js is served as the repository's copy.
func TestScriptServesTheRepositoryCopy(t *testing.T) {
	want, err := os.ReadFile("static/hermes.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := do(t, Script(), http.MethodGet, "/.well-known/mercure/hermes.js", nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("hermes.js: %d %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
	if !bytes.Equal(ScriptSource(), want) {
		t.Error("ScriptSource differs from the file")
	}
	// Revalidation by ETag.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec2 := httptest.NewRecorder()
	Script().ServeHTTP(rec2, req)
	if rec2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", rec2.Code)
	}
}

func mint(t *testing.T, key string, publish, subscribe []string) string {
	t.Helper()
	tok, err := auth.Mint(auth.MintOptions{Key: []byte(key), Publish: publish, Subscribe: subscribe})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenCheckSaysWhatTheTokenGrantsOrWhyItIsRefused(t *testing.T) {
	h := newTestUI(t)
	check := func(token string) (int, string) {
		rec := do(t, h, http.MethodPost, tokenCheckPath, strings.NewReader(url.Values{"token": {token}}.Encode()))
		return rec.Code, rec.Body.String()
	}
	code, body := check("Bearer " + mint(t, testSecret, []string{"https://e.com/{id}"}, nil))
	for _, want := range []string{`"role":"publisher","accepted":true,"dialect":"legacy"`, `"publish":[{"type":"legacy","pattern":"https://e.com/{id}"}]`,
		`"keys":[{"role":"publisher","kind":"secret","alg":"HS256"}]`, `"header":{"alg":"HS256"`,
		`"key":{"source":"configured","alg":"HS256"}`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("valid token: %d %s; want %s", code, body, want)
		}
	}
	code, body = check(mint(t, "another secret, 32 bytes long....", []string{"*"}, nil))
	if code != 200 || !strings.Contains(body, `"role":"publisher","accepted":false,"status":401,"code":"invalid_token","rule":"signature","reason":"signature does not verify`) {
		t.Errorf("token signed with another key: %d %s", code, body)
	}
	if strings.Contains(body, testSecret) {
		t.Errorf("the answer shows the key: %s", body)
	}
	code, body = check("not.a-token")
	if code != 200 || !strings.Contains(body, `"decodeError"`) {
		t.Errorf("garbage: %d %s", code, body)
	}

	for _, c := range []struct {
		method, body string
		want         int
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed},
		{http.MethodPost, "token=", http.StatusBadRequest},
		{http.MethodPost, "token=" + strings.Repeat("a", maxCheckBody), http.StatusRequestEntityTooLarge},
		{http.MethodPost, "token=" + strings.Repeat("a", auth.MaxInspectBytes+1), http.StatusRequestEntityTooLarge},
	} {
		var body io.Reader
		if c.method == http.MethodPost {
			body = strings.NewReader(c.body)
		}
		if rec := do(t, h, c.method, tokenCheckPath, body); rec.Code != c.want {
			t.Errorf("%s with %d bytes: %d, want %d", c.method, len(c.body), rec.Code, c.want)
		}
	}
}
