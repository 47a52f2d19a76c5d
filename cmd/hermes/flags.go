package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/transport/bolt"
	"github.com/hermes-hub/hermes/transport/memory"
	"github.com/hermes-hub/hermes/transport/redis"
)

// lookupEnv reads one environment variable; os.LookupEnv in production, a
// map in tests, so that parsing stays a pure function of its inputs.
type lookupEnv func(key string) (string, bool)

// option describes one `serve` setting: its flag, the environment variables
// that fill it when the flag is absent (first found wins), and its default.
type option struct {
	name   string // flag name, without dashes
	arg    string // placeholder shown in the usage text; empty for booleans
	def    string
	usage  string
	isBool bool
	// aliases are read after HERMES_<NAME>, so that the reference hub's
	// variable names keep working in existing Docker setups.
	aliases []string
}

// envName is the HERMES_ variable of a flag: upper snake case.
func envName(flagName string) string {
	return "HERMES_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envVars lists the variables read for o, highest precedence first.
func (o option) envVars() []string {
	return append([]string{envName(o.name)}, o.aliases...)
}

const defaultTransport = "bolt://hermes.db"

// serveOptions is the single table behind the flag set, the environment
// lookup and the usage text, so the three cannot drift apart.
var serveOptions = []option{
	{name: "addr", arg: "HOST:PORT", def: "localhost:3000", usage: "address to listen on (port 0 picks a free port)"},
	{name: "tls-cert", arg: "FILE", usage: "certificate chain (PEM) to serve HTTPS and HTTP/2 with; reloaded when the file changes and on SIGHUP"},
	{name: "tls-key", arg: "FILE", usage: "private key (PEM) of --tls-cert"},
	{name: "tls-reload-interval", arg: "DURATION", def: "10s", usage: "how often --tls-cert and --tls-key are checked for a new certificate (0: only on SIGHUP)"},
	{name: "acme-domains", arg: "LIST", usage: "comma-separated host names to get certificates for from an ACME CA (Let's Encrypt by default), accepting its terms of service"},
	{name: "acme-cache", arg: "DIR", usage: "directory keeping the ACME account and certificates across restarts (default: the user's cache directory, hermes/acme)"},
	{name: "acme-ca", arg: "URL", def: defaultACMECA, usage: "directory URL of the ACME CA"},
	{name: "acme-ca-root", arg: "FILE", usage: "PEM root certificates to trust for the ACME CA's own HTTPS (a private CA)"},
	{name: "acme-email", arg: "EMAIL", usage: "contact address given to the ACME CA (expiry notices)"},
	{name: "http-redirect-addr", arg: "HOST:PORT", usage: "plain-HTTP listener redirecting to HTTPS and answering ACME HTTP-01 challenges (empty: none)"},
	{name: "jwt-key", arg: "KEY", usage: "key verifying publisher and subscriber tokens: a secret, PEM text, or @FILE"},
	{name: "publisher-jwt-key", arg: "KEY", usage: "key verifying publisher tokens (overrides --jwt-key)", aliases: []string{"MERCURE_PUBLISHER_JWT_KEY"}},
	{name: "subscriber-jwt-key", arg: "KEY", usage: "key verifying subscriber tokens (overrides --jwt-key)", aliases: []string{"MERCURE_SUBSCRIBER_JWT_KEY"}},
	{name: "jwt-alg", arg: "ALG", usage: "the one algorithm the keys accept (default HS256 for a secret; required for a PEM key)"},
	{name: "publisher-jwt-alg", arg: "ALG", usage: "algorithm of the publisher key (overrides --jwt-alg)", aliases: []string{"MERCURE_PUBLISHER_JWT_ALG"}},
	{name: "subscriber-jwt-alg", arg: "ALG", usage: "algorithm of the subscriber key (overrides --jwt-alg)", aliases: []string{"MERCURE_SUBSCRIBER_JWT_ALG"}},
	{name: "jwks-url", arg: "URL", usage: "JWKS endpoint to fetch verification keys from (kid selects the key)"},
	{name: "issuer", arg: "ISS", usage: "iss that draft-08 tokens must carry; without it draft-08 tokens are refused"},
	{name: "resource-id", arg: "URL", usage: "aud that draft-08 tokens must contain, the public hub URL; without it draft-08 tokens are refused (--dev: the listen address's hub URL)"},
	{name: "anonymous", isBool: true, def: "false", usage: "let subscribers without a token receive public updates"},
	{name: "subscriptions", isBool: true, def: "false", usage: "publish subscription events and serve the subscription API (/.well-known/mercure/subscriptions)"},
	{name: "cors-origins", arg: "LIST", usage: "comma-separated origins allowed to subscribe from browsers with credentials (* : any, without credentials)"},
	{name: "publish-origins", arg: "LIST", usage: "comma-separated origins allowed to publish with a cookie (CSRF guard)"},
	{name: "transport", arg: "URL", def: defaultTransport, usage: "history store: bolt://PATH[?size=N&max_age=D], memory://[?size=N] or redis://[USER:PASSWORD@]HOST:PORT/DB[?stream=NAME&size=N&max_age=D&state_size=N] (rediss:// for TLS, redis+sentinel://HOST:PORT,...?master=NAME for Sentinel)"},
	{name: "heartbeat", arg: "DURATION", def: "15s", usage: "idle time after which a comment keeps streams alive (0 disables)"},
	{name: "write-timeout", arg: "DURATION", def: "10m", usage: "longest life of a stream before the hub ends it, jittered (0 disables)"},
	{name: "shutdown-drain", arg: "DURATION", def: "5s", usage: "on SIGTERM, window over which open streams are ended at random moments (0: all at once)"},
	{name: "max-subscribers", arg: "N", def: "0", usage: "most open streams in total; more get 429 with Retry-After (0: unlimited)"},
	{name: "max-subscribers-per-client", arg: "N", def: "0", usage: "most open streams per client address (IPv6: per /64; behind a proxy, the proxy's) (0: unlimited)"},
	{name: "max-body", arg: "BYTES", def: "1MiB", usage: "largest publish (and QUERY) body; larger get 413 (N, NKiB, NMiB)"},
	{name: "queue-bytes", arg: "BYTES", def: "1MiB", usage: "most bytes waiting for one subscriber; a slower subscriber is disconnected (N, NKiB, NMiB)"},
	{name: "max-matcher-cost", arg: "N", def: "4000000", usage: "most cost units (~15 bytes of compiled program, ~10 ns per evaluation) of the distinct URI template and URL pattern matchers of all streams; past it 503"},
	{name: "admin-addr", arg: "HOST:PORT", usage: "address of the admin listener serving /metrics, /healthz and /readyz (empty: none)"},
	{name: "pprof", isBool: true, def: "false", usage: "serve /debug/pprof/ on the admin listener"},
	{name: "cookie-name", arg: "LIST", def: auth.LegacyCookieName + "," + auth.ModernCookieName, usage: "comma-separated cookies read for a token when no Authorization header is sent"},
	{name: "ui", isBool: true, def: "false", usage: "serve the debug UI at /.well-known/mercure/ui/ (subscribe, publish, subscriptions, token check; on with --dev)"},
	{name: "dev", isBool: true, def: "false", usage: "development mode: random key, printed tokens, anonymous subscribers, localhost CORS"},
	{name: "log-level", arg: "LEVEL", def: "info", usage: "debug, info, warn or error"},
	{name: "log-format", arg: "FORMAT", def: "text", usage: "text or json"},
	{name: "lease", arg: "DURATION", def: "15s", usage: "with a redis:// transport and --subscriptions: a node that stops renewing (dies) has its subscriptions unlisted and announced ended within this time"},
}

// rawValue is a setting as given, before conversion, with where it came
// from so that error messages can point at the right flag or variable.
type rawValue struct {
	value  string
	source string // "--heartbeat", "HERMES_HEARTBEAT", or "" for a default
}

// describe names the origin of a value for an error message. Values from
// the environment name both the variable and the flag it stands for.
func (r rawValue) describe(flagName string) string {
	if r.source == "" || strings.HasPrefix(r.source, "--") {
		return "--" + flagName
	}
	return "--" + flagName + " (from " + r.source + ")"
}

// stringValue collects a flag's text as given; conversion happens later, in
// one place, so messages look alike whatever the flag type.
type stringValue struct {
	s      *string
	isBool bool
}

func (v stringValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}
func (v stringValue) Set(s string) error { *v.s = s; return nil }
func (v stringValue) IsBoolFlag() bool   { return v.isBool }

// keySpec is a key setting not read yet: a literal secret, PEM text, or
// @path. Reading files is left to loadKey so that parsing does no I/O.
type keySpec struct {
	rawValue
	flag string
}

func (k keySpec) given() bool { return k.source != "" }

// transportSpec is a parsed --transport URL.
type transportSpec struct {
	url      string
	kind     string // "memory", "bolt" or "redis"
	memory   memory.Options
	boltPath string
	bolt     bolt.Options
	redis    redis.Options
}

// serveConfig is every `serve` setting, converted and checked.
type serveConfig struct {
	Addr           string
	TLS            tlsSettings
	PublisherKey   keySpec
	SubscriberKey  keySpec
	PublisherAlg   string
	SubscriberAlg  string
	JWKSURL        string
	Issuer         string
	ResourceID     string
	Anonymous      bool
	Subscriptions  bool
	CORSOrigins    []string
	PublishOrigins []string
	Transport      transportSpec
	// Heartbeat and WriteTimeout are in hub.Config terms: negative disables.
	Heartbeat    time.Duration
	WriteTimeout time.Duration
	// ShutdownDrain is the window streams end in on shutdown; 0: at once.
	ShutdownDrain time.Duration
	// Limits, in hub.Config terms (0: unlimited for the subscriber counts).
	MaxSubscribers          int
	MaxSubscribersPerClient int
	MaxBody                 int64
	QueueBytes              int
	MaxMatcherCost          int
	// AdminAddr is the admin listener's address; empty: none.
	AdminAddr string
	PProf     bool
	// UI serves the debug page on the public listener.
	UI          bool
	CookieNames []string
	Dev         bool
	LogLevel    slog.Level
	LogFormat   string
	// Lease is how long a node's subscriptions stay listed in Redis after
	// its last renewal.
	Lease time.Duration

	// explicit records which settings were given (by flag or env), so that
	// --dev only fills in what the user left open.
	explicit map[string]bool
}

// usageError is a mistake in the command line or environment: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// parseServe resolves every serve setting: a flag given on the command line
// wins, the environment fills what is left, defaults fill the rest. It does
// no I/O. flag.ErrHelp is returned for -h.
func parseServe(args []string, env lookupEnv) (*serveConfig, error) {
	fs := flag.NewFlagSet("hermes serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	given := make(map[string]*string, len(serveOptions))
	for _, o := range serveOptions {
		s := new(string)
		given[o.name] = s
		fs.Var(stringValue{s: s, isBool: o.isBool}, o.name, o.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErrorf("serve: %v (see hermes serve -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, usageErrorf("serve: unexpected argument %q (see hermes serve -h)", fs.Arg(0))
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	raw := make(map[string]rawValue, len(serveOptions))
	for _, o := range serveOptions {
		if onCommandLine[o.name] {
			raw[o.name] = rawValue{value: *given[o.name], source: "--" + o.name}
			continue
		}
		raw[o.name] = rawValue{value: o.def}
		for _, name := range o.envVars() {
			// An empty variable counts as unset: compose files often
			// pass `VAR: ${VAR:-}` through.
			if v, ok := env(name); ok && v != "" {
				raw[o.name] = rawValue{value: v, source: name}
				break
			}
		}
	}
	return convertServe(raw, onCommandLine, env)
}

// convertServe turns resolved text into typed settings, each failure naming
// its flag.
func convertServe(raw map[string]rawValue, onCommandLine map[string]bool, env lookupEnv) (*serveConfig, error) {
	c := &serveConfig{explicit: map[string]bool{}}
	for name, r := range raw {
		if r.source != "" {
			c.explicit[name] = true
		}
	}
	type flagError struct {
		order int // position of the flag in serveOptions
		err   error
	}
	var flagErrs []flagError
	fail := func(name, format string, a ...any) {
		order := slices.IndexFunc(serveOptions, func(o option) bool { return o.name == name })
		flagErrs = append(flagErrs, flagError{order, usageErrorf("%s: %s", raw[name].describe(name), fmt.Sprintf(format, a...))})
	}

	c.Addr = raw["addr"].value
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		fail("addr", "invalid address %q (want HOST:PORT)", c.Addr)
	}
	c.TLS = convertTLS(raw, fail)

	c.PublisherKey = roleSetting(raw, onCommandLine, env, "publisher-jwt-key", "jwt-key")
	c.SubscriberKey = roleSetting(raw, onCommandLine, env, "subscriber-jwt-key", "jwt-key")
	for _, name := range []string{"jwt-alg", "publisher-jwt-alg", "subscriber-jwt-alg"} {
		if err := checkAlg(raw[name].value); err != nil {
			fail(name, "%v", err)
		}
	}
	c.PublisherAlg = roleSetting(raw, onCommandLine, env, "publisher-jwt-alg", "jwt-alg").value
	c.SubscriberAlg = roleSetting(raw, onCommandLine, env, "subscriber-jwt-alg", "jwt-alg").value

	c.JWKSURL = raw["jwks-url"].value
	if c.JWKSURL != "" && !isHTTPURL(c.JWKSURL) {
		fail("jwks-url", "invalid URL %q (want http:// or https://)", c.JWKSURL)
	}
	c.Issuer = raw["issuer"].value
	c.ResourceID = raw["resource-id"].value
	if c.ResourceID != "" && !isHTTPURL(c.ResourceID) {
		fail("resource-id", "invalid URL %q (want an absolute http:// or https:// URL)", c.ResourceID)
	}

	for _, b := range []struct {
		name string
		dst  *bool
	}{{"anonymous", &c.Anonymous}, {"subscriptions", &c.Subscriptions}, {"dev", &c.Dev}, {"pprof", &c.PProf}, {"ui", &c.UI}} {
		v, err := strconv.ParseBool(raw[b.name].value)
		if err != nil {
			fail(b.name, "invalid boolean %q", raw[b.name].value)
		}
		*b.dst = v
	}

	var err error
	if c.CORSOrigins, err = parseOrigins(raw["cors-origins"].value); err != nil {
		fail("cors-origins", "%v", err)
	}
	if c.PublishOrigins, err = parseOrigins(raw["publish-origins"].value); err != nil {
		fail("publish-origins", "%v", err)
	}

	if c.Transport, err = parseTransport(raw["transport"].value); err != nil {
		fail("transport", "%v", err)
	}

	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"heartbeat", &c.Heartbeat}, {"write-timeout", &c.WriteTimeout}} {
		v, err := parseDuration(raw[d.name].value)
		if err != nil {
			fail(d.name, "%v", err)
		}
		*d.dst = v
	}

	if c.Lease, err = time.ParseDuration(raw["lease"].value); err != nil || c.Lease < minLease {
		fail("lease", "invalid duration %q (want %v or more, such as 15s)", raw["lease"].value, minLease)
	}
	if c.ShutdownDrain, err = time.ParseDuration(raw["shutdown-drain"].value); err != nil || c.ShutdownDrain < 0 {
		fail("shutdown-drain", "invalid duration %q (want a non-negative duration such as 5s)", raw["shutdown-drain"].value)
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"max-subscribers", &c.MaxSubscribers}, {"max-subscribers-per-client", &c.MaxSubscribersPerClient}} {
		v, err := strconv.Atoi(raw[n.name].value)
		if err != nil || v < 0 || v > maxSubscribersLimit {
			fail(n.name, "invalid number %q (want 0 to %d; 0 is unlimited)", raw[n.name].value, maxSubscribersLimit)
		}
		*n.dst = v
	}
	if v, err := strconv.Atoi(raw["max-matcher-cost"].value); err != nil || v < 1 {
		fail("max-matcher-cost", "invalid number %q (want a positive number of cost units)", raw["max-matcher-cost"].value)
	} else {
		c.MaxMatcherCost = v
	}
	var queueBytes int64
	for _, b := range []struct {
		name string
		dst  *int64
	}{{"max-body", &c.MaxBody}, {"queue-bytes", &queueBytes}} {
		v, err := parseBytes(raw[b.name].value)
		if err != nil {
			fail(b.name, "%v", err)
		}
		*b.dst = v
	}
	c.QueueBytes = int(queueBytes)
	c.AdminAddr = raw["admin-addr"].value
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			fail("admin-addr", "invalid address %q (want HOST:PORT)", c.AdminAddr)
		}
	}
	if c.PProf && c.AdminAddr == "" {
		fail("pprof", "needs --admin-addr: profiles are served on the admin listener only")
	}

	if c.CookieNames, err = parseCookieNames(raw["cookie-name"].value); err != nil {
		fail("cookie-name", "%v", err)
	}

	switch lvl := strings.ToLower(raw["log-level"].value); lvl {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		fail("log-level", "invalid level %q (want debug, info, warn or error)", raw["log-level"].value)
	}
	switch f := strings.ToLower(raw["log-format"].value); f {
	case "text", "json":
		c.LogFormat = f
	default:
		fail("log-format", "invalid format %q (want text or json)", raw["log-format"].value)
	}

	if len(flagErrs) > 0 {
		// Every mistake is reported, one per line, in the order of the
		// usage text, so a broken deployment is fixed in one round.
		slices.SortStableFunc(flagErrs, func(a, b flagError) int { return a.order - b.order })
		errs := make([]error, len(flagErrs))
		for i, fe := range flagErrs {
			errs[i] = fe.err
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// roleSetting resolves a setting that has a per-role flag and a flag for
// both roles (keys and algorithms). Precedence, highest first: the role's
// flag, the shared flag, the role's HERMES_ variable, the shared HERMES_
// variable, then the reference hub's MERCURE_ variable of the role. The
// command line beats the environment as a whole, so `--jwt-key X` is not
// silently overridden by a role variable left in the environment.
func roleSetting(raw map[string]rawValue, onCommandLine map[string]bool, env lookupEnv, role, shared string) keySpec {
	for _, name := range []string{role, shared} {
		if onCommandLine[name] {
			return keySpec{rawValue: raw[name], flag: name}
		}
	}
	type candidate struct{ env, flag string }
	candidates := []candidate{{envName(role), role}, {envName(shared), shared}}
	for _, o := range serveOptions {
		if o.name == role {
			for _, a := range o.aliases {
				candidates = append(candidates, candidate{a, role})
			}
		}
	}
	for _, c := range candidates {
		if v, ok := env(c.env); ok && v != "" {
			return keySpec{rawValue: rawValue{value: v, source: c.env}, flag: c.flag}
		}
	}
	return keySpec{flag: role}
}

// knownAlgs are the JWS algorithms a key may be bound to. "none" is not
// one of them, ever.
var knownAlgs = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// checkAlg accepts an empty alg (the key decides) or a known one, spelled
// as JWA spells it: alg values are case-sensitive.
func checkAlg(alg string) error {
	if alg == "" || slices.Contains(knownAlgs, alg) {
		return nil
	}
	return fmt.Errorf("unsupported algorithm %q (want one of %s)", alg, strings.Join(knownAlgs, ", "))
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty entries.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// maxListEntries bounds the comma-separated settings; a list longer than
// this is a configuration mistake, not a deployment.
const maxListEntries = 1000

// parseOrigins checks a list of origins: "*" or scheme://host[:port], where
// host may contain one * wildcard (http://localhost:*, https://*.example.com).
func parseOrigins(s string) ([]string, error) {
	list := splitList(s)
	if len(list) > maxListEntries {
		return nil, fmt.Errorf("more than %d origins", maxListEntries)
	}
	for _, o := range list {
		if o == "*" {
			continue
		}
		scheme, rest, ok := strings.Cut(o, "://")
		if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#") || strings.Count(o, "*") > 1 {
			return nil, fmt.Errorf("invalid origin %q (want scheme://host[:port] or *)", o)
		}
	}
	return list, nil
}

// parseCookieNames checks cookie names against the RFC 6265 token grammar.
func parseCookieNames(s string) ([]string, error) {
	list := splitList(s)
	if len(list) == 0 {
		return nil, errors.New("at least one cookie name is required")
	}
	if len(list) > maxListEntries {
		return nil, fmt.Errorf("more than %d cookie names", maxListEntries)
	}
	for _, name := range list {
		for _, r := range name {
			if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
				return nil, fmt.Errorf("invalid cookie name %q", name)
			}
		}
	}
	return list, nil
}

// parseDuration reads a non-negative duration where 0 means "disabled",
// and returns it in hub.Config terms (negative disables, as zero there
// means "default").
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q (must not be negative; 0 disables)", s)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

// maxSubscribersLimit bounds the subscriber limits: a larger number is a
// typo, not a deployment.
const maxSubscribersLimit = 100_000_000

// Byte sizes (--max-body, --queue-bytes) must hold at least one modest
// update and stay far below what one request or one subscriber may
// reasonably take.
const (
	minSizeBytes = 1 << 10
	maxSizeBytes = 1 << 30
)

// byteUnits are the suffixes parseBytes accepts, binary multiples only:
// "MB" would be ambiguous.
var byteUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}

