package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stream is an open subscription whose lines arrive on a channel, closed
// when the stream ends.
type stream struct {
	lines  chan string
	cancel context.CancelFunc
}

func subscribe(t *testing.T, client *http.Client, target, token string, header http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Resume from the start of this hub's history unless the test names a
	// cursor: an update published right after the response headers arrive
	// is then delivered whether or not the hub had finished registering the
	// subscription (that ordering is the hub's own tests' business).
	req.Header.Set("Last-Event-ID", "earliest")
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe %s: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe %s: %s %q, body %q", target, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	s := &stream{lines: make(chan string, 1024), cancel: cancel}
	go func() {
		defer close(s.lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(cancel)
	return s
}

// nextData returns the data of the next event on the stream, skipping ids,
// comments and blank lines.
func (s *stream) nextData(t *testing.T, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("stream ended while waiting for an event")
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				return data
			}
		case <-timer.C:
			t.Fatalf("no event within %v", timeout)
		}
	}
}

// waitEnd waits until the hub closes the stream.
func (s *stream) waitEnd(t *testing.T, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-s.lines:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("stream still open %v after shutdown began", timeout)
		}
	}
}

func publish(t *testing.T, client *http.Client, hubURL, token string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hubURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp, string(b)
}

func mustPublish(t *testing.T, client *http.Client, hubURL, token string, form url.Values) string {
	t.Helper()
	resp, body := publish(t, client, hubURL, token, form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish %v: %s %q", form, resp.Status, body)
	}
	return body
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// The whole dev experience through run(): the printed tokens and commands
// work against the address actually listened on, and cancelling the
// context ends the streams and exits 0.
func TestServeDevEndToEnd(t *testing.T) {
	s := startServe(t, nil, "--dev", "--addr", "127.0.0.1:0", "--transport", "memory://")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(s.URL) {
		t.Fatalf("listening on %q, want http://127.0.0.1:PORT", s.URL)
	}
	hubURL := s.URL + "/.well-known/mercure"
	pubToken := stdoutField(t, s, "Publisher token")
	subToken := stdoutField(t, s, "Subscriber token")
	secret := stdoutField(t, s, "JWT secret (HS256)")
	// The audience never comes from a request: dev mode names its own URL
	// (issue 10, finding 5) and serves it in the metadata.
	if rid := stdoutField(t, s, "Resource id (aud of draft-08 tokens)"); rid != hubURL {
		t.Errorf("dev resource id %q, want %q", rid, hubURL)
	}
	if resp, err := http.Get(s.URL + "/.well-known/oauth-protected-resource/.well-known/mercure"); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"resource":"`+hubURL+`"`) {
			t.Errorf("dev metadata: %d %s", resp.StatusCode, body)
		}
	}

	out := s.Stdout.String()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(secret) {
		t.Errorf("dev secret %q is not 32 random bytes in hex", secret)
	}
	wantSub := "curl -N '" + hubURL + "?topic=https://example.com/books/1'"
	wantPub := `curl -d 'topic=https://example.com/books/1' -d 'data={"hello":"world"}' -H 'Authorization: Bearer ` + pubToken + `' ` + hubURL
	for _, want := range []string{wantSub, wantPub} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("stdout lacks the line %q; stdout:\n%s", want, out)
		}
	}
	for _, secretText := range []string{pubToken, subToken, secret} {
		if strings.Contains(s.Stderr.String(), secretText) {
			t.Errorf("the log contains a token or key")
		}
	}

	client := &http.Client{}
	topicURL := hubURL + "?topic=" + url.QueryEscape(devTopic)
	anon := subscribe(t, client, topicURL, "", nil)          // --dev allows anonymous subscribers
	private := subscribe(t, client, topicURL, subToken, nil) // the printed subscriber token

	mustPublish(t, client, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {`{"hello":"world"}`}})
	if got := anon.nextData(t, 10*time.Second); got != `{"hello":"world"}` {
		t.Errorf("anonymous subscriber got %q", got)
	}
	if got := private.nextData(t, 10*time.Second); got != `{"hello":"world"}` {
		t.Errorf("subscriber with token got %q", got)
	}

	// A private update reaches the token holder only: the anonymous stream's
	// next event is the public one published after it.
	mustPublish(t, client, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {"secret"}, "private": {"on"}})
	mustPublish(t, client, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {"public"}})
	if got := private.nextData(t, 10*time.Second); got != "secret" {
		t.Errorf("subscriber with token got %q, want the private update", got)
	}
	if got := anon.nextData(t, 10*time.Second); got != "public" {
		t.Errorf("anonymous subscriber got %q, want only the public update", got)
	}

	// The same port speaks HTTP/2 without TLS.
	h2 := h2cClient()
	resp, body := publish(t, h2, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {"over h2c"}})
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("h2c publish: %s over %s, body %q; want 200 over HTTP/2", resp.Status, resp.Proto, body)
	}
	if got := anon.nextData(t, 10*time.Second); got != "over h2c" {
		t.Errorf("anonymous subscriber got %q after the h2c publish", got)
	}

	// --dev trusts browsers on localhost ports: CORS with credentials, and
	// publishing with the cookie from such an origin. Other origins get
	// neither.
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{"http://localhost:5173", true}, {"http://127.0.0.1:8000", true}, {"https://evil.example", false}} {
		req, _ := http.NewRequest(http.MethodHead, topicURL, nil)
		req.Header.Set("Origin", tc.origin)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
		if tc.ok != (acao == tc.origin && acac == "true") {
			t.Errorf("origin %s: Access-Control-Allow-Origin %q, -Credentials %q; want allowed=%v", tc.origin, acao, acac, tc.ok)
		}

		req, _ = http.NewRequest(http.MethodPost, hubURL, strings.NewReader(url.Values{"topic": {devTopic}, "data": {"cookie " + tc.origin}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tc.origin)
		req.AddCookie(&http.Cookie{Name: "mercureAuthorization", Value: pubToken})
		if resp, err = client.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tc.ok != (resp.StatusCode == http.StatusOK) {
			t.Errorf("cookie publish from %s: %s, want accepted=%v", tc.origin, resp.Status, tc.ok)
		}
		if tc.ok {
			if got := anon.nextData(t, 10*time.Second); got != "cookie "+tc.origin {
				t.Errorf("anonymous subscriber got %q after a cookie publish", got)
			}
		}
	}

	// A token from another key is refused: the printed secret is the key.
	other := mintForTest(t, "not-the-dev-secret", "--publish", "*")
	if resp, _ := publish(t, client, hubURL, other, url.Values{"topic": {devTopic}, "data": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("publish with a foreign token: %s, want 401", resp.Status)
	}
	mine := mintForTest(t, secret, "--publish", "*")
	mustPublish(t, client, hubURL, mine, url.Values{"topic": {devTopic}, "data": {"minted"}})
	if got := anon.nextData(t, 10*time.Second); got != "minted" {
		t.Errorf("anonymous subscriber got %q after a publish with hermes token", got)
	}

	if code := s.stop(t); code != exitOK {
		t.Errorf("exit code after cancel = %d, want 0; stderr:\n%s", code, s.Stderr.String())
	}
	anon.waitEnd(t, 5*time.Second)
	private.waitEnd(t, 5*time.Second)
}

// mintForTest runs `hermes token` and returns the token.
func mintForTest(t *testing.T, key string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runApp(t, nil, append([]string{"token", "--key", key}, args...)...)
	if code != exitOK {
		t.Fatalf("hermes token: exit %d, stderr %q", code, stderr)
	}
	tok := strings.TrimSpace(stdout)
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("hermes token printed %q, want one JWS", stdout)
	}
	return tok
}

// With bolt, what was published survives a restart of the binary: a
// subscriber resuming after the first update receives the second.
func TestServeBoltHistorySurvivesRestart(t *testing.T) {
	const key = "restart-secret"
	db := filepath.Join(t.TempDir(), "hermes.db")
	args := []string{"--addr", "127.0.0.1:0", "--transport", "bolt://" + db, "--anonymous"}
	env := map[string]string{"HERMES_JWT_KEY": key}
	pub := mintForTest(t, key, "--publish", "*")
	client := &http.Client{}

	s := startServe(t, env, args...)
	hubURL := s.URL + "/.well-known/mercure"
	first := mustPublish(t, client, hubURL, pub, url.Values{"topic": {"https://example.com/1"}, "data": {"one"}})
	mustPublish(t, client, hubURL, pub, url.Values{"topic": {"https://example.com/1"}, "data": {"two"}})
	if code := s.stop(t); code != exitOK {
		t.Fatalf("first run exit code = %d; stderr:\n%s", code, s.Stderr.String())
	}
	if first == "" {
		t.Fatal("the hub answered the publish without an id")
	}

	s = startServe(t, env, args...)
	hubURL = s.URL + "/.well-known/mercure"
	st := subscribe(t, client, hubURL+"?topic="+url.QueryEscape("https://example.com/1"), "",
		http.Header{"Last-Event-Id": {first}})
	if got := st.nextData(t, 10*time.Second); got != "two" {
		t.Errorf("after a restart, resuming from %q delivered %q, want %q", first, got, "two")
	}
	if code := s.stop(t); code != exitOK {
		t.Errorf("second run exit code = %d; stderr:\n%s", code, s.Stderr.String())
	}
}

// `hermes token` mints tokens the hub accepts in both dialects: legacy
// tokens and draft-08 tokens with the configured issuer and resource id.
func TestTokenMintsTokensTheHubAccepts(t *testing.T) {
	const (
		key      = "token-test-secret"
		issuer   = "https://issuer.example"
		resource = "https://hub.example/.well-known/mercure"
		topicURL = "https://example.com/private/1"
	)
	keyFile := filepath.Join(t.TempDir(), "key")
	writeFile(t, keyFile, key+"\n")
	s := startServe(t, map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "ignored, the flag wins"},
		"--addr", "127.0.0.1:0", "--transport", "memory://", "--jwt-key", "@"+keyFile,
		"--issuer", issuer, "--resource-id", resource, "--log-format", "json")
	hubURL := s.URL + "/.well-known/mercure"
	client := &http.Client{}

	legacySub := mintForTest(t, "@"+keyFile, "--subscribe", topicURL)
	modernSub := mintForTest(t, key, "--modern", "--issuer", issuer, "--audience", resource,
		"--subscribe", topicURL, "--ttl", "1h")
	legacyPub := mintForTest(t, key, "--publish", "*")
	modernPub := mintForTest(t, key, "--modern", "--issuer", issuer, "--audience", resource,
		"--publish", "*", "--ttl", "1h")

	subs := []*stream{
		subscribe(t, client, hubURL+"?topic="+url.QueryEscape(topicURL), legacySub, nil),
		subscribe(t, client, hubURL+"?match="+url.QueryEscape(topicURL), modernSub, nil),
	}
	for i, pub := range []string{legacyPub, modernPub} {
		data := []string{"from legacy", "from modern"}[i]
		mustPublish(t, client, hubURL, pub, url.Values{"topic": {topicURL}, "data": {data}, "private": {"on"}})
		for j, st := range subs {
			if got := st.nextData(t, 10*time.Second); got != data {
				t.Errorf("subscriber %d got %q, want %q", j, got, data)
			}
		}
	}

	wrongIssuer := mintForTest(t, key, "--modern", "--issuer", "https://other.example", "--audience", resource,
		"--publish", "*", "--ttl", "1h")
	expired := mintForTest(t, key, "--publish", "*", "--ttl", "-1h")
	for name, tok := range map[string]string{"wrong issuer": wrongIssuer, "expired": expired} {
		resp, _ := publish(t, client, hubURL, tok, url.Values{"topic": {topicURL}, "data": {"x"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("publish with a token with %s: %s, want 401", name, resp.Status)
		}
	}
	if !strings.Contains(s.Stderr.String(), `"msg":"listening on http://`) {
		t.Errorf("--log-format json: stderr lacks a JSON listening line:\n%s", s.Stderr.String())
	}
}

func TestTokenBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--publish", "*"}, "hermes: --key: required"},
		{[]string{"--key", "k", "--ttl", "soon"}, `hermes: --ttl: invalid duration "soon"`},
		{[]string{"--key", "k", "--payload", "{"}, "hermes: --payload: invalid JSON"},
		{[]string{"--key", "k", "--alg", "none"}, `hermes: --alg: unsupported algorithm "none"`},
		{[]string{"--key", "k", "--issuer", "i"}, "hermes: --issuer: only meaningful with --modern"},
		{[]string{"--key", "@" + filepath.Join(t.TempDir(), "absent")}, "hermes: --key: cannot read key file"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runApp(t, nil, append([]string{"token"}, tt.args...)...)
		if code != exitUsage || !strings.HasPrefix(stderr, tt.want) || stdout != "" {
			t.Errorf("token %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
}

// The normal production setup: a PEM public key read from a file verifies
// tokens signed with the matching private key.
func TestServePEMKeyFromFile(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile, privFile := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "priv.pem")
	writeFile(t, pubFile, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})))
	writeFile(t, privFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})))

	// A PEM key without an algorithm is refused at start-up.
	code, _, stderr := runApp(t, nil, "serve", "--addr", "127.0.0.1:0", "--transport", "memory://", "--jwt-key", "@"+pubFile)
	if code != exitUsage || !strings.Contains(stderr, "--jwt-alg") {
		t.Errorf("PEM key without --jwt-alg: exit %d, stderr %q; want 2 and a message naming --jwt-alg", code, stderr)
	}

	s := startServe(t, map[string]string{"HERMES_JWT_ALG": "EdDSA", "HERMES_JWT_KEY": "@" + pubFile},
		"--addr", "127.0.0.1:0", "--transport", "memory://")
	hubURL := s.URL + "/.well-known/mercure"
	client := &http.Client{}
	tok := mintForTest(t, "@"+privFile, "--alg", "EdDSA", "--publish", "*", "--subscribe", "*")
	st := subscribe(t, client, hubURL+"?topic=*", tok, nil)
	mustPublish(t, client, hubURL, tok, url.Values{"topic": {"https://example.com/pem"}, "data": {"signed"}, "private": {"on"}})
	if got := st.nextData(t, 10*time.Second); got != "signed" {
		t.Errorf("subscriber got %q", got)
	}
	hmac := mintForTest(t, "some-secret", "--publish", "*")
	if resp, _ := publish(t, client, hubURL, hmac, url.Values{"topic": {"https://example.com/pem"}, "data": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an HS256 token against an EdDSA key: %s, want 401", resp.Status)
	}
	if strings.Contains(s.Stderr.String(), "BEGIN") {
		t.Errorf("the log shows the key")
	}
}
