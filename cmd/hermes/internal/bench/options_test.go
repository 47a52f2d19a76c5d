package bench

import (
	"strings"
	"testing"
)

func parseArgs(args ...string) (*Options, error) {
	return Parse(args, func(s string) ([]byte, error) { return []byte(s), nil })
}

func TestParseRefusesWhatCannotWork(t *testing.T) {
	hub := []string{"--hub", "http://127.0.0.1:3000/.well-known/mercure", "--jwt-key", "k"}
	cases := map[string]struct {
		args []string
		want string
	}{
		"no hub":                {[]string{"idle", "--jwt-key", "k"}, "--hub: required"},
		"not http":              {[]string{"idle", "--hub", "ftp://x/", "--jwt-key", "k"}, "not an http(s) URL"},
		"no key":                {[]string{"idle", "--hub", "http://x/"}, "--publisher-jwt-key: required"},
		"draft08 no issuer":     {append([]string{"fanout", "--dialect", "draft08"}, hub...), "--issuer: required"},
		"issuer with legacy":    {append([]string{"fanout", "--issuer", "x"}, hub...), "only used with --dialect draft08"},
		"flag of another":       {append([]string{"publish", "--history", "5"}, hub...), "--history: not used by the publish scenario"},
		"bad step":              {append([]string{"fanout", "--step", "x1"}, hub...), "--step"},
		"depth over history":    {append([]string{"replay", "--history", "10", "--depths", "20"}, hub...), "more than --history"},
		"too many patterns":     {append([]string{"private", "--patterns", "101"}, hub...), "--patterns: out of range"},
		"zero subscribers":      {append([]string{"idle", "--subscribers", "0"}, hub...), "--subscribers: out of range"},
		"relative topic base":   {append([]string{"idle", "--topic-base", "x/"}, hub...), "--topic-base"},
		"bad local address":     {append([]string{"idle", "--local-addrs", "127.0.0.1,nope"}, hub...), `"nope" is not an IP`},
		"unexpected arguments":  {append([]string{"idle", "extra"}, hub...), "unexpected argument"},
		"publish hub not http":  {append([]string{"fanout", "--publish-hub", "redis://x/"}, hub...), "--publish-hub: \"redis://x/\" is not an http(s) URL"},
		"publish hub elsewhere": {append([]string{"publish", "--publish-hub", "http://x/"}, hub...), "--publish-hub: not used by the publish scenario"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseArgs(c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestParseDefaultsPerScenario(t *testing.T) {
	o, err := parseArgs("private", "--hub", "http://localhost:3000/.well-known/mercure", "--jwt-key", "k",
		"--dialect", "draft08", "--issuer", "https://iss", "--step", "50")
	if err != nil {
		t.Fatal(err)
	}
	if o.Subscribers != 50 || o.Patterns != 100 || o.Rate != 10 || o.StepAdd != 50 || o.StepMul != 0 {
		t.Fatalf("%+v", o)
	}
	if o.nextRate(10) != 60 {
		t.Fatalf("next rate %v", o.nextRate(10))
	}
	if len(o.Audience) != 1 || o.Audience[0] != "http://localhost:3000/.well-known/mercure" {
		t.Fatalf("audience %v: want the hub URL", o.Audience)
	}
	// Loopback: connections are spread over several source addresses.
	if len(o.LocalAddrs) < 2 || !o.LocalAddrs[1].Equal([]byte{127, 0, 0, 2}) {
		t.Fatalf("local addresses %v", o.LocalAddrs)
	}
	r, err := parseArgs("replay", "--hub", "http://10.0.0.1/", "--jwt-key", "k")
	if err != nil {
		t.Fatal(err)
	}
	if r.History != 10000 || len(r.Depths) != 4 || r.Depths[3] != 0 || r.LocalAddrs != nil {
		t.Fatalf("%+v", r)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := payload{run: "abcd", step: 3, pub: 2, seq: 12345, target: -1, sent: 987654321}
	for _, size := range []int{0, 10, 200} {
		s := p.encode(size)
		if size > 60 && len(s) != size {
			t.Fatalf("size %d: got %d bytes", size, len(s))
		}
		got, err := parsePayload(s)
		if err != nil || got != p {
			t.Fatalf("size %d: %+v, %v", size, got, err)
		}
	}
	if _, err := parsePayload("hello"); err != errNotOurs {
		t.Fatalf("foreign data: %v", err)
	}
	if _, err := parsePayload(payloadMagic + " r 1 x 3 4 5"); err == nil || err == errNotOurs {
		t.Fatalf("malformed: %v", err)
	}
}
