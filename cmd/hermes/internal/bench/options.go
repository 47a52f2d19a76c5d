package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dialects of the tokens and subscribe requests the tool sends.
const (
	DialectLegacy  = "legacy"  // mercure claim, topic= with URI templates
	DialectDraft08 = "draft08" // authorization_details, match= and match_urlpattern=
)

// How the tool reads its streams (--readers).
const (
	ReadersPoll      = "poll"      // a poller per processor reads every stream (Linux); else goroutines
	ReadersGoroutine = "goroutine" // a goroutine per stream
)

// Options are the parsed command line of `hermes bench`.
type Options struct {
	Scenario string
	Hub      *url.URL
	// PublishHub, when set, receives the publishes while the subscribers
	// stay on Hub: two nodes of one cluster, to measure the latency of an
	// update from one node to the subscribers of another.
	PublishHub *url.URL
	// PublisherKey and SubscriberKey sign the tokens the tool mints.
	PublisherKey, SubscriberKey []byte
	Alg                         string
	Dialect                     string
	Issuer                      string
	Audience                    []string
	PID                         int
	JSON                        bool
	TopicBase                   string
	LocalAddrs                  []net.IP
	ConnectConcurrency          int
	ConnectTimeout              time.Duration
	// Readers is how streams are read: ReadersPoll (one poller per
	// processor, where the platform has one) or ReadersGoroutine.
	Readers string

	Subscribers int
	Publishers  int
	PayloadSize int
	Hold        time.Duration // idle: how long the connections are held
	Duration    time.Duration // publish: how long publishers run

	// Rate sweep (fanout, private).
	Rate         float64
	StepAdd      float64 // the next rate is rate+StepAdd, or
	StepMul      float64 // rate*StepMul when StepMul > 0
	StepDuration time.Duration
	MaxRate      float64
	MaxSteps     int
	P99          time.Duration
	Drain        time.Duration

	History int   // replay: events published first
	Depths  []int // replay: events missed by each round's subscribers; 0 is "all"

	Patterns int // private: URL patterns or URI templates per token

	// ProgressEvery is the interval of progress lines when stderr is not a
	// terminal.
	ProgressEvery time.Duration
}

// Scenarios lists the scenarios in the order of the usage text.
var Scenarios = []string{"idle", "fanout", "publish", "replay", "private"}

// scenarioFlags are the flags each scenario reads besides the common ones.
var scenarioFlags = map[string][]string{
	"idle":    {"subscribers", "hold"},
	"fanout":  {"subscribers", "publishers", "publish-hub", "payload", "rate", "step", "step-duration", "max-rate", "max-steps", "p99", "drain"},
	"publish": {"publishers", "payload", "duration"},
	"replay":  {"subscribers", "publishers", "payload", "history", "depths", "drain"},
	"private": {"subscribers", "publishers", "payload", "patterns", "rate", "step", "step-duration", "max-rate", "max-steps", "p99", "drain"},
}

