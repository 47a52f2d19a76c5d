package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
)

// checkTimeout bounds a `token check`: only a JWKS fetch can take time.
const checkTimeout = 30 * time.Second

// checkSettings are the serve settings `token check` reads, by flag name.
// Their environment variables come from serveOptions, so that check and
// serve can never disagree on where a key is taken from.
var checkSettings = []string{
	"jwt-key", "publisher-jwt-key", "subscriber-jwt-key",
	"jwt-alg", "publisher-jwt-alg", "subscriber-jwt-alg",
	"jwks-url", "issuer", "resource-id",
}

// tokenCheckArgs are the parsed `hermes token check` settings.
type tokenCheckArgs struct {
	roles         []auth.Role
	token         string // as given: "-" means standard input
	publisherKey  keySpec
	subscriberKey keySpec
	publisherAlg  keySpec
	subscriberAlg keySpec
	jwksURL       string
	issuer        string
	resourceID    string
	// resourceSource says where resourceID came from; "" when none is set.
	resourceSource string
}

// findServeOption returns the serve option called name.
func findServeOption(name string) (option, bool) {
	i := slices.IndexFunc(serveOptions, func(o option) bool { return o.name == name })
	if i < 0 {
		return option{}, false
	}
	return serveOptions[i], true
}

// envSetting resolves a serve setting that has no per-role form: the flag,
// else its environment variables in serve's order.
func envSetting(name string, onCommandLine map[string]bool, given map[string]*string, env lookupEnv) rawValue {
	if onCommandLine[name] {
		return rawValue{value: *given[name], source: "--" + name}
	}
	if o, ok := findServeOption(name); ok {
		for _, v := range o.envVars() {
			if s, ok := env(v); ok && s != "" {
				return rawValue{value: s, source: v}
			}
		}
	}
	return rawValue{}
}

