package main

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, env map[string]string, args ...string) *serveConfig {
	t.Helper()
	c, err := parseServe(args, mapEnv(env))
	if err != nil {
		t.Fatalf("parseServe(%q): %v", args, err)
	}
	return c
}

func TestServeDefaults(t *testing.T) {
	c := mustParse(t, nil)
	if c.Addr != "localhost:3000" {
		t.Errorf("Addr = %q, want localhost:3000", c.Addr)
	}
	if c.Heartbeat != 15*time.Second || c.WriteTimeout != 10*time.Minute {
		t.Errorf("Heartbeat, WriteTimeout = %v, %v; want 15s, 10m", c.Heartbeat, c.WriteTimeout)
	}
	if c.Transport.kind != "bolt" || c.Transport.url != "bolt://hermes.db" {
		t.Errorf("Transport = %+v, want bolt://hermes.db", c.Transport)
	}
	if want := []string{"mercureAuthorization", "__Secure-mercure_access_token"}; !slices.Equal(c.CookieNames, want) {
		t.Errorf("CookieNames = %q, want %q", c.CookieNames, want)
	}
	if c.Anonymous || c.Dev || c.PublisherKey.given() || c.SubscriberKey.given() {
		t.Errorf("unexpected non-default: %+v", c)
	}
	if c.Lease != 15*time.Second {
		t.Errorf("Lease = %v, want 15s", c.Lease)
	}
	if c.LogLevel != slog.LevelInfo || c.LogFormat != "text" {
		t.Errorf("log = %v/%s, want info/text", c.LogLevel, c.LogFormat)
	}
	if len(c.CORSOrigins) != 0 || len(c.PublishOrigins) != 0 {
		t.Errorf("origins = %q / %q, want none", c.CORSOrigins, c.PublishOrigins)
	}
}