// parseBytes reads a size such as 1048576, 512KiB or 1MiB, within
// [minSizeBytes, maxSizeBytes].
func parseBytes(s string) (int64, error) {
	for _, u := range byteUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		// Digits only: ParseInt would take a sign, and "1.5MiB" is refused
		// rather than rounded.
		if num == "" || strings.TrimLeft(num, "0123456789") != "" || len(num) > 10 {
			break
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			break
		}
		if n > maxSizeBytes/u.mult || n*u.mult < minSizeBytes {
			return 0, fmt.Errorf("size %q out of range (want 1KiB to 1GiB)", s)
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("invalid size %q (want a number of bytes, optionally with KiB, MiB or GiB)", s)
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parseTransport reads the --transport URL.
func parseTransport(s string) (transportSpec, error) {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return transportSpec{}, fmt.Errorf("invalid transport URL %q (want bolt://PATH or memory://)", s)
	}
	switch strings.ToLower(scheme) {
	case "memory":
		u, err := url.Parse(s)
		if err != nil {
			return transportSpec{}, fmt.Errorf("invalid transport URL %q", s)
		}
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return transportSpec{}, fmt.Errorf("invalid transport URL %q (memory:// takes no path, only ?size=N)", s)
		}
		spec := transportSpec{url: s, kind: "memory"}
		for k, vs := range u.Query() {
			if k != "size" || len(vs) != 1 {
				return transportSpec{}, fmt.Errorf("invalid transport URL %q (memory:// knows only one size=N)", s)
			}
			n, err := strconv.Atoi(vs[0])
			if err != nil || n < 0 {
				return transportSpec{}, fmt.Errorf("invalid size %q in %q (want a non-negative integer)", vs[0], s)
			}
			spec.memory.Size = n
		}
		return spec, nil
	case "bolt":
		path, opts, err := bolt.ParseURL(s)
		if err != nil {
			return transportSpec{}, fmt.Errorf("invalid transport URL %q: %w", s, err)
		}
		return transportSpec{url: s, kind: "bolt", boltPath: path, bolt: opts}, nil
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel":
		opts, err := redis.ParseURL(s)
		if err != nil {
			return transportSpec{}, fmt.Errorf("invalid transport URL %q: %w", redactURL(s), err)
		}
		return transportSpec{url: s, kind: "redis", redis: opts}, nil
	default:
		return transportSpec{}, fmt.Errorf("unsupported transport %q (want bolt://, memory:// or redis://)", scheme+"://")
	}
}

// writeServeUsage prints the flag table, with each flag's variable and
// default, generated from serveOptions.
func writeServeUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: hermes serve [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every flag can also be set with the environment variable shown; a flag given")
	fmt.Fprintln(w, "on the command line wins. Flags:")
	fmt.Fprintln(w)
	for _, o := range serveOptions {
		head := "  --" + o.name
		if o.arg != "" {
			head += " " + o.arg
		}
		fmt.Fprintln(w, head)
		fmt.Fprintf(w, "        %s\n", o.usage)
		info := "env " + strings.Join(o.envVars(), ", ")
		if o.def != "" {
			info += "; default " + o.def
		}
		fmt.Fprintf(w, "        (%s)\n", info)
	}
}