func parseTokenCheck(args []string, env lookupEnv) (*tokenCheckArgs, error) {
	fs := flag.NewFlagSet("hermes token check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	role := fs.String("role", "both", "")
	given := make(map[string]*string, len(checkSettings))
	for _, name := range checkSettings {
		if _, ok := findServeOption(name); !ok {
			// A serve flag was renamed without updating check.
			return nil, fmt.Errorf("token check: internal error: no serve option %q", name)
		}
		given[name] = fs.String(name, "", "")
	}
	// Flags may come before or after TOKEN: the flag package stops at the
	// first argument, so parsing resumes after each one.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErrorf("token check: %v (see hermes token check -h)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		if i := len(rest) - fs.NArg(); i > 0 && rest[i-1] == "--" {
			positional = append(positional, fs.Args()...)
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch len(positional) {
	case 0:
		return nil, usageErrorf("token check: missing TOKEN (the token to check, or - to read it from standard input)")
	case 1:
	default:
		return nil, usageErrorf("token check: unexpected argument %q after the token (see hermes token check -h)", positional[1])
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	c := &tokenCheckArgs{token: positional[0]}
	var errs []error
	switch *role {
	case "both":
		c.roles = []auth.Role{auth.Publisher, auth.Subscriber}
	case "publisher":
		c.roles = []auth.Role{auth.Publisher}
	case "subscriber":
		c.roles = []auth.Role{auth.Subscriber}
	default:
		errs = append(errs, usageErrorf("--role: invalid role %q (want publisher, subscriber or both)", *role))
	}

	raw := make(map[string]rawValue, len(checkSettings))
	for name, v := range given {
		if onCommandLine[name] {
			raw[name] = rawValue{value: *v, source: "--" + name}
		}
	}
	// The same precedence as serve: role flag, shared flag, role variable,
	// shared variable, then the reference hub's MERCURE_ variables.
	c.publisherKey = roleSetting(raw, onCommandLine, env, "publisher-jwt-key", "jwt-key")
	c.subscriberKey = roleSetting(raw, onCommandLine, env, "subscriber-jwt-key", "jwt-key")
	c.publisherAlg = roleSetting(raw, onCommandLine, env, "publisher-jwt-alg", "jwt-alg")
	c.subscriberAlg = roleSetting(raw, onCommandLine, env, "subscriber-jwt-alg", "jwt-alg")
	for _, alg := range []keySpec{c.publisherAlg, c.subscriberAlg} {
		if err := checkAlg(alg.value); err != nil {
			errs = append(errs, usageErrorf("%s: %v", alg.describe(alg.flag), err))
		}
	}

	jwks := envSetting("jwks-url", onCommandLine, given, env)
	if c.jwksURL = jwks.value; c.jwksURL != "" && !isHTTPURL(c.jwksURL) {
		errs = append(errs, usageErrorf("%s: invalid URL %q (want http:// or https://)", jwks.describe("jwks-url"), c.jwksURL))
	}
	c.issuer = envSetting("issuer", onCommandLine, given, env).value
	res := envSetting("resource-id", onCommandLine, given, env)
	c.resourceID, c.resourceSource = res.value, res.source
	if c.resourceID != "" && !isHTTPURL(c.resourceID) {
		errs = append(errs, usageErrorf("%s: invalid URL %q (want an absolute http:// or https:// URL)", res.describe("resource-id"), c.resourceID))
	}
	if !c.publisherKey.given() && !c.subscriberKey.given() && c.jwksURL == "" {
		errs = append(errs, usageErrorf("no key to check the token with: set --jwt-key (or HERMES_JWT_KEY), "+
			"--publisher-jwt-key, --subscriber-jwt-key or --jwks-url, as for hermes serve"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// tokenCheck runs `hermes token check`. Exit code: 0 when the token is
// accepted for at least one requested role, 1 when it is refused for all of
// them, 2 for usage mistakes.
func (a *app) tokenCheck(ctx context.Context, args []string) int {
	c, err := parseTokenCheck(args, a.env)
	if errors.Is(err, flag.ErrHelp) {
		writeTokenCheckUsage(a.stdout)
		return exitOK
	}
	if err != nil {
		return a.fail(err)
	}
	tok, note, err := a.readCheckedToken(c.token)
	if err != nil {
		return a.fail(err)
	}
	pubKey, err := loadKey(c.publisherKey)
	if err != nil {
		return a.fail(err)
	}
	subKey, err := loadKey(c.subscriberKey)
	if err != nil {
		return a.fail(err)
	}
	authz, err := auth.New(auth.Config{
		PublisherKey:  pubKey,
		SubscriberKey: subKey,
		PublisherAlg:  c.publisherAlg.value,
		SubscriberAlg: c.subscriberAlg.value,
		JWKSURL:       c.jwksURL,
		Issuer:        c.issuer,
		ResourceID:    c.resourceID,
		HubPath:       hub.Path,
		TopicOptions:  topic.Options{Base: c.resourceID},
		// A JWKS that cannot be fetched is worth seeing right away.
		Logger: slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return a.fail(usageErrorf("token settings (--jwt-key, --jwt-alg and their per-role forms, --jwks-url): %v", err))
	}
	defer authz.Close()

	w := a.stdout
	if note != "" {
		fmt.Fprintln(w, note)
	}
	now := time.Now()
	header, claims, ierr := auth.Inspect(tok)
	if header != nil {
		fmt.Fprintln(w, "header (not verified):")
		writeJSONFields(w, header, now)
	}
	if claims != nil {
		fmt.Fprintln(w, "claims (not verified):")
		writeJSONFields(w, claims, now)
	}
	if ierr != nil {
		fmt.Fprintf(w, "cannot decode the token: %s\n", auth.EscapeControls(ierr.Error()))
	}
	writeCheckSettings(w, c, pubKey, subKey, looksModern(header, claims))
	fmt.Fprintln(w)

	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	accepted := false
	for _, role := range c.roles {
		g, aerr := authz.Check(ctx, tok, role, c.resourceID)
		if aerr != nil {
			// auth escapes what it quotes from the token; EscapeControls
			// is the last guard between a hostile token and the terminal.
			fmt.Fprintf(w, "%s: refused (%d %s): %s\n", role, aerr.Status, aerr.Code, auth.EscapeControls(describeRefusal(aerr, now)))
			if hint := refusalHint(c, role, aerr, pubKey, subKey); hint != "" {
				fmt.Fprintf(w, "  hint: %s\n", hint)
			}
			continue
		}
		accepted = true
		fmt.Fprintf(w, "%s: accepted\n", role)
		for _, line := range strings.Split(describeGrant(g, now), "\n") {
			fmt.Fprintf(w, "  %s\n", auth.EscapeControls(line))
		}
		switch {
		case role == auth.Publisher && len(g.Publish) == 0:
			fmt.Fprintln(w, "  note: no publish topic is granted, so every publish gets 403")
		case role == auth.Subscriber && len(g.Subscribe) == 0:
			fmt.Fprintln(w, "  note: no subscribe topic is granted, so only public updates are received")
		}
	}
	if !accepted {
		return exitFailure
	}
	return exitOK
}

// readCheckedToken returns the token to check: the argument, or standard
// input for "-". Surrounding whitespace and a pasted "Bearer " prefix are
// removed, with a note saying so, since copying a header value is the
// usual way a token reaches this command.
func (a *app) readCheckedToken(arg string) (tok, note string, err error) {
	tok = arg
	if arg == "-" {
		in := a.stdin
		if in == nil {
			in = os.Stdin
		}
		b, err := io.ReadAll(io.LimitReader(in, auth.MaxInspectBytes+1))
		if err != nil {
			return "", "", fmt.Errorf("token check: reading standard input: %w", err)
		}
		if len(b) > auth.MaxInspectBytes {
			return "", "", usageErrorf("token check: standard input is longer than %d bytes", auth.MaxInspectBytes)
		}
		tok = string(b)
	}
	tok = strings.TrimSpace(tok)
	const bearer = "bearer "
	if len(tok) > len(bearer) && strings.EqualFold(tok[:len(bearer)], bearer) {
		tok = strings.TrimSpace(tok[len(bearer):])
		note = `(the "Bearer " prefix was removed)`
	}
	if tok == "" {
		return "", "", usageErrorf("token check: the token is empty")
	}
	return tok, note, nil
}

// looksModern reports whether the hub would apply the draft-08 rules.
func looksModern(header, claims map[string]any) bool {
	typ, _ := header["typ"].(string)
	_, details := claims["authorization_details"]
	return details || strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// writeCheckSettings prints the keys and claims settings the token is
// checked against, and where each came from: a forgotten variable in the
// environment is a classic cause of a 401.
func writeCheckSettings(w io.Writer, c *tokenCheckArgs, pubKey, subKey []byte, modern bool) {
	fmt.Fprintln(w, "checked against:")
	for _, k := range []struct {
		role string
		spec keySpec
		key  []byte
		alg  keySpec
	}{
		{"publisher", c.publisherKey, pubKey, c.publisherAlg},
		{"subscriber", c.subscriberKey, subKey, c.subscriberAlg},
	} {
		if !k.spec.given() {
			fmt.Fprintf(w, "  %s key: none\n", k.role)
			continue
		}
		alg := k.alg.value
		switch {
		case alg == "" && !auth.IsPEM(k.key):
			alg = "HS256, the default"
		case k.alg.given():
			alg += " from " + k.alg.source
		}
		fmt.Fprintf(w, "  %s key: %s from %s (%s)\n", k.role, keyKind(k.key), k.spec.source, alg)
	}
	if c.jwksURL != "" {
		fmt.Fprintf(w, "  jwks: %s\n", c.jwksURL)
	}
	if !modern {
		return
	}
	if c.issuer != "" {
		fmt.Fprintf(w, "  issuer: %s\n", c.issuer)
	} else {
		fmt.Fprintln(w, "  issuer: none")
	}
	if c.resourceSource != "" {
		fmt.Fprintf(w, "  resource id (aud): %s from %s\n", c.resourceID, c.resourceSource)
	} else {
		fmt.Fprintln(w, "  resource id (aud): none")
	}
}

// refusalHint adds the likely fix for the refusals people most often hit.
func refusalHint(c *tokenCheckArgs, role auth.Role, e *auth.Error, pubKey, subKey []byte) string {
	key := pubKey
	if role == auth.Subscriber {
		key = subKey
	}
	switch {
	case e.Rule == auth.RuleSignature && e.Key != nil && !e.Key.JWKS && !auth.IsPEM(key):
		return "the secret is used byte for byte: the token must be signed with exactly the same secret " +
			"(no trailing newline or space, not base64-decoded, not the other role's secret)"
	case e.Rule == auth.RuleNoResourceID:
		return "pass --resource-id (HERMES_RESOURCE_ID) with the hub URL clients use " +
			"(https://HOST/.well-known/mercure), here and to hermes serve"
	case e.Rule == auth.RuleNoIssuerConfigured:
		return "pass --issuer (HERMES_ISSUER) with the iss of your authorization server, here and to hermes serve"
	case e.Rule == auth.RuleNoKey:
		return fmt.Sprintf("set --%s-jwt-key or --jwt-key", role)
	}
	return ""
}

// timeClaims are shown as dates as well as numbers.
var timeClaims = map[string]bool{"exp": true, "nbf": true, "iat": true}

// writeJSONFields prints an unverified header or claims object, one member
// a line in name order. A long array or object is split one level down,
// one element a line, so that authorization_details stay readable.
func writeJSONFields(w io.Writer, m map[string]any, now time.Time) {
	for _, k := range sortedKeys(m) {
		v := renderJSON(m[k])
		if len(v) <= 100 {
			line := fmt.Sprintf("  %s: %s", auth.EscapeControls(k), v)
			if timeClaims[k] {
				if t, ok := jsonTime(m[k]); ok {
					line += " = " + describeTime(t, now)
				}
			}
			fmt.Fprintln(w, line)
			continue
		}
		switch val := m[k].(type) {
		case []any:
			fmt.Fprintf(w, "  %s: [\n", auth.EscapeControls(k))
			for i, e := range val {
				fmt.Fprintf(w, "    [%d] %s\n", i, renderJSON(e))
			}
			fmt.Fprintln(w, "  ]")
		case map[string]any:
			fmt.Fprintf(w, "  %s: {\n", auth.EscapeControls(k))
			for _, mk := range sortedKeys(val) {
				fmt.Fprintf(w, "    %s: %s\n", auth.EscapeControls(mk), renderJSON(val[mk]))
			}
			fmt.Fprintln(w, "  }")
		default:
			fmt.Fprintf(w, "  %s: %s\n", auth.EscapeControls(k), v)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// renderJSON encodes v compactly, without HTML escaping and with every
// control character escaped, so that a hostile token cannot drive the
// terminal.
func renderJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("(unprintable: %v)", err)
	}
	return auth.EscapeControls(strings.TrimSuffix(b.String(), "\n"))
}

// jsonTime reads a NumericDate as the hub does: a number, or for legacy
// tokens a string holding one.
func jsonTime(v any) (time.Time, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f > 1e12 || f < -1e12 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func writeTokenCheckUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hermes token check [flags] TOKEN

Says whether a hub with these settings accepts TOKEN, and why not: the rule
that refuses it (signature, alg, expired, not yet valid, audience, issuer,
typ, claim shape) or what it grants. TOKEN - reads the token from standard
input. The key settings and their environment variables are those of
hermes serve (HERMES_JWT_KEY, MERCURE_PUBLISHER_JWT_KEY, ...), so running
this next to the hub checks against the hub's own configuration.

  --role ROLE                 publisher, subscriber or both (default both)
  --resource-id URL           aud that draft-08 tokens must contain: the hub's
                              --resource-id (without it draft-08 tokens are refused)
  --jwt-key KEY               key for both roles: a secret, PEM text, or @FILE
  --publisher-jwt-key KEY     key for publisher tokens (overrides --jwt-key)
  --subscriber-jwt-key KEY    key for subscriber tokens (overrides --jwt-key)
  --jwt-alg ALG               the algorithm the keys accept (default HS256 for a secret)
  --publisher-jwt-alg ALG     algorithm of the publisher key
  --subscriber-jwt-alg ALG    algorithm of the subscriber key
  --jwks-url URL              JWKS endpoint to fetch verification keys from
  --issuer ISS                iss that draft-08 tokens must carry

Exit status: 0 if the token is accepted for at least one role checked, 1 if
it is refused for all of them, 2 for a usage mistake.
`)
}
