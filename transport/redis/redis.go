// Package redis is a transport storing the history in one Redis stream
// shared by every node of a deployment.
//
// One stream holds every event in one total order. Lua scripts assign Seqs
// (the stream entry ID is <seq>-0), maintain the id index and trim the
// stream atomically (scripts.go). Appends are gathered into group commits:
// a few script calls in flight, each storing every event queued meanwhile,
// so concurrent publishers share Redis's fsync. Each node feeds its
// dispatcher from the stream, in stream order, with one reader (reader.go),
// so the subscribers of every node see the same order.
//
// Seqs handed to the hub are the stream's seqs plus a per-node offset that
// is zero until history is lost: when the stream is recreated (an epoch
// change), the node shifts the new stream's seqs above everything it has
// seen, so that its Seqs keep increasing whatever the new stream numbers.
package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
)

const (
	// trimChunk bounds the deletions of one script call beyond one per
	// appended event, as bolt does, so that catching up a backlog never
	// makes one long script that every publisher waits behind.
	trimChunk = 1024
	// maxBatchBytes stops gathering a group commit once this much encoded
	// data is in it.
	maxBatchBytes = 8 << 20
	// pageEvents and pageBytes bound one read of the feed or of a replay.
	pageEvents = 256
	pageBytes  = 1 << 20
	// feedBuffer lets the reader run ahead of the dispatcher.
	feedBuffer = 1024
	// blockFor is how long the reader's XREAD waits for new entries before
	// it polls again. It bounds how long an idle node takes to notice a
	// recreated stream that no one appends to, and how long Close and a
	// change of epoch wait for the reader: go-redis does not interrupt a
	// blocking read when its context is cancelled.
	blockFor = 250 * time.Millisecond
	// Backoff of the reader and the trimmer while Redis is unreachable.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Transport is an event log in a Redis stream.
type Transport struct {
	c    goredis.UniversalClient
	opts Options
	keys []string // events, meta, ids, next, sizes
	// stateKeys are the state stream and its counter (state.go).
	stateKeys []string
	// node identifies this node's state events, which it skips.
	node string
	log  *slog.Logger
	m    Metrics

	reqs     chan *request
	feed     chan *transport.Event
	losses   chan transport.Loss
	state    chan []*transport.Event // batches of state events of other nodes (state.go)
	trimKick chan struct{}
	closing  chan struct{}   // closed first by Close: no more appends
	draining chan struct{}   // closed by Close once the writers are done: the reader feeds what is left
	stop     chan struct{}   // closed by Close when the drain is over or too long
	ctx      context.Context // ends with stop: the reader's and trimmer's calls
	cancel   context.CancelFunc
	writers  sync.WaitGroup
	others   sync.WaitGroup // reader, trimmer, state reader

	last    atomic.Uint64 // LastSeq (node Seq)
	commits atomic.Uint64 // script calls of appends, for tests of group commit

	// mu guards the node's view of the stream.
	mu     sync.Mutex
	epoch  string // the stream's epoch this node follows
	offset int64  // node Seq = stream seq + offset
	pos    uint64 // stream seq of the last entry read by the reader
	posID  string // its event id, checked by the scripts (see ensure)
	check  bool   // posID is set
	wake   context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.Checker       = (*Transport)(nil)
	_ transport.BatchAppender = (*Transport)(nil)
	_ transport.LossNotifier  = (*Transport)(nil)

	_ transport.FilteredReplayer = (*Transport)(nil)

	_ transport.StateBroadcaster = (*Transport)(nil)
)

// request is one Append or AppendBatch, answered as a whole.
type request struct {
	evs  []*transport.Event
	args []any // id, time, payload per event, encoded by the publisher's goroutine
	size int
	done chan error // buffered: the writer never waits for the publisher
}

// Open connects to Redis as opts say and opens the history. It fails when
// Redis does not answer within opts.IOTimeout: a node that cannot learn
// where the stream stands cannot start.
func Open(opts Options) (*Transport, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	uo := &goredis.UniversalOptions{
		Addrs:            opts.Addrs,
		MasterName:       opts.MasterName,
		DB:               opts.DB,
		Username:         opts.Username,
		Password:         opts.Password,
		SentinelUsername: opts.SentinelUsername,
		SentinelPassword: opts.SentinelPassword,
		// No automatic retries: a script that ran but whose answer was
		// lost would store its events twice. The reader and the trimmer
		// retry on their own; an append fails and the publisher sees 503.
		MaxRetries:            -1,
		DialTimeout:           opts.dialTimeout(),
		DialerRetries:         1,
		ReadTimeout:           opts.ioTimeout(),
		WriteTimeout:          opts.ioTimeout(),
		ContextTimeoutEnabled: true,
		PoolSize:              opts.commits() + 16,
		ClientName:            "hermes",
	}
	if opts.TLS {
		host := opts.Addrs[0]
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = strings.Trim(host[:i], "[]")
		}
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if opts.MasterName != "" {
			// The Sentinels' host names say nothing of the master's.
			uo.TLSConfig.ServerName = ""
		}
	}
	t, err := New(goredis.NewUniversalClient(uo), opts)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// New opens the history on an existing client, which the transport owns
// from then on (Close closes it). opts' connection fields are ignored.
func New(c goredis.UniversalClient, opts Options) (*Transport, error) {
	if len(opts.Addrs) == 0 {
		opts.Addrs = []string{"client:0"} // only the connection fields need it
	}
	if err := opts.Validate(); err != nil {
		_ = c.Close()
		return nil, err
	}
	tag := "{" + opts.stream() + "}:"
	t := &Transport{
		c:         c,
		opts:      opts,
		keys:      []string{tag + "events", tag + "meta", tag + "ids", tag + "next", tag + "sizes"},
		stateKeys: []string{tag + "state", tag + "state:n"},
		node:      rand.Text(),
		log:       opts.logger().With("transport", "redis", "stream", opts.stream()),
		m:         opts.Metrics,
		reqs:      make(chan *request),
		feed:      make(chan *transport.Event, feedBuffer),
		losses:    make(chan transport.Loss, 1),
		state:     make(chan []*transport.Event, 64),
		trimKick:  make(chan struct{}, 1),
		closing:   make(chan struct{}),
		draining:  make(chan struct{}),
		stop:      make(chan struct{}),
	}
	if t.m == nil {
		t.m = nopMetrics{}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	// First contact: learn (or create) the epoch and where the stream
	// stands. The feed starts after it: what is stored already is history.
	ctx, cancel := context.WithTimeout(t.ctx, opts.ioTimeout())
	defer cancel()
	res, err := t.poll(ctx, "", 0, false, "", 0)
	if err != nil {
		t.cancel()
		_ = c.Close()
		return nil, fmt.Errorf("redis: open stream %q on %s: %w", opts.stream(), strings.Join(opts.Addrs, ","), err)
	}
	t.epoch, t.pos = res.epoch, res.seq
	t.last.Store(res.seq)
	sc, err := t.stateStart(ctx)
	if err != nil {
		t.cancel()
		_ = c.Close()
		return nil, fmt.Errorf("redis: open stream %q on %s: %w", opts.stream(), strings.Join(opts.Addrs, ","), err)
	}
	t.writers.Add(opts.commits())
	t.others.Add(3)
	for range opts.commits() {
		go t.write()
	}
	go t.read()
	go t.trimmer()
	go t.readState(sc)
	return t, nil
}

// Client is the Redis client the transport uses, for other features of a
// deployment that keep state in the same Redis (the cluster-wide
// subscription list). It must not be closed by the caller.
func (t *Transport) Client() goredis.UniversalClient { return t.c }

// Stream is the stream's name; keys of other features may share its hash
// tag, "{" + Stream() + "}".
func (t *Transport) Stream() string { return t.opts.stream() }

// Append stores ev, assigns ev.Seq and returns once Redis has stored it
// with its index entry. It sets ev.Time to the current time when it is
// zero. The event reaches Feed through the stream, like those of other
// nodes.
func (t *Transport) Append(ctx context.Context, ev *transport.Event) error {
	evs := []*transport.Event{ev}
	if err := transport.CheckAppend(evs); err != nil {
		return fmt.Errorf("redis: append: %w", err)
	}
	return t.submit(ctx, "append", evs)
}

// AppendBatch stores evs in one script call: consecutive Seqs in slice
// order, all or nothing. One invalid event fails the whole batch before
// anything is stored. The batch is never split, whatever its length.
func (t *Transport) AppendBatch(ctx context.Context, evs []*transport.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := transport.CheckAppend(evs); err != nil {
		return fmt.Errorf("redis: append batch: %w", err)
	}
	return t.submit(ctx, "append batch", evs)
}

func (t *Transport) submit(ctx context.Context, op string, evs []*transport.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	select {
	case <-t.closing:
		return transport.ErrClosed
	default:
	}
	now := time.Now()
	r := &request{evs: evs, args: make([]any, 0, 3*len(evs)), done: make(chan error, 1)}
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		d := encodePayload(ev)
		r.args = append(r.args, ev.ID, strconv.FormatInt(ev.Time.UnixMilli(), 10), d)
		r.size += len(ev.ID) + len(d)
	}
	select {
	case t.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("redis: %s: %w", op, ctx.Err())
	case <-t.closing:
		return transport.ErrClosed
	}
	if err := <-r.done; err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return nil
}

// write is one group-commit goroutine: it takes a request, gathers what
// else is queued (up to MaxBatch events, never splitting a request) and
// stores it all with one script call.
func (t *Transport) write() {
	defer t.writers.Done()
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-t.reqs:
			case <-t.closing:
				return
			}
		}
		batch := []*request{first}
		n, size := len(first.evs), first.size
	gather:
		for n < t.opts.maxBatch() && size < maxBatchBytes {
			select {
			case r := <-t.reqs:
				if n+len(r.evs) > t.opts.maxBatch() {
					carry = r
					break gather
				}
				batch = append(batch, r)
				n += len(r.evs)
				size += r.size
			default:
				break gather
			}
		}
		t.commit(batch, n)
	}
}

