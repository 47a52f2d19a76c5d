package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/auth"
)

// listValue is a repeatable flag: every occurrence adds one entry. Topics
// may contain commas, so entries are never split.
type listValue struct{ list *[]string }

func (v listValue) String() string {
	if v.list == nil {
		return ""
	}
	return strings.Join(*v.list, " ")
}
func (v listValue) Set(s string) error { *v.list = append(*v.list, s); return nil }

// maxPayloadBytes bounds --payload; it ends up in every token.
const maxPayloadBytes = 64 << 10

// tokenArgs are the parsed `hermes token` flags.
type tokenArgs struct {
	key                string
	alg                string
	publish, subscribe []string
	modern             bool
	matchType          string
	issuer             string
	audience           []string
	ttl                time.Duration
	payload            any
	hasPayload         bool
}

func parseToken(args []string) (*tokenArgs, error) {
	fs := flag.NewFlagSet("hermes token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	t := &tokenArgs{}
	var ttl, payload string
	fs.StringVar(&t.key, "key", "", "")
	fs.StringVar(&t.alg, "alg", "", "")
	fs.Var(listValue{&t.publish}, "publish", "")
	fs.Var(listValue{&t.subscribe}, "subscribe", "")
	fs.BoolVar(&t.modern, "modern", false, "")
	fs.StringVar(&t.matchType, "match-type", "", "")
	fs.StringVar(&t.issuer, "issuer", "", "")
	fs.Var(listValue{&t.audience}, "audience", "")
	fs.StringVar(&ttl, "ttl", "", "")
	fs.StringVar(&payload, "payload", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErrorf("token: %v (see hermes token -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, usageErrorf("token: unexpected argument %q (see hermes token -h)", fs.Arg(0))
	}
	seen := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { seen[f.Name] = true })

	var errs []error
	if t.key == "" {
		errs = append(errs, usageErrorf("--key: required (a secret, PEM private key, or @FILE)"))
	}
	if err := checkAlg(t.alg); err != nil {
		errs = append(errs, usageErrorf("--alg: %v", err))
	}
	if seen["ttl"] {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			errs = append(errs, usageErrorf("--ttl: invalid duration %q", ttl))
		}
		t.ttl = d
	}
	if seen["payload"] {
		if len(payload) > maxPayloadBytes {
			errs = append(errs, usageErrorf("--payload: longer than %d bytes", maxPayloadBytes))
		} else if err := json.Unmarshal([]byte(payload), &t.payload); err != nil {
			errs = append(errs, usageErrorf("--payload: invalid JSON: %v", err))
		}
		t.hasPayload = true
	}
	if !t.modern {
		for _, name := range []string{"issuer", "audience", "match-type"} {
			if seen[name] {
				errs = append(errs, usageErrorf("--%s: only meaningful with --modern", name))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func (a *app) token(args []string) int {
	t, err := parseToken(args)
	if errors.Is(err, flag.ErrHelp) {
		writeTokenUsage(a.stdout)
		return exitOK
	}
	if err != nil {
		return a.fail(err)
	}
	key, err := loadKey(keySpec{rawValue: rawValue{value: t.key, source: "--key"}, flag: "key"})
	if err != nil {
		return a.fail(err)
	}
	o := auth.MintOptions{
		Key:       key,
		Alg:       t.alg,
		Publish:   t.publish,
		Subscribe: t.subscribe,
		Modern:    t.modern,
		MatchType: t.matchType,
		Issuer:    t.issuer,
		Audience:  t.audience,
		TTL:       t.ttl,
	}
	if t.hasPayload {
		o.Payload = t.payload
	}
	tok, err := auth.Mint(o)
	if err != nil {
		// The inputs are all flags, so a refusal is a usage mistake.
		return a.fail(usageErrorf("token: %v", err))
	}
	fmt.Fprintln(a.stdout, tok)
	return exitOK
}

func writeTokenUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hermes token --key KEY [flags]

Prints a signed JWT. Without --modern the token uses the legacy "mercure"
claim that Symfony, Laravel and 0.x hubs use; with --modern it uses draft-08
authorization_details (typ at+jwt) and needs --issuer and --audience.

  --key KEY          signing key: a secret, PEM private key, or @FILE (required)
  --alg ALG          signing algorithm (default HS256 for a secret, the key's own for PEM)
  --publish TOPIC    topic selector the token may publish to (repeatable; * for all)
  --subscribe TOPIC  topic selector the token may subscribe to (repeatable; * for all)
  --modern           draft-08 token instead of the legacy mercure claim
  --match-type TYPE  matcher type of the draft-08 topics (exact or urlpattern)
  --issuer ISS       iss claim (draft-08)
  --audience AUD     aud claim (draft-08, repeatable): the hub's resource id
  --ttl DURATION     lifetime; sets exp (a negative value mints an expired token)
  --payload JSON     payload claim, available to the subscriptions API

To see whether a hub accepts a token, and why not: hermes token check -h
`)
}
