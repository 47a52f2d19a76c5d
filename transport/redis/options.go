package redis

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/urlparams"
)

// Defaults for the zero values of Options.
const (
	DefaultStream      = "hermes"
	DefaultMaxBatch    = 1000
	DefaultCommits     = 4
	DefaultDialTimeout = 3 * time.Second
	DefaultIOTimeout   = 5 * time.Second
)

// MaxIDLength is the longest event id the transport stores, as on bolt, so
// that a history can move between the two.
const MaxIDLength = transport.MaxIDLength

// maxStreamName bounds the stream parameter (it is part of every key).
const maxStreamName = 100

// Options configures a Redis transport. Addrs is required; the zero value
// of every other field is a sensible default.
type Options struct {
	// Addrs: one address (host:port) for a single server; several for a
	// Redis Cluster; with MasterName, the Sentinels' addresses.
	Addrs []string
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string
	// DB is the database number (not with Redis Cluster).
	DB int
	// Username and Password authenticate with the Redis servers.
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate with the
	// Sentinels, when they require it.
	SentinelUsername, SentinelPassword string
	// TLS connects with TLS (rediss://), verifying the server's certificate
	// against the system roots.
	TLS bool

	// Stream names the history: every key of the transport lives under
	// the Redis Cluster hash tag {Stream}, so that one Lua script can
	// update the stream and its index atomically. Nodes of one deployment
	// share it. "": DefaultStream.
	Stream string
	// Size keeps at most this many events, dropping the oldest. 0: no count
	// limit.
	Size int
	// MaxAge drops events whose Time is older than this. 0: no age limit.
	MaxAge time.Duration
	// StateSize is how many state events (subscription events, which are
	// never history) the state stream keeps for the nodes to read
	// (state.go). 0: DefaultStateSize.
	StateSize int

	// MaxBatch is the most events stored in one script call when
	// publishers append concurrently (group commit). An AppendBatch is
	// never split. 0: DefaultMaxBatch.
	MaxBatch int
	// Commits is how many group commits may be in flight at once, each on
	// its own connection: Redis fsyncs once for all the writes of one
	// event-loop turn, so several in flight share an fsync. 0:
	// DefaultCommits.
	Commits int
	// DialTimeout bounds connecting; IOTimeout bounds each command (and
	// Open's first contact). 0: the defaults.
	DialTimeout, IOTimeout time.Duration

	// Logger receives reconnections and detected losses. nil: slog.Default().
	Logger *slog.Logger
	// Metrics receives errors, round-trip times, the feed's lag and
	// losses. nil: none.
	Metrics Metrics
}

// Validate reports the first invalid field.
func (o Options) Validate() error {
	switch {
	case len(o.Addrs) == 0:
		return errors.New("redis: no server address")
	case o.MasterName == "" && len(o.Addrs) > 1 && o.DB != 0:
		return fmt.Errorf("redis: database %d: a Redis Cluster has only database 0", o.DB)
	case o.DB < 0:
		return fmt.Errorf("redis: database %d: must not be negative", o.DB)
	case o.Size < 0:
		return fmt.Errorf("redis: size %d: must not be negative", o.Size)
	case o.MaxAge < 0:
		return fmt.Errorf("redis: max_age %v: must not be negative", o.MaxAge)
	case o.StateSize < 0 || o.StateSize > maxStateSize:
		return fmt.Errorf("redis: state_size %d: must be between 0 and %d", o.StateSize, maxStateSize)
	case o.MaxBatch < 0 || o.MaxBatch > 1<<16:
		return fmt.Errorf("redis: max batch %d: must be between 0 and %d", o.MaxBatch, 1<<16)
	case o.Commits < 0 || o.Commits > 64:
		return fmt.Errorf("redis: commits %d: must be between 0 and 64", o.Commits)
	case o.DialTimeout < 0 || o.IOTimeout < 0:
		return errors.New("redis: timeouts must not be negative")
	}
	if err := validStream(o.stream()); err != nil {
		return err
	}
	for _, a := range o.Addrs {
		if err := validAddr(a); err != nil {
			return err
		}
	}
	return nil
}

func validStream(s string) error {
	if len(s) > maxStreamName {
		return fmt.Errorf("redis: stream name of %d bytes, longer than %d", len(s), maxStreamName)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return fmt.Errorf("redis: stream name %q: use letters, digits and - _ . : only", s)
		}
	}
	return nil
}

func validAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("redis: address %q: want host:port", a)
	}
	if host == "" || strings.ContainsAny(host, " /?#@,") {
		return fmt.Errorf("redis: address %q: bad host", a)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("redis: address %q: bad port", a)
	}
	return nil
}

func (o Options) stream() string {
	if o.Stream == "" {
		return DefaultStream
	}
	return o.Stream
}

func (o Options) stateSize() int {
	if o.StateSize == 0 {
		return DefaultStateSize
	}
	return o.StateSize
}

func (o Options) maxBatch() int {
	if o.MaxBatch == 0 {
		return DefaultMaxBatch
	}
	return o.MaxBatch
}

func (o Options) commits() int {
	if o.Commits == 0 {
		return DefaultCommits
	}
	return o.Commits
}

func (o Options) dialTimeout() time.Duration {
	if o.DialTimeout == 0 {
		return DefaultDialTimeout
	}
	return o.DialTimeout
}