// errLostWhileAppending answers an append whose script ran on a stream
// this node has since found lost: the event is not in the history the node
// now follows, so it must not be acknowledged.
var errLostWhileAppending = errors.New("the stream was lost (recreated) while the event was being stored; it may not be kept")

// commit stores the requests of batch (n events) in one script call and
// answers them.
func (t *Transport) commit(batch []*request, n int) {
	t.mu.Lock()
	known, pos, check, posID := t.epoch, t.pos, t.check, t.posID
	t.mu.Unlock()
	var cutoff int64
	if t.opts.MaxAge > 0 {
		cutoff = time.Now().Add(-t.opts.MaxAge).UnixMilli()
	}
	args := make([]any, 0, 8+3*n)
	args = append(args, known, pos, flag(check), posID, newEpoch(), t.opts.Size, cutoff, trimChunk)
	for _, r := range batch {
		args = append(args, r.args...)
	}
	// Not the publishers' contexts: once taken, a batch is stored
	// whatever happens to them (and Close waits for it).
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.ioTimeout())
	start := time.Now()
	res, err := appendScript.Run(ctx, t.c, t.keys, args...).Slice()
	cancel()
	var epoch string
	var sStart, first, more int64
	if err == nil {
		err = scanReply(res, &epoch, &sStart, &first, &more)
	}
	if err != nil {
		t.m.RedisError(OpAppend)
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	t.m.RedisRoundTrip(OpAppend, time.Since(start))
	t.commits.Add(1)
	t.mu.Lock()
	if epoch != t.epoch && known == t.epoch {
		t.adoptLocked(epoch, uint64(sStart), "the stream's epoch changed (found by an append)")
	}
	if epoch != t.epoch {
		t.mu.Unlock()
		for _, r := range batch {
			r.done <- errLostWhileAppending
		}
		return
	}
	seq := uint64(first + t.offset)
	for _, r := range batch {
		for _, ev := range r.evs {
			ev.Seq = seq
			seq++
		}
	}
	t.raiseLast(seq - 1)
	t.mu.Unlock()
	for _, r := range batch {
		r.done <- nil
	}
	if more != 0 {
		t.kickTrim()
	}
}

