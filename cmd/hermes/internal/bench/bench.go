// Package bench is `hermes bench`: a load generator for any Mercure hub
// (Hermes or another), with scenarios for idle subscribers, one-topic
// fan-out, durable publishing, replay after reconnection and private
// updates. It checks every event it receives (loss, duplicates, order,
// authorization) and measures latency from a timestamp in the data, on the
// monotonic clock of the process that both publishes and subscribes.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/histogram"
)

// Exit codes, as the rest of the hermes command uses them.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// IO is what Main may touch.
type IO struct {
	Stdout, Stderr io.Writer
	// ReadKey resolves a key flag (secret, PEM or @FILE).
	ReadKey func(string) ([]byte, error)
	// StderrIsTerminal rewrites the progress line in place.
	StderrIsTerminal bool
}

// Main runs `hermes bench` with args (after "bench") and returns the exit
// code.
func Main(ctx context.Context, args []string, io IO) int {
	o, err := Parse(args, io.ReadKey)
	if errors.Is(err, ErrHelp) {
		writeUsage(io.Stdout)
		return exitOK
	}
	if err != nil {
		printErr(io.Stderr, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	res, err := Run(ctx, o, io.Stderr, io.StderrIsTerminal)
	if err != nil {
		printErr(io.Stderr, err)
		return exitFailure
	}
	if o.JSON {
		err = res.writeJSON(io.Stdout)
	} else {
		err = res.writeTable(io.Stdout)
	}
	if err != nil {
		printErr(io.Stderr, err)
		return exitFailure
	}
	return exitOK
}

func printErr(w io.Writer, err error) {
	fmt.Fprintf(w, "hermes: %v\n", err)
}

// Run runs one scenario and returns its result. Progress goes to
// progressOut.
func Run(ctx context.Context, o *Options, progressOut io.Writer, tty bool) (*Result, error) {
	e, err := newEnv(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	if e.pollers != nil {
		e.pollers.start(ctx)
	}
	defer func() {
		cancel()
		e.readers.Wait()
		if e.pub != nil {
			e.pub.close()
		}
	}()
	p := startProgress(progressOut, tty, o.ProgressEvery, e)
	defer p.stop()

	res := &Result{Scenario: o.Scenario, Hub: o.Hub.String(), Dialect: o.Dialect, Run: e.runID}
	if o.PublishHub != nil {
		res.PublishHub = o.PublishHub.String()
	}
	res.Limits.NoFile, err = raiseNoFile(uint64(o.Subscribers) + 1024)
	if err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	if o.PID > 0 {
		if _, err := readProc(o.PID); err != nil {
			return nil, fmt.Errorf("--pid %d: %w", o.PID, err)
		}
	}
	switch o.Scenario {
	case "idle":
		err = e.idle(ctx, res)
	case "fanout":
		err = e.fanout(ctx, res)
	case "publish":
		err = e.publishScenario(ctx, res)
	case "replay":
		err = e.replay(ctx, res)
	case "private":
		err = e.private(ctx, res)
	}
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		res.Warnings = append(res.Warnings, "interrupted: the figures cover the part that ran")
	}
	return res, nil
}

// env is the state of one run shared by its subscribers and publishers.
type env struct {
	o       *Options
	hub     *url.URL
	hubAddr string
	runID   string
	// base is the run's clock origin: payload timestamps are durations
	// since base, read with the monotonic clock.
	base   time.Time
	dialer *dialer

	pubToken string
	pub      *publisher

	// reconnect makes subscribers reconnect when the hub ends a stream.
	reconnect bool
	// slot maps a sequence number to the index of a subscriber's seen set
	// (nil: the sequence number itself).
	slot func(seq int64) int64

	steps   [maxSteps]atomic.Pointer[stepStats]
	seq     atomic.Int64
	open    atomic.Int64 // streams open now
	dropped atomic.Int64 // streams the hub (or the network) ended
	readers sync.WaitGroup
	pollers *pollers // nil: a goroutine per stream

	status atomic.Value // func() string: the progress line
}

func newEnv(o *Options) (*env, error) {
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	e := &env{
		o:         o,
		hub:       o.Hub,
		runID:     hex.EncodeToString(id[:]),
		base:      time.Now(),
		dialer:    &dialer{locals: o.LocalAddrs, timeout: o.ConnectTimeout},
		reconnect: true,
	}
	if o.Readers != ReadersGoroutine {
		e.pollers = newPollers(e)
	}
	e.hubAddr = o.Hub.Host
	if o.Hub.Port() == "" {
		port := "80"
		if o.Hub.Scheme == "https" {
			port = "443"
		}
		e.hubAddr = net.JoinHostPort(o.Hub.Hostname(), port)
	}
	tok, err := e.publisherToken()
	if err != nil {
		return nil, err
	}
	e.pubToken = tok
	if _, err := e.subscriberToken([]string{e.topic("check")}, false); err != nil {
		return nil, err
	}
	e.status.Store(func() string { return "starting" })
	return e, nil
}

func (e *env) now() time.Duration { return time.Since(e.base) }

// topic returns a topic of this run: base/run/suffix.
func (e *env) topic(suffix string) string { return e.o.TopicBase + e.runID + "/" + suffix }

// stepStats are the figures of one sweep step (or of a whole scenario
// without steps, as step 0).
type stepStats struct {
	latency    histogram.H
	deliveries atomic.Int64
	publish    histogram.H // publish request round trips
	published  atomic.Int64
	acked      atomic.Int64
	mu         sync.Mutex
	errs       map[string]int
	ackedSeqs  []int64
	ids        map[int64]string
}

func (e *env) step(i int) *stepStats {
	if i < 0 || i >= maxSteps {
		return nil
	}
	return e.steps[i].Load()
}

func (e *env) newStep(i int) *stepStats {
	st := &stepStats{errs: map[string]int{}}
	e.steps[i].Store(st)
	return st
}

func itoa(n int) string { return strconv.Itoa(n) }