// Every flag is read from HERMES_<FLAG> when it is not on the command line.
func TestServeEnvFillsEveryFlag(t *testing.T) {
	values := map[string]string{
		"addr": "127.0.0.1:4000", "jwt-key": "k", "publisher-jwt-key": "p", "subscriber-jwt-key": "s",
		"jwt-alg": "HS512", "publisher-jwt-alg": "HS384", "subscriber-jwt-alg": "HS256", "jwks-url": "https://idp.example/jwks", "issuer": "https://idp.example",
		"resource-id": "https://hub.example/.well-known/mercure", "anonymous": "true", "subscriptions": "true",
		"cors-origins": "https://a.example, https://b.example", "publish-origins": "https://a.example",
		"transport": "memory://?size=7", "heartbeat": "3s", "write-timeout": "1m",
		"cookie-name": "c1,c2", "dev": "1", "log-level": "debug", "log-format": "json",
		"shutdown-drain": "2s", "max-subscribers": "100", "max-subscribers-per-client": "10",
		"max-body": "64KiB", "queue-bytes": "2MiB", "admin-addr": "127.0.0.1:9090", "pprof": "true",
		"ui":               "true",
		"lease":            "4s",
		"max-matcher-cost": "12345",
		"tls-cert":         "c.pem", "tls-key": "k.pem", "tls-reload-interval": "1m", "http-redirect-addr": ":80",
	}
	// The ACME flags exclude --tls-cert; TestTLSFlags reads them from the
	// environment.
	acmeFlags := []string{"acme-domains", "acme-cache", "acme-ca", "acme-ca-root", "acme-email"}
	env := map[string]string{}
	for _, o := range serveOptions {
		if slices.Contains(acmeFlags, o.name) {
			continue
		}
		v, ok := values[o.name]
		if !ok {
			t.Fatalf("test misses a value for --%s", o.name)
		}
		env[envName(o.name)] = v
	}
	c := mustParse(t, env)
	for _, o := range serveOptions {
		if !c.explicit[o.name] && !slices.Contains(acmeFlags, o.name) {
			t.Errorf("--%s not marked as given from %s", o.name, envName(o.name))
		}
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", c.Addr, "127.0.0.1:4000"},
		{"publisher key", c.PublisherKey.value, "p"},
		{"subscriber key", c.SubscriberKey.value, "s"},
		{"publisher alg", c.PublisherAlg, "HS384"},
		{"subscriber alg", c.SubscriberAlg, "HS256"},
		{"jwks-url", c.JWKSURL, "https://idp.example/jwks"},
		{"issuer", c.Issuer, "https://idp.example"},
		{"resource-id", c.ResourceID, "https://hub.example/.well-known/mercure"},
		{"anonymous", c.Anonymous, true},
		{"cors-origins", strings.Join(c.CORSOrigins, "|"), "https://a.example|https://b.example"},
		{"publish-origins", strings.Join(c.PublishOrigins, "|"), "https://a.example"},
		{"transport size", c.Transport.memory.Size, 7},
		{"heartbeat", c.Heartbeat, 3 * time.Second},
		{"write-timeout", c.WriteTimeout, time.Minute},
		{"cookie-name", strings.Join(c.CookieNames, "|"), "c1|c2"},
		{"dev", c.Dev, true},
		{"log-level", c.LogLevel, slog.LevelDebug},
		{"log-format", c.LogFormat, "json"},
		{"shutdown-drain", c.ShutdownDrain, 2 * time.Second},
		{"max-subscribers", c.MaxSubscribers, 100},
		{"max-subscribers-per-client", c.MaxSubscribersPerClient, 10},
		{"max-body", c.MaxBody, int64(64 << 10)},
		{"queue-bytes", c.QueueBytes, 2 << 20},
		{"admin-addr", c.AdminAddr, "127.0.0.1:9090"},
		{"pprof", c.PProf, true},
		{"ui", c.UI, true},
		{"lease", c.Lease, 4 * time.Second},
		{"max-matcher-cost", c.MaxMatcherCost, 12345},
		{"tls-cert", c.TLS.CertFile, "c.pem"},
		{"tls-key", c.TLS.KeyFile, "k.pem"},
		{"tls-reload-interval", c.TLS.ReloadInterval, time.Minute},
		{"http-redirect-addr", c.TLS.RedirectAddr, ":80"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestServeFlagWinsOverEnv(t *testing.T) {
	env := map[string]string{"HERMES_ADDR": "127.0.0.1:1", "HERMES_HEARTBEAT": "1s", "HERMES_ANONYMOUS": "true"}
	c := mustParse(t, env, "--addr", "127.0.0.1:2", "-heartbeat=2s", "--anonymous=false")
	if c.Addr != "127.0.0.1:2" || c.Heartbeat != 2*time.Second || c.Anonymous {
		t.Errorf("got addr %q heartbeat %v anonymous %v; the flags should win", c.Addr, c.Heartbeat, c.Anonymous)
	}
	// And the environment still fills the flags that were not given.
	c = mustParse(t, env, "--addr", "127.0.0.1:2")
	if c.Heartbeat != time.Second || !c.Anonymous {
		t.Errorf("got heartbeat %v anonymous %v; the env should fill unset flags", c.Heartbeat, c.Anonymous)
	}
}

func TestServeEmptyEnvIsUnset(t *testing.T) {
	c := mustParse(t, map[string]string{"HERMES_ADDR": "", "HERMES_JWT_KEY": ""})
	if c.Addr != "localhost:3000" || c.PublisherKey.given() || c.explicit["addr"] {
		t.Errorf("empty variables should count as unset: addr %q, key given %v", c.Addr, c.PublisherKey.given())
	}
}

func TestServeRoleKeyPrecedence(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantPub       string
		wantPubSource string
		wantSub       string
	}{
		{"jwt-key flag covers both roles", []string{"--jwt-key", "shared"}, nil, "shared", "--jwt-key", "shared"},
		{"role flag beats jwt-key flag", []string{"--jwt-key", "shared", "--publisher-jwt-key", "pub"}, nil, "pub", "--publisher-jwt-key", "shared"},
		{"any flag beats any env", []string{"--jwt-key", "flag"},
			map[string]string{"HERMES_PUBLISHER_JWT_KEY": "env-pub", "MERCURE_SUBSCRIBER_JWT_KEY": "m-sub"}, "flag", "--jwt-key", "flag"},
		{"HERMES_JWT_KEY covers both roles", nil, map[string]string{"HERMES_JWT_KEY": "e"}, "e", "HERMES_JWT_KEY", "e"},
		{"role env beats HERMES_JWT_KEY", nil,
			map[string]string{"HERMES_JWT_KEY": "e", "HERMES_SUBSCRIBER_JWT_KEY": "es"}, "e", "HERMES_JWT_KEY", "es"},
		{"MERCURE_ variables are read", nil,
			map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "mp", "MERCURE_SUBSCRIBER_JWT_KEY": "ms"}, "mp", "MERCURE_PUBLISHER_JWT_KEY", "ms"},
		{"HERMES_ beats MERCURE_", nil,
			map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "mp", "HERMES_PUBLISHER_JWT_KEY": "hp", "HERMES_JWT_KEY": "h", "MERCURE_SUBSCRIBER_JWT_KEY": "ms"},
			"hp", "HERMES_PUBLISHER_JWT_KEY", "h"},
		{"no key", nil, nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.env, tt.args...)
			if c.PublisherKey.value != tt.wantPub || c.PublisherKey.source != tt.wantPubSource {
				t.Errorf("publisher key = %q from %q, want %q from %q", c.PublisherKey.value, c.PublisherKey.source, tt.wantPub, tt.wantPubSource)
			}
			if c.SubscriberKey.value != tt.wantSub {
				t.Errorf("subscriber key = %q, want %q", c.SubscriberKey.value, tt.wantSub)
			}
		})
	}
}

