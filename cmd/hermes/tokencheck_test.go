package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hermes-hub/hermes/auth"
)

const checkKey = "token-check-secret"

// checkOut runs `hermes token check` with env and args and returns the
// exit code and both outputs.
func checkOut(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runApp(t, env, append([]string{"token", "check"}, args...)...)
}

func wantLine(t *testing.T, out, line string) {
	t.Helper()
	for _, l := range lines(out) {
		if l == line {
			return
		}
	}
	t.Errorf("no line %q in output:\n%s", line, out)
}

func TestTokenCheckAcceptsGoodToken(t *testing.T) {
	tok := mintForTest(t, checkKey, "--publish", "*", "--subscribe", "https://example.com/books/{id}", "--ttl", "1h", "--payload", `{"user":"u1"}`)
	code, out, errOut := checkOut(t, nil, "--jwt-key", checkKey, tok)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	for _, l := range []string{
		"header (not verified):",
		`  alg: "HS256"`,
		`  typ: "JWT"`,
		"claims (not verified):",
		`  mercure: {"payload":{"user":"u1"},"publish":["*"],"subscribe":["https://example.com/books/{id}"]}`,
		"  publisher key: secret from --jwt-key (HS256, the default)",
		"publisher: accepted",
		"subscriber: accepted",
		"  dialect: legacy (mercure claim)",
		"    * (every topic)",
		"    https://example.com/books/{id} (URI template)",
		`  payload: {"user":"u1"}`,
	} {
		wantLine(t, out, l)
	}
	if !strings.Contains(out, "  exp: ") || !strings.Contains(out, "(in 59m") && !strings.Contains(out, "(in 1h)") {
		t.Errorf("exp not shown as a date in the next hour:\n%s", out)
	}
}

func TestTokenCheckExpired(t *testing.T) {
	tok := mintForTest(t, checkKey, "--subscribe", "*", "--ttl", "-3h")
	code, out, _ := checkOut(t, map[string]string{"HERMES_JWT_KEY": checkKey}, tok)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stdout:\n%s", code, out)
	}
	for _, role := range []string{"publisher", "subscriber"} {
		prefix := role + ": refused (401 invalid_token): expired at "
		if !strings.Contains(out, "\n"+prefix) || !strings.Contains(out, "(3h ago)\n") {
			t.Errorf("no %q line ending in (3h ago):\n%s", prefix, out)
		}
	}
	if !strings.Contains(out, "  exp: ") || strings.Count(out, "(3h ago)") != 3 {
		t.Errorf("the exp claim is not shown as a date 3h ago:\n%s", out)
	}
}

func TestTokenCheckWrongKey(t *testing.T) {
	tok := mintForTest(t, checkKey, "--publish", "*")
	env := map[string]string{"HERMES_JWT_KEY": "not-the-signing-secret"}
	code, out, _ := checkOut(t, env, "--role", "publisher", tok)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stdout:\n%s", code, out)
	}
	wantLine(t, out, "publisher: refused (401 invalid_token): signature does not verify with the configured publisher key (HS256)")
	wantLine(t, out, "  publisher key: secret from HERMES_JWT_KEY (HS256, the default)")
	if !strings.Contains(out, "  hint: the secret is used byte for byte") {
		t.Errorf("no hint about the secret:\n%s", out)
	}
	if strings.Contains(out, "subscriber:") {
		t.Errorf("--role publisher also checked the subscriber role:\n%s", out)
	}
	// The hub's precedence: a flag beats every variable.
	if code, out, _ := checkOut(t, env, "--jwt-key", checkKey, "--role", "publisher", tok); code != exitOK {
		t.Errorf("--jwt-key did not win over HERMES_JWT_KEY: exit %d\n%s", code, out)
	}
	// The reference hub's variable is honoured, as serve honours it.
	env = map[string]string{"MERCURE_PUBLISHER_JWT_KEY": checkKey}
	code, out, _ = checkOut(t, env, tok)
	if code != exitOK {
		t.Fatalf("MERCURE_PUBLISHER_JWT_KEY: exit %d\n%s", code, out)
	}
	wantLine(t, out, "publisher: accepted")
	wantLine(t, out, "subscriber: refused (401 invalid_token): no key configured for subscriber tokens")
	wantLine(t, out, "  publisher key: secret from MERCURE_PUBLISHER_JWT_KEY (HS256, the default)")
}