func (o Options) ioTimeout() time.Duration {
	if o.IOTimeout == 0 {
		return DefaultIOTimeout
	}
	return o.IOTimeout
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// Schemes ParseURL reads.
const (
	schemeRedis            = "redis"
	schemeRedisTLS         = "rediss"
	schemeSentinel         = "redis+sentinel"
	schemeSentinelTLS      = "rediss+sentinel"
	defaultPort            = "6379"
	defaultSentinelPort    = "26379"
	maxAddrsInURL          = 64
	knownParamsDescription = "stream, size, max_age, state_size, master, sentinel_username, sentinel_password"
)

// ParseURL reads a transport URL:
//
//	redis://[user:password@]host[:port][/db][?params]            one server
//	redis://[user:password@]host1:port1,host2:port2[?params]      Redis Cluster
//	redis+sentinel://[user:password@]s1:26379,s2:26379[/db]?master=NAME[&params]
//
// rediss:// and rediss+sentinel:// connect with TLS. The port defaults to
// 6379 (26379 for Sentinels), db to 0. user and password authenticate with
// the Redis servers (percent-encode reserved characters). Parameters:
//
//	stream             the history's name (default hermes); nodes of one deployment share it
//	size               keep at most N events; 0 or absent: no limit
//	max_age            drop events older than a Go duration such as 720h
//	state_size         keep at most N subscription events for the nodes to read (default 1000; never history)
//	master             the Sentinel master name (required with Sentinel, refused without)
//	sentinel_username, sentinel_password   credentials of the Sentinels themselves
//
// Any other parameter is an error.
func ParseURL(raw string) (Options, error) {
	var o Options
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return o, fmt.Errorf("redis: transport URL %q: want redis://host:port/db", raw)
	}
	scheme = strings.ToLower(scheme)
	sentinel := false
	switch scheme {
	case schemeRedis:
	case schemeRedisTLS:
		o.TLS = true
	case schemeSentinel:
		sentinel = true
	case schemeSentinelTLS:
		sentinel, o.TLS = true, true
	default:
		return o, fmt.Errorf("redis: transport URL scheme %q: want redis, rediss, redis+sentinel or rediss+sentinel", scheme)
	}
	if strings.ContainsAny(rest, "#\x00\r\n\t ") {
		return o, errors.New("redis: transport URL: no fragment, spaces or control characters allowed")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return o, errors.New("redis: transport URL: bad percent-encoding in the user name")
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return o, errors.New("redis: transport URL: bad percent-encoding in the password")
			}
		}
	}
	if authority == "" {
		return o, fmt.Errorf("redis: transport URL %q has no host", redactURL(raw))
	}
	port := defaultPort
	if sentinel {
		port = defaultSentinelPort
	}
	hosts := strings.Split(authority, ",")
	if len(hosts) > maxAddrsInURL {
		return o, fmt.Errorf("redis: transport URL: %d addresses, more than %d", len(hosts), maxAddrsInURL)
	}
	for _, h := range hosts {
		addr, err := withPort(h, port)
		if err != nil {
			return o, err
		}
		if slices.Contains(o.Addrs, addr) {
			return o, fmt.Errorf("redis: transport URL: address %s given twice", addr)
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if path = strings.TrimSuffix(path, "/"); path != "" {
		db, err := strconv.ParseUint(path, 10, 16)
		if err != nil {
			return o, fmt.Errorf("redis: transport URL path %q: want a database number such as /0", "/"+path)
		}
		o.DB = int(db)
	}
	params, err := urlparams.Parse(rawQuery)
	if err != nil {
		return o, fmt.Errorf("redis: %w", err)
	}
	for _, p := range params {
		name, v := p.Name, p.Value
		switch name {
		case "stream":
			if v == "" {
				return o, errors.New("redis: transport URL parameter stream is empty")
			}
			if err := validStream(v); err != nil {
				return o, err
			}
			o.Stream = v
		case "size":
			if o.Size, err = urlparams.Size(v); err != nil {
				return o, fmt.Errorf("redis: %w", err)
			}
		case "max_age":
			if o.MaxAge, err = urlparams.MaxAge(v); err != nil {
				return o, fmt.Errorf("redis: %w", err)
			}
		case "state_size":
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil || n == 0 || n > maxStateSize {
				return o, fmt.Errorf("redis: transport URL parameter state_size=%q: want a number of events between 1 and %d", v, maxStateSize)
			}
			o.StateSize = int(n)
		case "master":
			if !sentinel {
				return o, errors.New("redis: transport URL parameter master is for redis+sentinel:// URLs")
			}
			if v == "" {
				return o, errors.New("redis: transport URL parameter master is empty")
			}
			o.MasterName = v
		case "sentinel_username", "sentinel_password":
			if !sentinel {
				return o, fmt.Errorf("redis: transport URL parameter %s is for redis+sentinel:// URLs", name)
			}
			if name == "sentinel_username" {
				o.SentinelUsername = v
			} else {
				o.SentinelPassword = v
			}
		default:
			return o, fmt.Errorf("redis: transport URL: unknown parameter %q (known: %s)", name, knownParamsDescription)
		}
	}
	if sentinel && o.MasterName == "" {
		return o, errors.New("redis: a redis+sentinel:// URL needs master=NAME")
	}
	return o, o.Validate()
}

// withPort returns host:port, adding def when h has no port.
func withPort(h, def string) (string, error) {
	if h == "" {
		return "", errors.New("redis: transport URL: empty address in the host list")
	}
	addr := h
	if _, _, err := net.SplitHostPort(h); err != nil {
		// No port (or an unbracketed IPv6 address, which SplitHostPort
		// refuses below).
		addr = net.JoinHostPort(strings.Trim(h, "[]"), def)
	}
	if err := validAddr(addr); err != nil {
		return "", err
	}
	return addr, nil
}

// redactURL hides the password of a transport URL in error messages.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