func TestServeRoleAlgPrecedence(t *testing.T) {
	c := mustParse(t, map[string]string{"HERMES_JWT_ALG": "RS256", "MERCURE_SUBSCRIBER_JWT_ALG": "ES256"})
	if c.PublisherAlg != "RS256" || c.SubscriberAlg != "RS256" {
		t.Errorf("algs = %q/%q, want HERMES_JWT_ALG (RS256) to beat MERCURE_SUBSCRIBER_JWT_ALG", c.PublisherAlg, c.SubscriberAlg)
	}
	c = mustParse(t, map[string]string{"MERCURE_SUBSCRIBER_JWT_ALG": "ES256"}, "--publisher-jwt-alg", "EdDSA")
	if c.PublisherAlg != "EdDSA" || c.SubscriberAlg != "ES256" {
		t.Errorf("algs = %q/%q, want EdDSA/ES256", c.PublisherAlg, c.SubscriberAlg)
	}
	c = mustParse(t, map[string]string{"HERMES_PUBLISHER_JWT_ALG": "ES384"}, "--jwt-alg", "PS256")
	if c.PublisherAlg != "PS256" || c.SubscriberAlg != "PS256" {
		t.Errorf("algs = %q/%q, want the --jwt-alg flag to beat the environment", c.PublisherAlg, c.SubscriberAlg)
	}
}