func TestTokenCheckModernAudience(t *testing.T) {
	const (
		issuer = "https://as.example.com"
		hubURL = "https://hub.example.com/.well-known/mercure"
	)
	tok := mintForTest(t, checkKey, "--modern", "--issuer", issuer, "--audience", hubURL,
		"--subscribe", "/books/:id", "--match-type", "urlpattern", "--ttl", "15m")
	env := map[string]string{"HERMES_JWT_KEY": checkKey, "HERMES_ISSUER": issuer}

	code, out, _ := checkOut(t, env, "--role", "subscriber", "--resource-id", "https://other.example.com/.well-known/mercure", tok)
	if code != exitFailure {
		t.Fatalf("wrong aud: exit %d, want 1\n%s", code, out)
	}
	wantLine(t, out, `subscriber: refused (401 invalid_token): aud "`+hubURL+`" does not contain the hub's resource id "https://other.example.com/.well-known/mercure"`)
	wantLine(t, out, "  resource id (aud): https://other.example.com/.well-known/mercure from --resource-id")

	// Without a resource id, draft-08 tokens are refused, as the hub
	// refuses them; the hint says how to pass one.
	code, out, _ = checkOut(t, env, "--role", "subscriber", tok)
	if code != exitFailure {
		t.Fatalf("no resource id: exit %d, want 1\n%s", code, out)
	}
	wantLine(t, out, "subscriber: refused (401 invalid_token): draft-08 token refused: no resource id is configured (--resource-id), so the hub accepts legacy tokens only")
	wantLine(t, out, "  resource id (aud): none")
	if !strings.Contains(out, "  hint: pass --resource-id (HERMES_RESOURCE_ID)") {
		t.Errorf("no --resource-id hint:\n%s", out)
	}

	// The right resource id, from the environment as serve reads it.
	env["HERMES_RESOURCE_ID"] = hubURL
	code, out, _ = checkOut(t, env, tok)
	if code != exitOK {
		t.Fatalf("right aud: exit %d\n%s", code, out)
	}
	wantLine(t, out, "subscriber: accepted")
	wantLine(t, out, "  dialect: draft-08 (authorization_details)")
	wantLine(t, out, "    /books/:id (match_type urlpattern)")
	wantLine(t, out, "  note: no publish topic is granted, so every publish gets 403")

	// Without an issuer, draft-08 tokens are refused, and the hint says so.
	delete(env, "HERMES_ISSUER")
	code, out, _ = checkOut(t, env, "--role", "subscriber", tok)
	if code != exitFailure || !strings.Contains(out, "no issuer is configured") || !strings.Contains(out, "hint: pass --issuer") {
		t.Errorf("no issuer: exit %d\n%s", code, out)
	}
}

func TestTokenCheckStdinAndBearerPrefix(t *testing.T) {
	tok := mintForTest(t, checkKey, "--subscribe", "*")
	var out, errOut syncBuffer
	a := &app{stdout: &out, stderr: &errOut, env: mapEnv(nil), stdin: strings.NewReader("Bearer " + tok + "\n")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := a.run(ctx, []string{"token", "check", "--jwt-key", checkKey, "-"}); code != exitOK {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut.String(), out.String())
	}
	wantLine(t, out.String(), `(the "Bearer " prefix was removed)`)
	wantLine(t, out.String(), "subscriber: accepted")
	wantLine(t, out.String(), "  note: no publish topic is granted, so every publish gets 403")
}

func TestTokenCheckFlagsAfterToken(t *testing.T) {
	tok := mintForTest(t, checkKey, "--publish", "*")
	code, out, errOut := checkOut(t, nil, tok, "--jwt-key", checkKey, "--role", "publisher")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	wantLine(t, out, "publisher: accepted")
}

func TestTokenCheckUndecodableToken(t *testing.T) {
	code, out, _ := checkOut(t, nil, "--jwt-key", checkKey, "abc")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	wantLine(t, out, "cannot decode the token: 1 segments, want 3 (header.claims.signature)")
	wantLine(t, out, "publisher: refused (401 invalid_token): malformed: token contains an invalid number of segments")

	code, out, _ = checkOut(t, nil, "--jwt-key", checkKey, "--role", "subscriber", "a b.c.d")
	if code != exitFailure || !strings.Contains(out, "subscriber: refused (400 invalid_request): ") {
		t.Errorf("token with a space: exit %d\n%s", code, out)
	}
}

// A hostile token cannot put control characters on the terminal.
func TestTokenCheckEscapesControlCharacters(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	tok := b64([]byte("{\"alg\":\"HS256\",\"x\u0085\":\"\u009b31m\"}")) + "." +
		b64([]byte(`{"iss":"\u001b[2J","mercure":{"publish":["\u0007"]}}`)) + "." + b64([]byte("sig"))
	_, out, _ := checkOut(t, nil, "--jwt-key", checkKey, tok)
	if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) {
		t.Errorf("control character in output: %q", out)
	}
	if !strings.Contains(out, `\u001b[2J`) || !strings.Contains(out, `\u009b31m`) {
		t.Errorf("escaped values not shown:\n%s", out)
	}
}

