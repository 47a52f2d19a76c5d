package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// Path is where the hub is served (DIS-1).
const Path = "/.well-known/mercure"

// UIPath is where Config.UI is served; ScriptPath serves hermes.js, the
// shared-connection client (always: it is a public static file).
const (
	UIPath     = Path + "/ui/"
	ScriptPath = Path + "/hermes.js"
)

// Authenticator finds and verifies the token a request presents. A nil grant
// with a nil error means the request presented no token at all; a present but
// invalid token is always an *auth.Error, never anonymous (LEG-5).
type Authenticator interface {
	Authenticate(r *http.Request, role auth.Role) (*auth.Grant, error)
	// ResourceID is the identifier modern tokens must name in aud: the
	// configured one, "" when there is none (never derived from a request).
	ResourceID() string
}

// Config is everything a Hub needs. Zero values are documented per field and
// applied by New; Validate reports values that can never work.
type Config struct {
	// Transport stores and orders updates. Required. The hub closes it last
	// on Close.
	Transport transport.Transport
	// Auth verifies tokens. Required (publishing always needs a token).
	Auth Authenticator
	// Anonymous lets subscribers without a token receive public updates.
	Anonymous bool
	// Subscriptions turns on the active subscriptions feature: subscription
	// events and the subscription API (EVT-*, API-*, LEG-18..23). Off, the
	// API answers 404 and no event is emitted.
	Subscriptions bool
	// SubscriptionEventsKept is how many of the latest subscription events
	// the hub keeps in memory for listeners that resume with a cursor
	// (they are never stored in the transport); at most
	// SubscriptionEventsBytes of them are kept. Zero means 1000 events and
	// 4 MiB.
	SubscriptionEventsKept  int
	SubscriptionEventsBytes int
	// MaxAnnouncedBytes bounds the summed length of one subscription's
	// selectors when subscription events announce them (400). Zero means
	// 64 KiB.
	MaxAnnouncedBytes int
	// CORSOrigins lists the origins allowed to make credentialed
	// cross-origin requests. "*" allows any origin without credentials.
	// Empty: no CORS headers at all.
	CORSOrigins []string
	// CookieName is the token cookie announced in the metadata document
	// (mercure_cookie). Empty means __Secure-mercure_access_token.
	CookieName string
	// TopicOptions holds the base URL relative URL patterns resolve against.
	TopicOptions topic.Options

	// Heartbeat is the idle period after which a comment line is sent.
	// Zero means 15 s; negative disables heartbeats.
	Heartbeat time.Duration
	// WriteTimeout is the longest a stream lives before the hub ends it
	// (randomized to 80-100 %, so reconnects do not come as a storm). Zero
	// means 10 minutes; negative disables the limit.
	WriteTimeout time.Duration
	// DispatchTimeout bounds each write to a subscriber. Zero means 5 s.
	DispatchTimeout time.Duration
	// BodyTimeout bounds the time a client may take to send a request body
	// (publish, QUERY, anything with a body), counted from when the hub
	// sees the request; a shutdown cuts bodies still arriving. Zero means
	// 10 s; negative disables the limit.
	BodyTimeout time.Duration

	// MaxBodyBytes bounds publish and QUERY bodies (413). Zero means 1 MiB.
	MaxBodyBytes int64
	// BodyBytesInFlight bounds the request bodies (publish, QUERY) being
	// read at once, each counted at its Content-Length (MaxBodyBytes when
	// unknown); past it a request gets 503 with Retry-After before its body
	// is read. Zero means 64 MiB; negative: unlimited.
	BodyBytesInFlight int64
	// MaxTopics bounds the topic fields of one publish (413). Zero: 1000.
	MaxTopics int
	// MaxFieldBytes bounds each topic, id and type field of a publish (413).
	// Zero means 4096; data is bounded by MaxBodyBytes only.
	MaxFieldBytes int
	// MaxMatchers bounds the match* parameters of one subscription (400).
	// Zero means 100.
	MaxMatchers int
	// MaxLegacyTopics bounds the legacy topic= parameters (400). Zero means
	// 1000, the allowance of 0.x hubs that legacy clients may rely on.
	MaxLegacyTopics int
	// MaxPatternBytes bounds each matcher value (400). Zero means 4096.
	MaxPatternBytes int
	// MaxSubscriptionCost bounds the summed cost (topic.Estimate units: at
	// most ~15 bytes of compiled program and ~10 ns per evaluation each) of
	// one subscription's template and URL pattern matchers (400). Zero
	// means 100,000: a hundred ordinary URL patterns, or eleven of twenty
	// "*" wildcards. Negative: unlimited.
	MaxSubscriptionCost int
	// MaxMatcherCost bounds the summed cost of the distinct template and
	// URL pattern matchers of all open streams; past it a subscription
	// gets 503 with Retry-After. Zero means 4,000,000: at most about 60 MB
	// of compiled programs and 40 ms of evaluations per update. Negative:
	// unlimited.
	MaxMatcherCost int
	// QueueBytes bounds what may wait in one subscriber's queue; a
	// subscriber past it is disconnected and resumes from history. Zero
	// means 1 MiB.
	QueueBytes int
	// MaxSubscribers bounds the open streams of the hub; past it a new
	// subscriber gets 429 with Retry-After. Zero means unlimited.
	MaxSubscribers int
	// MaxSubscribersPerClient bounds the open streams per client address
	// (the connection's remote address, IPv6 counted per /64; behind a
	// reverse proxy that is the proxy). Zero means unlimited.
	MaxSubscribersPerClient int

	// UI is the debug page (package hub/ui), served under UIPath on the
	// hub's handler only. Nil, the default: not served (404).
	UI http.Handler

	// Metrics receives operational counts. Nil discards them.
	Metrics Metrics

	// Logger receives the hub's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	if c.Heartbeat == 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Minute
	}
	if c.DispatchTimeout == 0 {
		c.DispatchTimeout = 5 * time.Second
	}
	if c.BodyBytesInFlight == 0 {
		c.BodyBytesInFlight = 64 << 20
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = 10 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxTopics == 0 {
		c.MaxTopics = 1000
	}
	if c.MaxFieldBytes == 0 {
		c.MaxFieldBytes = 4096
	}
	if c.MaxMatchers == 0 {
		c.MaxMatchers = 100
	}
	if c.MaxLegacyTopics == 0 {
		c.MaxLegacyTopics = 1000
	}
	if c.MaxPatternBytes == 0 {
		c.MaxPatternBytes = 4096
	}
	if c.SubscriptionEventsKept == 0 {
		c.SubscriptionEventsKept = 1000
	}
	if c.SubscriptionEventsBytes == 0 {
		c.SubscriptionEventsBytes = 4 << 20
	}
	if c.MaxAnnouncedBytes == 0 {
		c.MaxAnnouncedBytes = 64 << 10
	}
	if c.MaxSubscriptionCost == 0 {
		c.MaxSubscriptionCost = 100_000
	}
	if c.MaxMatcherCost == 0 {
		c.MaxMatcherCost = 4_000_000
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 1 << 20
	}
	if c.CookieName == "" {
		c.CookieName = auth.ModernCookieName
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Transport == nil {
		errs = append(errs, errors.New("hub: no transport"))
	}
	if c.Auth == nil {
		errs = append(errs, errors.New("hub: no authenticator"))
	}
	for name, v := range map[string]int64{
		"MaxBodyBytes": c.MaxBodyBytes, "MaxTopics": int64(c.MaxTopics),
		"MaxFieldBytes": int64(c.MaxFieldBytes), "MaxMatchers": int64(c.MaxMatchers),
		"MaxLegacyTopics": int64(c.MaxLegacyTopics), "MaxPatternBytes": int64(c.MaxPatternBytes),
		"QueueBytes": int64(c.QueueBytes), "MaxSubscribers": int64(c.MaxSubscribers),
		"MaxSubscribersPerClient": int64(c.MaxSubscribersPerClient),
		"SubscriptionEventsKept":  int64(c.SubscriptionEventsKept),
		"SubscriptionEventsBytes": int64(c.SubscriptionEventsBytes),
		"MaxAnnouncedBytes":       int64(c.MaxAnnouncedBytes),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("hub: %s must not be negative", name))
		}
	}
	for _, o := range c.CORSOrigins {
		if o == "" {
			errs = append(errs, errors.New("hub: empty CORS origin"))
		}
	}
	return errors.Join(errs...)
}