// defaults per scenario, applied when the flag is not given.
var defaults = map[string]map[string]string{
	"idle":    {"subscribers": "1000", "hold": "5s"},
	"fanout":  {"subscribers": "100", "publishers": "8", "rate": "100", "step": "x2"},
	"publish": {"publishers": "16", "duration": "10s"},
	"replay":  {"subscribers": "10", "publishers": "8", "history": "10000", "depths": "10,100,1000,all"},
	"private": {"subscribers": "50", "publishers": "8", "patterns": "100", "rate": "10", "step": "x2"},
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// ErrHelp is returned by Parse for -h.
var ErrHelp = flag.ErrHelp

// Parse reads the command line after "bench". readKey turns a key flag's
// value into key bytes (the hub's own rules: a secret, PEM, or @FILE).
func Parse(args []string, readKey func(string) ([]byte, error)) (*Options, error) {
	if len(args) == 0 {
		return nil, usagef("bench: which scenario? one of %s", strings.Join(Scenarios, ", "))
	}
	if a := args[0]; a == "-h" || a == "--help" || a == "-help" || a == "help" {
		return nil, ErrHelp
	}
	o := &Options{Scenario: args[0]}
	if !slices.Contains(Scenarios, o.Scenario) {
		return nil, usagef("bench: unknown scenario %q (one of %s)", o.Scenario, strings.Join(Scenarios, ", "))
	}
	fs := flag.NewFlagSet("hermes bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var (
		hub, pubHub, key, pubKey, subKey, step, depths, locals string
		audience                                               []string
	)
	fs.StringVar(&hub, "hub", "", "")
	fs.StringVar(&pubHub, "publish-hub", "", "")
	fs.StringVar(&key, "jwt-key", "", "")
	fs.StringVar(&pubKey, "publisher-jwt-key", "", "")
	fs.StringVar(&subKey, "subscriber-jwt-key", "", "")
	fs.StringVar(&o.Alg, "alg", "", "")
	fs.StringVar(&o.Dialect, "dialect", DialectLegacy, "")
	fs.StringVar(&o.Issuer, "issuer", "", "")
	fs.Func("audience", "", func(s string) error { audience = append(audience, s); return nil })
	fs.IntVar(&o.PID, "pid", 0, "")
	fs.BoolVar(&o.JSON, "json", false, "")
	fs.StringVar(&o.TopicBase, "topic-base", "https://bench.hermes.test/", "")
	fs.StringVar(&locals, "local-addrs", "", "")
	fs.IntVar(&o.ConnectConcurrency, "connect-concurrency", 64, "")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", 10*time.Second, "")
	fs.StringVar(&o.Readers, "readers", ReadersPoll, "")
	fs.DurationVar(&o.ProgressEvery, "progress-every", 5*time.Second, "")

	fs.IntVar(&o.Subscribers, "subscribers", 0, "")
	fs.IntVar(&o.Publishers, "publishers", 0, "")
	fs.IntVar(&o.PayloadSize, "payload", 100, "")
	fs.DurationVar(&o.Hold, "hold", 0, "")
	fs.DurationVar(&o.Duration, "duration", 0, "")
	fs.Float64Var(&o.Rate, "rate", 0, "")
	fs.StringVar(&step, "step", "", "")
	fs.DurationVar(&o.StepDuration, "step-duration", 5*time.Second, "")
	fs.Float64Var(&o.MaxRate, "max-rate", 0, "")
	fs.IntVar(&o.MaxSteps, "max-steps", 12, "")
	fs.DurationVar(&o.P99, "p99", 100*time.Millisecond, "")
	fs.DurationVar(&o.Drain, "drain", 5*time.Second, "")
	fs.IntVar(&o.History, "history", 0, "")
	fs.StringVar(&depths, "depths", "", "")
	fs.IntVar(&o.Patterns, "patterns", 0, "")

	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, usagef("bench: %v (see hermes bench -h)", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("bench: unexpected argument %q (see hermes bench -h)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	common := []string{"hub", "jwt-key", "publisher-jwt-key", "subscriber-jwt-key", "alg", "dialect", "issuer", "audience",
		"pid", "json", "topic-base", "local-addrs", "connect-concurrency", "connect-timeout", "progress-every", "readers"}
	var errs []error
	for name := range given {
		if name != "payload" && !slices.Contains(common, name) && !slices.Contains(scenarioFlags[o.Scenario], name) {
			errs = append(errs, usagef("--%s: not used by the %s scenario", name, o.Scenario))
		}
	}
	for name, v := range defaults[o.Scenario] {
		if !given[name] {
			if err := fs.Set(name, v); err != nil {
				panic(fmt.Sprintf("bench: bad default %s=%s: %v", name, v, err))
			}
		}
	}

	u, err := url.Parse(hub)
	switch {
	case hub == "":
		errs = append(errs, usagef("--hub: required (the hub URL, e.g. http://localhost:3000/.well-known/mercure)"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, usagef("--hub: %q is not an http(s) URL", hub))
	default:
		o.Hub = u
	}
	if given["publish-hub"] {
		u, err := url.Parse(pubHub)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, usagef("--publish-hub: %q is not an http(s) URL", pubHub))
		} else {
			o.PublishHub = u
		}
	}
	for _, k := range []struct {
		name, value string
		dst         *[]byte
	}{{"publisher-jwt-key", pubKey, &o.PublisherKey}, {"subscriber-jwt-key", subKey, &o.SubscriberKey}} {
		v, name := k.value, k.name
		if v == "" {
			v, name = key, "jwt-key"
		}
		if v == "" {
			errs = append(errs, usagef("--%s: required (or --jwt-key for both roles)", k.name))
			continue
		}
		b, err := readKey(v)
		if err != nil {
			errs = append(errs, usagef("--%s: %v", name, err))
		}
		*k.dst = b
	}
	switch o.Dialect {
	case DialectLegacy:
		if given["issuer"] || given["audience"] {
			errs = append(errs, usagef("--issuer, --audience: only used with --dialect draft08"))
		}
	case DialectDraft08:
		if o.Issuer == "" {
			errs = append(errs, usagef("--issuer: required with --dialect draft08 (the hub's trusted issuer)"))
		}
		o.Audience = audience
		if len(o.Audience) == 0 && o.Hub != nil {
			// What a hub without --resource-id derives from the request.
			o.Audience = []string{o.Hub.Scheme + "://" + o.Hub.Host + o.Hub.Path}
		}
	default:
		errs = append(errs, usagef("--dialect: %q is neither legacy nor draft08", o.Dialect))
	}
	if o.PID < 0 {
		errs = append(errs, usagef("--pid: negative"))
	}
	if o.Readers != ReadersPoll && o.Readers != ReadersGoroutine {
		errs = append(errs, usagef("--readers: %q is neither poll nor goroutine", o.Readers))
	}
	if base, err := url.Parse(o.TopicBase); err != nil || !base.IsAbs() || !strings.HasSuffix(o.TopicBase, "/") {
		errs = append(errs, usagef("--topic-base: %q is not an absolute URL ending with /", o.TopicBase))
	}
	if locals != "" {
		for _, s := range strings.Split(locals, ",") {
			ip := net.ParseIP(strings.TrimSpace(s))
			if ip == nil {
				errs = append(errs, usagef("--local-addrs: %q is not an IP address", s))
				continue
			}
			o.LocalAddrs = append(o.LocalAddrs, ip)
		}
	} else if o.Hub != nil {
		o.LocalAddrs = defaultLocalAddrs(o.Hub, o.Subscribers)
	}
	positive := map[string]bool{
		"connect-concurrency": o.ConnectConcurrency > 0, "connect-timeout": o.ConnectTimeout > 0,
		"progress-every": o.ProgressEvery > 0, "payload": o.PayloadSize >= 0 && o.PayloadSize <= 1<<20,
	}
	for _, name := range scenarioFlags[o.Scenario] {
		switch name {
		case "subscribers":
			positive[name] = o.Subscribers > 0 && o.Subscribers <= 1_000_000
		case "publishers":
			positive[name] = o.Publishers > 0 && o.Publishers <= 10_000
		case "hold":
			positive[name] = o.Hold >= 0
		case "duration":
			positive[name] = o.Duration > 0
		case "rate":
			positive[name] = o.Rate > 0
		case "step-duration":
			positive[name] = o.StepDuration > 0
		case "max-rate":
			positive[name] = o.MaxRate >= 0
		case "max-steps":
			positive[name] = o.MaxSteps > 0 && o.MaxSteps <= maxSteps
		case "p99":
			positive[name] = o.P99 > 0
		case "drain":
			positive[name] = o.Drain > 0
		case "history":
			positive[name] = o.History > 0 && o.History <= 10_000_000
		case "patterns":
			positive[name] = o.Patterns > 0 && o.Patterns <= 100
		case "step":
			if err := o.parseStep(step); err != nil {
				errs = append(errs, err)
			}
		case "depths":
			if err := o.parseDepths(depths); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range positive {
			if !yield(k) {
				return
			}
		}
	}) {
		if !positive[name] {
			errs = append(errs, usagef("--%s: out of range", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// maxSteps bounds a sweep (and the memory of its per-step histograms).
const maxSteps = 64

func (o *Options) parseStep(s string) error {
	if f, ok := strings.CutPrefix(s, "x"); ok {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 1 {
			return usagef("--step: %q: want xF with F > 1 (multiply) or N > 0 (add)", s)
		}
		o.StepMul = v
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return usagef("--step: %q: want xF with F > 1 (multiply) or N > 0 (add)", s)
	}
	o.StepAdd = v
	return nil
}

func (o *Options) parseDepths(s string) error {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			o.Depths = append(o.Depths, 0)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return usagef("--depths: %q: want positive counts or all", f)
		}
		if o.History > 0 && n > o.History {
			return usagef("--depths: %d is more than --history %d", n, o.History)
		}
		o.Depths = append(o.Depths, n)
	}
	return nil
}

// nextRate is the rate of the step after r.
func (o *Options) nextRate(r float64) float64 {
	if o.StepMul > 0 {
		return r * o.StepMul
	}
	return r + o.StepAdd
}