// A bad value stops start-up with exit code 2 and a message naming the
// flag, and the variable when the value came from the environment.
func TestServeBadValueNamesTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--heartbeat", "x"}, nil, `hermes: --heartbeat: invalid duration "x"`},
		{nil, map[string]string{"HERMES_HEARTBEAT": "x"}, `hermes: --heartbeat (from HERMES_HEARTBEAT): invalid duration "x"`},
		{[]string{"--write-timeout", "-1s"}, nil, `hermes: --write-timeout: invalid duration "-1s" (must not be negative; 0 disables)`},
		{[]string{"--addr", "nocolon"}, nil, `hermes: --addr: invalid address "nocolon" (want HOST:PORT)`},
		{[]string{"--lease", "10ms"}, nil, `hermes: --lease: invalid duration "10ms" (want 300ms or more, such as 15s)`},
		{[]string{"--anonymous=maybe"}, nil, `hermes: --anonymous: invalid boolean "maybe"`},
		{nil, map[string]string{"HERMES_DEV": "yes please"}, `hermes: --dev (from HERMES_DEV): invalid boolean "yes please"`},
		{[]string{"--log-level", "loud"}, nil, `hermes: --log-level: invalid level "loud" (want debug, info, warn or error)`},
		{[]string{"--log-format", "xml"}, nil, `hermes: --log-format: invalid format "xml" (want text or json)`},
		{[]string{"--transport", "ftp://x"}, nil, `hermes: --transport: unsupported transport "ftp://" (want bolt://, memory:// or redis://)`},
		{[]string{"--transport", "redis://localhost:6379/0?size=x"}, nil, `hermes: --transport: invalid transport URL "redis://localhost:6379/0?size=x": redis: transport URL parameter size="x": want a number of events`},
		{[]string{"--transport", "redis://:s3cret@localhost:99999"}, nil, `hermes: --transport: invalid transport URL "redis://:xxxxx@localhost:99999": redis: address "localhost:99999": bad port`},
		{[]string{"--transport", "redis+sentinel://s1:26379,s2:26379/0"}, nil, `hermes: --transport: invalid transport URL "redis+sentinel://s1:26379,s2:26379/0": redis: a redis+sentinel:// URL needs master=NAME`},
		{[]string{"--transport", "redis://localhost/0?stream=a{b}"}, nil, `hermes: --transport: invalid transport URL "redis://localhost/0?stream=a{b}": redis: stream name "a{b}": use letters, digits and - _ . : only`},
		{[]string{"--transport", "memory://?size=-3"}, nil, `hermes: --transport: invalid size "-3" in "memory://?size=-3" (want a non-negative integer)`},
		{[]string{"--transport", "hermes.db"}, nil, `hermes: --transport: invalid transport URL "hermes.db" (want bolt://PATH or memory://)`},
		{[]string{"--cookie-name", " , "}, nil, `hermes: --cookie-name: at least one cookie name is required`},
		{[]string{"--cookie-name", "a b"}, nil, `hermes: --cookie-name: invalid cookie name "a b"`},
		{[]string{"--cors-origins", "example.com"}, nil, `hermes: --cors-origins: invalid origin "example.com" (want scheme://host[:port] or *)`},
		{[]string{"--publish-origins", "https://a.example/path"}, nil, `hermes: --publish-origins: invalid origin "https://a.example/path" (want scheme://host[:port] or *)`},
		{[]string{"--jwks-url", "file:///etc/passwd"}, nil, `hermes: --jwks-url: invalid URL "file:///etc/passwd" (want http:// or https://)`},
		{[]string{"--resource-id", "/relative"}, nil, `hermes: --resource-id: invalid URL "/relative" (want an absolute http:// or https:// URL)`},
		{[]string{"--jwt-alg", "none"}, nil, `hermes: --jwt-alg: unsupported algorithm "none"`},
		{[]string{"--jwt-alg", "hs256"}, nil, `hermes: --jwt-alg: unsupported algorithm "hs256"`},
		{nil, map[string]string{"MERCURE_PUBLISHER_JWT_ALG": "HS1"}, `hermes: --publisher-jwt-alg (from MERCURE_PUBLISHER_JWT_ALG): unsupported algorithm "HS1"`},
		{[]string{"--jwt-key", "@"}, nil, `hermes: --jwt-key: "@" must be followed by a file path`},
		{[]string{"--no-such-flag"}, nil, `hermes: serve: flag provided but not defined: -no-such-flag`},
		{[]string{"stray"}, nil, `hermes: serve: unexpected argument "stray"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			// A valid key, so that only the value under test is wrong.
			env := map[string]string{"HERMES_JWT_KEY": "secret", "HERMES_TRANSPORT": "memory://"}
			for k, v := range tt.env {
				env[k] = v
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)
			if tt.args != nil && tt.args[0] == "--addr" {
				args = append([]string{"serve"}, tt.args...)
			}
			code, stdout, stderr := runApp(t, env, args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to start with %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "listening on") || stdout != "" {
				t.Errorf("the hub started despite the bad value; stdout %q stderr %q", stdout, stderr)
			}
		})
	}
}

// Several mistakes are all reported, one line each.
func TestServeReportsEveryBadValue(t *testing.T) {
	code, _, stderr := runApp(t, nil, "serve", "--log-format", "xml", "--dev=maybe", "--heartbeat", "x")
	if code != exitUsage {
		t.Fatalf("exit code = %d, want 2", code)
	}
	got := lines(stderr)
	want := []string{ // in the order of the usage text
		`hermes: --heartbeat: invalid duration "x"`,
		`hermes: --dev: invalid boolean "maybe"`,
		`hermes: --log-format: invalid format "xml" (want text or json)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("stderr lines = %q, want %q", got, want)
	}
}

func TestServeRefusesToStartWithoutKey(t *testing.T) {
	code, stdout, stderr := runApp(t, map[string]string{"MERCURE_JWT_SECRET": "not ours"},
		"serve", "--addr", "127.0.0.1:0", "--transport", "memory://")
	if code != exitUsage {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr, "--jwt-key") || !strings.HasPrefix(stderr, "hermes: ") {
		t.Errorf("stderr = %q, want a hermes: message naming --jwt-key", stderr)
	}
	if strings.Contains(stderr, "listening on") || stdout != "" {
		t.Errorf("the hub started without a key")
	}
}

func TestServeMissingKeyFileNamesTheFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.pem")
	code, _, stderr := runApp(t, map[string]string{"HERMES_SUBSCRIBER_JWT_KEY": "@" + missing},
		"serve", "--addr", "127.0.0.1:0", "--transport", "memory://", "--publisher-jwt-key", "p")
	if code != exitUsage {
		t.Errorf("exit code = %d, want 2", code)
	}
	want := "hermes: --subscriber-jwt-key (from HERMES_SUBSCRIBER_JWT_KEY): cannot read key file"
	if !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr = %q, want prefix %q", stderr, want)
	}
}

func TestServeZeroDurationDisables(t *testing.T) {
	c := mustParse(t, nil, "--heartbeat", "0", "--write-timeout", "0s")
	// In hub.Config terms zero means "default", so disabling is negative.
	if c.Heartbeat >= 0 || c.WriteTimeout >= 0 {
		t.Errorf("Heartbeat, WriteTimeout = %v, %v; want both negative (disabled)", c.Heartbeat, c.WriteTimeout)
	}
}

