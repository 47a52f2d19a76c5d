package bolt

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/urlparams"
)

// Defaults for the zero values of Options.
const (
	DefaultOpenTimeout = time.Second
	DefaultMaxBatch    = 1000
)

// MaxIDLength is the longest event id the transport stores
// (transport.MaxIDLength); bbolt keys are limited to 32 KiB and the id is
// part of an index key.
const MaxIDLength = transport.MaxIDLength

// Options configures a bolt transport. The zero value keeps every event
// forever and syncs every commit.
type Options struct {
	// Size keeps at most this many events, dropping the oldest.
	// 0: no count limit.
	Size int
	// MaxAge drops events whose Time is older than this. An event outlives
	// MaxAge by at most a tenth of it (and at most a minute). Age retention
	// removes events from the oldest on and stops at the first one that is
	// young enough, so an event with a Time older than its predecessors'
	// (a clock step back) lives until they are gone. 0: no age limit.
	MaxAge time.Duration

	// OpenTimeout is how long Open waits for the file lock held by another
	// process. 0: DefaultOpenTimeout.
	OpenTimeout time.Duration
	// MaxBatch is the most events committed in one transaction when
	// publishers append concurrently (group commit). An AppendBatch counts
	// as its number of events and is never split: one that does not fit
	// in the group being gathered starts the next one, and one longer than
	// MaxBatch is committed alone. 0: DefaultMaxBatch.
	MaxBatch int
	// NoSync skips the fsync of each commit. Faster, but an operating
	// system crash or a power loss may lose acknowledged events or corrupt
	// the file (a killed process loses nothing). For tests and benchmarks.
	NoSync bool
	// SkipCheck skips the consistency check of an existing file at Open
	// (a walk of every key and bbolt's tx.Check: about 1.9 s for 2 million
	// small events on a loaded 2-core machine, BenchmarkOpen). The check of
	// the file's size against its header always runs. For tests that need
	// a damaged file open.
	SkipCheck bool
	// faults injects failures (tests only: a full disk without filling
	// one). A pointer keeps Options comparable.
	faults *faults
	// Logger receives the rare problems the transport cannot return to a
	// caller (a corrupt record met by retention). nil: slog.Default().
	Logger *slog.Logger
	// Metrics observes every commit of appends. nil: none.
	Metrics Metrics
}

// faults are the failures a test injects.
type faults struct {
	// commit is called in every commit of appends; an error it returns
	// fails the commit.
	commit func() error
}

// Validate reports the first invalid field.
func (o Options) Validate() error {
	switch {
	case o.Size < 0:
		return fmt.Errorf("bolt: size %d: must not be negative", o.Size)
	case o.MaxAge < 0:
		return fmt.Errorf("bolt: max_age %v: must not be negative", o.MaxAge)
	case o.OpenTimeout < 0:
		return fmt.Errorf("bolt: open timeout %v: must not be negative", o.OpenTimeout)
	case o.MaxBatch < 0 || o.MaxBatch > 1<<16:
		return fmt.Errorf("bolt: max batch %d: must be between 0 and %d", o.MaxBatch, 1<<16)
	}
	return nil
}

func (o Options) openTimeout() time.Duration {
	if o.OpenTimeout == 0 {
		return DefaultOpenTimeout
	}
	return o.OpenTimeout
}

func (o Options) maxBatch() int {
	if o.MaxBatch == 0 {
		return DefaultMaxBatch
	}
	return o.MaxBatch
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// ParseURL reads a transport URL of the form bolt://PATH?size=N&max_age=D:
// bolt://hermes.db and bolt://data/hermes.db are relative to the working
// directory, bolt:///var/lib/hermes/hermes.db is absolute. Parameters:
//
//	size       keep at most N events (Options.Size); 0 or absent: no limit
//	max_age    drop events older than a Go duration such as 720h (Options.MaxAge)
//
// cleanup_frequency (of the reference hub's URLs) is accepted and ignored:
// retention here runs continuously. Any other parameter is an error.
func ParseURL(raw string) (path string, opts Options, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", Options{}, fmt.Errorf("bolt: transport URL: %w", err)
	}
	if u.Scheme != "bolt" {
		return "", Options{}, fmt.Errorf("bolt: transport URL %q: scheme must be bolt", raw)
	}
	if u.User != nil || u.Fragment != "" || u.Port() != "" {
		return "", Options{}, fmt.Errorf("bolt: transport URL %q: only a file path and parameters are allowed", raw)
	}
	if u.Opaque != "" {
		path = u.Opaque // bolt:hermes.db
	} else {
		path = u.Host + u.Path
	}
	if path == "" {
		return "", Options{}, errors.New("bolt: transport URL has no file path (bolt://hermes.db or bolt:///abs/path/hermes.db)")
	}
	if strings.ContainsRune(path, 0) {
		return "", Options{}, errors.New("bolt: transport URL: the file path contains a NUL byte")
	}
	params, err := urlparams.Parse(u.RawQuery)
	if err != nil {
		return "", Options{}, fmt.Errorf("bolt: %w", err)
	}
	for _, p := range params {
		name, v := p.Name, p.Value
		switch name {
		case "size":
			if opts.Size, err = urlparams.Size(v); err != nil {
				return "", Options{}, fmt.Errorf("bolt: %w", err)
			}
		case "max_age":
			if opts.MaxAge, err = urlparams.MaxAge(v); err != nil {
				return "", Options{}, fmt.Errorf("bolt: %w", err)
			}
		case "cleanup_frequency":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 0 && f <= 1) {
				return "", Options{}, fmt.Errorf("bolt: transport URL parameter cleanup_frequency=%q: want a number between 0 and 1", v)
			}
		default:
			return "", Options{}, fmt.Errorf("bolt: transport URL: unknown parameter %q (known: size, max_age)", name)
		}
	}
	return path, opts, opts.Validate()
}