// raiseLast moves LastSeq up to seq.
func (t *Transport) raiseLast(seq uint64) {
	for {
		cur := t.last.Load()
		if seq <= cur || t.last.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// adoptLocked makes the node follow a new epoch of the stream whose events
// start after stream seq start: its Seqs continue above LastSeq, the
// reader starts at the epoch's first event, and the loss is reported. t.mu
// is held.
func (t *Transport) adoptLocked(epoch string, start uint64, reason string) {
	had := t.epoch != ""
	t.epoch = epoch
	t.offset = int64(t.last.Load()) - int64(start)
	t.pos, t.posID, t.check = start, "", false
	if t.wake != nil {
		t.wake() // the reader may be blocked on the old position
	}
	if had {
		t.lostLocked(reason)
	}
}

// lostLocked logs and reports a loss of history. t.mu is held.
func (t *Transport) lostLocked(reason string) {
	t.log.Error("redis: history lost; open streams end and clients resume from what history holds", "reason", reason, "epoch", t.epoch, "last_seq", t.last.Load())
	t.m.HistoryLost()
	select {
	case t.losses <- transport.Loss{Reason: reason, Time: time.Now()}:
	default: // one is pending already: it covers this one
	}
}

// Losses delivers detected losses of history (transport.LossNotifier).
func (t *Transport) Losses() <-chan transport.Loss { return t.losses }

// Feed returns the channel on which every event of the stream arrives in
// order, those of every node. It is closed by Close.
func (t *Transport) Feed() <-chan *transport.Event { return t.feed }

// LastSeq returns the Seq of the last event this node knows is stored.
func (t *Transport) LastSeq() uint64 { return t.last.Load() }

// Lookup returns the Seq of the earliest stored occurrence of id: one hash
// read.
func (t *Transport) Lookup(ctx context.Context, id string) (seq uint64, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("redis: lookup: %w", err)
	}
	if err := t.open(); err != nil {
		return 0, false, err
	}
	if len(id) > MaxIDLength {
		return 0, false, nil // never stored
	}
	start := time.Now()
	v, err := t.c.HGet(ctx, t.keys[2], id).Result()
	if errors.Is(err, goredis.Nil) {
		t.m.RedisRoundTrip(OpLookup, time.Since(start))
		return 0, false, nil
	}
	if err != nil {
		t.m.RedisError(OpLookup)
		return 0, false, fmt.Errorf("redis: lookup: %w", err)
	}
	t.m.RedisRoundTrip(OpLookup, time.Since(start))
	f, _, _ := strings.Cut(v, " ")
	s, err := strconv.ParseUint(f, 10, 63)
	if err != nil {
		return 0, false, fmt.Errorf("redis: lookup: corrupt index entry %q", v)
	}
	t.mu.Lock()
	local := int64(s) + t.offset
	t.mu.Unlock()
	if local <= 0 {
		return 0, false, nil // before what this node numbers
	}
	return uint64(local), true, nil
}

// firstPage is the length of the feed's first page, before the size of
// the events is known.
const firstPage = 32

// pageCount sizes the next page of the feed after the events of the last
// one: about pageBytes if the next events are no larger than the largest
// of these, and between 1 and pageEvents events.
func pageCount(evs []*transport.Event) int {
	largest := 1
	for _, ev := range evs {
		n := len(ev.ID) + len(ev.Data) + len(ev.Type) + 64
		for _, topic := range ev.Topics {
			n += len(topic)
		}
		largest = max(largest, n)
	}
	return min(max(pageBytes/largest, 1), pageEvents)
}

// toStream converts a node Seq to a stream seq under offset off, clamped
// to [0, MaxInt64].
func toStream(local uint64, off int64) int64 {
	if local > math.MaxInt64 {
		return math.MaxInt64
	}
	l := int64(local)
	if off < 0 && l > math.MaxInt64+off {
		return math.MaxInt64
	}
	return max(l-off, 0)
}

// Check reports whether Redis answers (the readiness probe).
func (t *Transport) Check(ctx context.Context) error {
	if err := t.open(); err != nil {
		return err
	}
	start := time.Now()
	if err := t.c.Ping(ctx).Err(); err != nil {
		t.m.RedisError(OpCheck)
		return fmt.Errorf("redis: check: %w", err)
	}
	t.m.RedisRoundTrip(OpCheck, time.Since(start))
	return nil
}

// open returns ErrClosed after Close.
func (t *Transport) open() error {
	select {
	case <-t.closing:
		return transport.ErrClosed
	default:
		return nil
	}
}

// drainLimit bounds how long Close lets the reader feed the events stored
// before it (a consumer that does not read, or Redis gone, would hold it
// forever).
const drainLimit = 2 * time.Second

// Close stops the writers (Appends not yet taken fail with ErrClosed,
// group commits in flight complete), lets the reader feed what was stored
// up to then (for at most drainLimit), stops it, the trimmer and the state
// reader, closes Feed, Losses, State and the client. It is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closing)
		t.writers.Wait()
		t.mu.Lock()
		close(t.draining)
		if t.wake != nil {
			t.wake()
		}
		t.mu.Unlock()
		done := make(chan struct{})
		go func() { t.others.Wait(); close(done) }()
		timer := time.NewTimer(drainLimit)
		select {
		case <-done:
		case <-timer.C:
		}
		timer.Stop()
		close(t.stop)
		t.cancel()
		<-done
		close(t.feed)
		close(t.losses)
		close(t.state)
		if err := t.c.Close(); err != nil {
			t.closeErr = fmt.Errorf("redis: close: %w", err)
		}
	})
	return t.closeErr
}