func TestServeHelpListsEveryFlagAndVariable(t *testing.T) {
	code, stdout, _ := runApp(t, nil, "serve", "-h")
	if code != exitOK {
		t.Errorf("exit code = %d, want 0", code)
	}
	for _, o := range serveOptions {
		for _, want := range append([]string{"--" + o.name}, o.envVars()...) {
			if !strings.Contains(stdout, want) {
				t.Errorf("serve -h does not mention %s", want)
			}
		}
	}
	if !strings.Contains(stdout, "MERCURE_PUBLISHER_JWT_KEY") {
		t.Errorf("serve -h does not mention MERCURE_PUBLISHER_JWT_KEY")
	}
}

func TestParseTransport(t *testing.T) {
	tests := []struct {
		in       string
		wantKind string
		wantSize int
		wantErr  bool
	}{
		{"memory://", "memory", 0, false},
		{"memory://?size=100", "memory", 100, false},
		{"MEMORY://", "memory", 0, false},
		{"memory://?size=x", "", 0, true},
		{"memory://?other=1", "", 0, true},
		{"memory://?size=1&size=2", "", 0, true},
		{"memory://host", "", 0, true},
		{"redis://localhost", "redis", 0, false},
		{"rediss://u:p@cache.example:6380/2?stream=prod&size=100000&max_age=24h", "redis", 0, false},
		{"redis+sentinel://s1,s2:26380/1?master=mymaster", "redis", 0, false},
		{"redis://localhost/x", "", 0, true},
		{"redis://localhost?master=m", "", 0, true},
		{"redis://localhost?unknown=1", "", 0, true},
		{"redis://", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		spec, err := parseTransport(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseTransport(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (spec.kind != tt.wantKind || spec.memory.Size != tt.wantSize) {
			t.Errorf("parseTransport(%q) = %+v, want kind %s size %d", tt.in, spec, tt.wantKind, tt.wantSize)
		}
	}
}

func TestParseTransportBolt(t *testing.T) {
	spec, err := parseTransport("bolt:///data/hermes.db")
	if err != nil {
		t.Fatal(err)
	}
	if spec.kind != "bolt" || spec.boltPath == "" {
		t.Errorf("parseTransport(bolt:///data/hermes.db) = %+v, want a bolt spec with a path", spec)
	}
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return "@" + p
	}
	pem := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{"literal secret", "!ChangeMe!", "!ChangeMe!", false},
		{"literal PEM", pem, pem, false},
		{"secret file loses its newline", write("s", "secret\n"), "secret", false},
		{"CRLF too", write("crlf", "secret\r\n"), "secret", false},
		{"only one newline goes", write("two", "secret\n\n"), "secret\n", false},
		{"PEM file is kept as is", write("k.pem", pem), pem, false},
		{"empty file", write("empty", "\n"), "", true},
		{"missing file", "@" + filepath.Join(dir, "nope"), "", true},
		{"empty value", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readKey(tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("readKey error = %v, want error %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("readKey = %q, want %q", got, tt.want)
			}
		})
	}
	big := write("big", strings.Repeat("a", maxKeyFileBytes+1))
	if _, err := readKey(big); err == nil {
		t.Errorf("readKey accepted a file over %d bytes", maxKeyFileBytes)
	}
}

func TestDisplayHostPort(t *testing.T) {
	tests := []struct {
		configured, bound, want string
	}{
		{"127.0.0.1:0", "127.0.0.1:43210", "127.0.0.1:43210"},
		{"localhost:3000", "127.0.0.1:3000", "localhost:3000"},
		{":3000", "[::]:3000", "localhost:3000"},
		{"0.0.0.0:0", "0.0.0.0:5555", "localhost:5555"},
		{"[::1]:0", "[::1]:6666", "[::1]:6666"},
	}
	for _, tt := range tests {
		bound, err := netResolve(tt.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := displayHostPort(tt.configured, bound); got != tt.want {
			t.Errorf("displayHostPort(%q, %s) = %q, want %q", tt.configured, tt.bound, got, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	code, stdout, _ := runApp(t, nil, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "hermes ") {
		t.Errorf("version: code %d, stdout %q", code, stdout)
	}
	code, _, stderr := runApp(t, nil, "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runApp(t, nil)
	if code != exitUsage || !strings.Contains(stderr, "Usage: hermes") {
		t.Errorf("no command: code %d, stderr %q", code, stderr)
	}
	if _, err := parseServe([]string{"--help"}, mapEnv(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseServe(--help) = %v, want flag.ErrHelp", err)
	}
}
