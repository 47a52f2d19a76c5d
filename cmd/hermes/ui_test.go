package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/hub/ui"
)

const uiPath = "/.well-known/mercure/ui/"

// The debug UI is off unless asked for: no --ui, no page and no token
// check endpoint; hermes.js is served either way.
func TestServeUIOffByDefault(t *testing.T) {
	s := startServe(t, map[string]string{"HERMES_JWT_KEY": "secret"}, "--addr", "127.0.0.1:0", "--transport", "memory://")
	for path, want := range map[string]int{uiPath: 404, uiPath + "ui.js": 404, "/.well-known/mercure/hermes.js": 200} {
		if code, _ := getBody(t, s.URL+path); code != want {
			t.Errorf("%s without --ui: %d, want %d", path, code, want)
		}
	}
	resp, err := http.PostForm(s.URL+uiPath+"token-check", url.Values{"token": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("token check without --ui: %d, want 404", resp.StatusCode)
	}
}

// --dev turns the UI on and prints its address; the page is served on the
// public listener with the UI's CSP, and never on the admin listener.
func TestServeDevUIOnPublicListenerOnly(t *testing.T) {
	s := startServe(t, nil, "--dev", "--addr", "127.0.0.1:0", "--transport", "memory://", "--admin-addr", "127.0.0.1:0")
	admin := adminURL(t, s)
	if got, want := stdoutField(t, s, "Debug UI"), s.URL+uiPath; got != want {
		t.Errorf("banner prints the UI at %q, want %q", got, want)
	}
	resp, err := http.Get(s.URL + uiPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != ui.ContentSecurityPolicy || !strings.Contains(string(body), "Hermes debug UI") {
		t.Errorf("public %s: %d, CSP %q", uiPath, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, path := range []string{uiPath, uiPath + "ui.js", uiPath + "token-check", "/.well-known/mercure/ui", "/.well-known/mercure/hermes.js"} {
		if code, _ := getBody(t, admin+path); code != http.StatusNotFound {
			t.Errorf("admin listener %s: %d, want 404", path, code)
		}
	}
	// --ui=false wins over --dev.
	off := startServe(t, nil, "--dev", "--ui=false", "--addr", "127.0.0.1:0", "--transport", "memory://")
	if code, _ := getBody(t, off.URL+uiPath); code != http.StatusNotFound {
		t.Errorf("--dev --ui=false: %d, want 404", code)
	}
	if strings.Contains(off.Stdout.String(), "Debug UI") {
		t.Errorf("--ui=false still prints the UI address:\n%s", off.Stdout.String())
	}
}

// The token check endpoint says what hermes token check says, with the
// hub's keys, and never shows the key.
func TestServeUITokenCheckUsesTheHubKeys(t *testing.T) {
	const secret = "ui-test-secret-0123456789abcdef0123"
	s := startServe(t, map[string]string{"HERMES_JWT_KEY": secret}, "--ui", "--addr", "127.0.0.1:0", "--transport", "memory://")
	good := mintForTest(t, secret, "--publish", "https://example.com/{id}")
	bad := mintForTest(t, secret+"-other", "--publish", "*")
	for _, c := range []struct {
		token string
		want  []string
	}{
		{good, []string{`"role":"publisher","accepted":true`, `"dialect":"legacy"`, `"pattern":"https://example.com/{id}"`, `"kind":"secret"`}},
		{bad, []string{`"role":"publisher","accepted":false`, `"status":401`, `signature`}},
	} {
		resp, err := http.PostForm(s.URL+uiPath+"token-check", url.Values{"token": {c.token}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("token check: %d %s", resp.StatusCode, b)
		}
		for _, w := range c.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("token check answer lacks %s:\n%s", w, b)
			}
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("token check answer shows the key:\n%s", b)
		}
	}
}