// newEpoch returns a random epoch name, offered to the scripts in case
// they have to start a new one.
func newEpoch() string { return rand.Text() }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// scanReply reads a script's array reply into strings and integers.
func scanReply(res []any, dst ...any) error {
	if len(res) < len(dst) {
		return fmt.Errorf("unexpected script reply of %d values", len(res))
	}
	for i, d := range dst {
		switch d := d.(type) {
		case *string:
			s, ok := res[i].(string)
			if !ok {
				return fmt.Errorf("unexpected script reply: value %d is %T", i, res[i])
			}
			*d = s
		case *int64:
			v, ok := res[i].(int64)
			if !ok {
				return fmt.Errorf("unexpected script reply: value %d is %T", i, res[i])
			}
			*d = v
		}
	}
	return nil
}

// decodeEntries decodes stream entries (as XRANGE returns them) into
// events numbered with offset off, and returns the stream seq of the last.
func decodeEntries(entries []any, off int64) ([]*transport.Event, uint64, error) {
	evs := make([]*transport.Event, 0, len(entries))
	var last uint64
	for _, e := range entries {
		s, id, d, err := entryFields(e)
		if err != nil {
			return nil, 0, err
		}
		last = s
		ev, err := decodePayload(id, []byte(d))
		if err != nil {
			return nil, 0, fmt.Errorf("event %d: %w", s, err)
		}
		ev.Seq = uint64(int64(s) + off)
		evs = append(evs, ev)
	}
	return evs, last, nil
}

// entryFields extracts the stream seq, the event id and the payload of one
// entry: [ "<seq>-0", ["i", id, "t", ms, "d", payload] ].
func entryFields(e any) (seq uint64, id, payload string, err error) {
	pair, ok := e.([]any)
	if !ok || len(pair) != 2 {
		return 0, "", "", fmt.Errorf("%w: unexpected entry %T", errCorrupt, e)
	}
	sid, _ := pair[0].(string)
	head, _, _ := strings.Cut(sid, "-")
	if seq, err = strconv.ParseUint(head, 10, 63); err != nil {
		return 0, "", "", fmt.Errorf("%w: entry ID %q", errCorrupt, sid)
	}
	fields, ok := pair[1].([]any)
	if !ok || len(fields) != 6 {
		return 0, "", "", fmt.Errorf("%w: entry %s has unexpected fields", errCorrupt, sid)
	}
	id, ok1 := fields[1].(string)
	payload, ok2 := fields[5].(string)
	if !ok1 || !ok2 || fields[0] != "i" || fields[4] != "d" {
		return 0, "", "", fmt.Errorf("%w: entry %s has unexpected fields", errCorrupt, sid)
	}
	return seq, id, payload, nil
}
