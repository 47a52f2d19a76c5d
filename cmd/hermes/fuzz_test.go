package main

import (
	"errors"
	"flag"
	"net"
	"strings"
	"testing"
)

// FuzzParseServe feeds arbitrary command lines and environments to the
// serve parser: it must never panic, and it either yields a usable
// configuration or a usage error whose every line names a flag.
func FuzzParseServe(f *testing.F) {
	f.Add("--addr\n127.0.0.1:0\n--dev", "HERMES_HEARTBEAT=5s")
	f.Add("--heartbeat=x", "")
	f.Add("--transport\nmemory://?size=10\n--cors-origins\nhttp://localhost:*,*", "HERMES_ANONYMOUS=true")
	f.Add("--transport\nredis+sentinel://u:p@s1,s2:26380/1?master=m&stream=s&size=5", "")
	f.Add("--jwt-key\n@/nonexistent", "MERCURE_PUBLISHER_JWT_KEY=k\nHERMES_COOKIE_NAME=a,b")
	f.Add("-h", "")
	f.Add("--cookie-name\n,", "HERMES_LOG_LEVEL=warn\nHERMES_LOG_FORMAT=json")
	f.Fuzz(func(t *testing.T, argText, envText string) {
		var args []string
		if argText != "" {
			args = strings.Split(argText, "\n")
		}
		env := map[string]string{}
		for _, line := range strings.Split(envText, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				env[k] = v
			}
		}
		c, err := parseServe(args, mapEnv(env))
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "--") && !strings.HasPrefix(line, "serve: ") {
					t.Fatalf("error line %q names no flag", line)
				}
			}
			return
		}
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			t.Fatalf("accepted address %q: %v", c.Addr, err)
		}
		if c.Heartbeat == 0 || c.WriteTimeout == 0 {
			t.Fatalf("zero duration reached the hub config: %v %v", c.Heartbeat, c.WriteTimeout)
		}
		if len(c.CookieNames) == 0 {
			t.Fatal("accepted an empty cookie list")
		}
		if c.Transport.kind != "memory" && c.Transport.kind != "bolt" && c.Transport.kind != "redis" {
			t.Fatalf("accepted transport kind %q", c.Transport.kind)
		}
		if c.Transport.kind == "redis" {
			if err := c.Transport.redis.Validate(); err != nil {
				t.Fatalf("accepted invalid redis options: %v", err)
			}
		}
		if c.Transport.memory.Size < 0 {
			t.Fatalf("accepted negative size %d", c.Transport.memory.Size)
		}
		for _, o := range append(c.CORSOrigins, c.PublishOrigins...) {
			if o == "" || strings.TrimSpace(o) != o {
				t.Fatalf("accepted origin %q", o)
			}
		}
		if c.LogFormat != "text" && c.LogFormat != "json" {
			t.Fatalf("accepted log format %q", c.LogFormat)
		}
	})
}

// FuzzParseToken checks the token flag parser never panics and only
// returns arguments Mint can be called with.
func FuzzParseToken(f *testing.F) {
	f.Add("--key\nk\n--publish\n*\n--subscribe\nhttps://e.com/{id}")
	f.Add("--key\nk\n--modern\n--issuer\ni\n--audience\na\n--ttl\n1h\n--payload\n{\"a\":1}")
	f.Add("--key\nk\n--payload\n[")
	f.Add("--ttl\n-5m")
	f.Fuzz(func(t *testing.T, argText string) {
		args := strings.Split(argText, "\n")
		ta, err := parseToken(args)
		if err != nil {
			var ue *usageError
			if !errors.Is(err, flag.ErrHelp) && !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if ta.key == "" {
			t.Fatal("accepted a missing --key")
		}
		if checkAlg(ta.alg) != nil {
			t.Fatalf("accepted alg %q", ta.alg)
		}
	})
}

// FuzzSplitList: entries are never empty and never padded.
func FuzzSplitList(f *testing.F) {
	f.Add("a, b,,c ,")
	f.Add(" ")
	f.Fuzz(func(t *testing.T, s string) {
		for _, e := range splitList(s) {
			if e == "" || strings.TrimSpace(e) != e || strings.Contains(e, ",") {
				t.Fatalf("splitList(%q) produced %q", s, e)
			}
		}
	})
}