func TestTokenCheckUsage(t *testing.T) {
	tok := mintForTest(t, checkKey, "--publish", "*")
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{tok}, "no key to check the token with"},
		{nil, []string{"--jwt-key", checkKey}, "missing TOKEN"},
		{nil, []string{"--jwt-key", checkKey, tok, "extra"}, `unexpected argument "extra"`},
		{nil, []string{"--jwt-key", checkKey, "--role", "admin", tok}, `--role: invalid role "admin"`},
		{nil, []string{"--jwt-key", checkKey, "--jwt-alg", "none", tok}, `--jwt-alg: unsupported algorithm "none"`},
		{map[string]string{"HERMES_JWT_ALG": "HS1"}, []string{"--jwt-key", checkKey, tok}, `--jwt-alg (from HERMES_JWT_ALG): unsupported algorithm "HS1"`},
		{nil, []string{"--jwt-key", checkKey, "--resource-id", "hub.example.com", tok}, `--resource-id: invalid URL "hub.example.com"`},
		{map[string]string{"HERMES_JWKS_URL": "ftp://x"}, []string{tok}, `--jwks-url (from HERMES_JWKS_URL): invalid URL "ftp://x"`},
		{nil, []string{"--jwt-key", "@/nonexistent/key", tok}, "--jwt-key: cannot read key file"},
		{nil, []string{"--jwt-key", checkKey, "--jwt-alg", "RS256", tok}, "token settings"},
		{nil, []string{"--jwt-key", checkKey, "   "}, "the token is empty"},
		{nil, []string{"--nope", tok}, "flag provided but not defined: -nope"},
	} {
		code, out, errOut := checkOut(t, tc.env, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and %q", tc.args, code, errOut, out, tc.want)
		}
	}
	code, out, _ := checkOut(t, nil, "-h")
	if code != exitOK || !strings.HasPrefix(out, "Usage: hermes token check") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
	for _, name := range checkSettings {
		if !strings.Contains(out, "--"+name+" ") {
			t.Errorf("-h does not list --%s", name)
		}
	}
}

// Every serve setting check reads exists in serve, so that check reads the
// same flags and variables.
func TestTokenCheckSettingsAreServeOptions(t *testing.T) {
	for _, name := range append([]string{"addr"}, checkSettings...) {
		if _, ok := findServeOption(name); !ok {
			t.Errorf("no serve option %q", name)
		}
	}
}

func FuzzParseTokenCheck(f *testing.F) {
	f.Add("--jwt-key\x00k\x00TOKEN", "")
	f.Add("TOKEN\x00--role\x00publisher\x00--jwt-key\x00@x", "")
	f.Add("--\x00-x", "HERMES_JWT_KEY")
	f.Add("--role=both\x00--resource-id\x00http://h/", "MERCURE_SUBSCRIBER_JWT_KEY")
	f.Fuzz(func(t *testing.T, joined, envName string) {
		args := strings.Split(joined, "\x00")
		if len(args) > 20 {
			return
		}
		c, err := parseTokenCheck(args, mapEnv(map[string]string{envName: "secret"}))
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("not a usage error: %v", err)
			}
			return
		}
		if c.token == "" && len(c.roles) == 0 {
			t.Fatal("parsed without a token or roles")
		}
		if !c.publisherKey.given() && !c.subscriberKey.given() && c.jwksURL == "" {
			t.Fatal("parsed without any key")
		}
	})
}

// FuzzTokenCheckOutput: whatever the token, check ends with 0, 1 or 2 and
// prints no control character.
func FuzzTokenCheckOutput(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	f.Add(b64([]byte(`{"alg":"HS256"}`)) + "." + b64([]byte(`{"exp":"12","authorization_details":[{"a":1}]}`)) + ".x")
	f.Add("a.b.c")
	f.Add("A0..") // a header of raw control bytes
	f.Add(b64([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64([]byte(`{"nbf":1e300}`)) + ".")
	f.Fuzz(func(t *testing.T, tok string) {
		if len(tok) > auth.MaxInspectBytes {
			return
		}
		var out, errOut syncBuffer
		a := &app{stdout: &out, stderr: &errOut, env: mapEnv(nil)}
		code := a.run(context.Background(), []string{"token", "check", "--jwt-key", checkKey, "--", tok})
		if code != exitOK && code != exitFailure && code != exitUsage {
			t.Fatalf("exit %d", code)
		}
		if strings.ContainsFunc(out.String(), func(r rune) bool { return r != '\n' && unicode.IsControl(r) }) {
			t.Fatalf("control character in output: %q", out.String())
		}
	})
}
