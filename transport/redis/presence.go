package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
)

// Presence keeps the active subscriptions of every node of a deployment in
// Redis, for the cluster-wide subscription API (hub.SubscriptionStore).
//
// Each node owns a hash of its subscribers' records and holds a lease on
// it: its id in a sorted set, scored by the lease's expiry in Redis' own
// clock (so that the nodes' clocks do not matter). A node renews its lease
// every third of the lease time. Only the hashes of nodes whose lease runs
// are listed, so the subscriptions of a dead node disappear from the API
// within one lease time.
//
// A surviving node claims a dead node in one script: it removes the dead
// node from the sorted set and moves its records into its own "ending"
// hash. Scripts run atomically, so exactly one survivor gets them. The
// survivor announces their end (hub: one "inactive" event per
// subscription, sent to the other nodes on the transport's state stream,
// state.go, never stored in the history) and only then deletes them from
// its ending hash; should it die before, its ending hash is claimed with
// its own records by the next survivor. So the end of a subscription is
// announced once, unless a survivor dies between sending the events and
// deleting the records, the
// one window in which it is announced twice (never zero times).
//
// Keys share one hash tag, {PREFIX:presence}, so that every script
// touches one slot of a Redis Cluster:
//
//	{P:presence}:nodes          sorted set: node id -> lease expiry (ms)
//	{P:presence}:subs:NODE      hash: subscriber id -> record
//	{P:presence}:ending:NODE    hash: claimed records not yet announced
//
// The node keeps its own records in memory too: after a failed write or a
// lost lease (Redis unreachable longer than the lease, or restarted empty)
// it writes them all again.
type Presence struct {
	c      goredis.UniversalClient
	lease  time.Duration
	log    *slog.Logger
	nodeID string

	nodesKey, subsKey, endingKey, keyPrefix string

	mu      sync.Mutex
	records map[string][]byte // this node's subscribers
	// dirty is set when a write failed: Redis may miss records or hold
	// stale ones until the next full rewrite.
	dirty bool
	// registered is set once the first renewal placed this node in the
	// sorted set: finding it absent later means the lease was lost.
	registered bool
}

// PresenceOptions configure a Presence. Zero values are documented.
type PresenceOptions struct {
	// Prefix namespaces the keys, so that deployments sharing a Redis
	// keep apart: the stream's name is a good one. Empty means "hermes".
	Prefix string
	// Lease is how long a node's subscriptions stay listed after its last
	// renewal. Zero means DefaultLease.
	Lease time.Duration
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultLease is the lease of a node that does not choose one: a dead
// node's subscriptions vanish within 15 s.
const DefaultLease = 15 * time.Second

// MinLease bounds the lease from below: renewals every third of it must
// not turn into a busy loop against Redis.
const MinLease = 300 * time.Millisecond

// NewPresence returns the subscription store of one node on client c. The
// node gets a random id; it holds its lease once Keep runs.
func NewPresence(c goredis.UniversalClient, o PresenceOptions) (*Presence, error) {
	if o.Prefix == "" {
		o.Prefix = "hermes"
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Lease < MinLease {
		return nil, fmt.Errorf("redis presence: lease %v is shorter than %v", o.Lease, MinLease)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Presence{
		c:       c,
		lease:   o.Lease,
		log:     o.Logger,
		nodeID:  uuid.NewString(),
		records: make(map[string][]byte),
	}
	p.keyPrefix = "{" + o.Prefix + ":presence}:"
	p.nodesKey = p.keyPrefix + "nodes"
	p.subsKey = p.keyPrefix + "subs:" + p.nodeID
	p.endingKey = p.keyPrefix + "ending:" + p.nodeID
	return p, nil
}

// NodeID is this node's id in Redis.
func (p *Presence) NodeID() string { return p.nodeID }

// Add lists a subscriber of this node.
//
// The lock is held across the write so that a full rewrite (resync) never
// interleaves with a single write and resurrects a removed record.
func (p *Presence) Add(ctx context.Context, subscriber string, record []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records[subscriber] = record
	if err := p.c.HSet(ctx, p.subsKey, subscriber, record).Err(); err != nil {
		p.dirty = true
		return fmt.Errorf("redis presence: listing %s: %w", subscriber, err)
	}
	return nil
}

// Remove unlists a subscriber of this node.
func (p *Presence) Remove(ctx context.Context, subscriber string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.records, subscriber)
	if err := p.c.HDel(ctx, p.subsKey, subscriber).Err(); err != nil {
		p.dirty = true
		return fmt.Errorf("redis presence: unlisting %s: %w", subscriber, err)
	}
	return nil
}

// nowMs is Redis' clock in milliseconds, for the scripts.
const nowMs = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// listScript returns the records of every node whose lease runs.
// KEYS[1] nodes; ARGV[1] key prefix.
var listScript = goredis.NewScript(nowMs + `
local out = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  for _, v in ipairs(redis.call('HVALS', ARGV[1] .. 'subs:' .. node)) do
    out[#out + 1] = v
  end
end
return out
`)

// List returns the records of every node whose lease runs.
func (p *Presence) List(ctx context.Context) ([][]byte, error) {
	vals, err := listScript.Run(ctx, p.c, []string{p.nodesKey}, p.keyPrefix).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis presence: listing: %w", err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// renewScript extends this node's lease and returns 1 when the node was
// not in the set (first renewal, or the lease was lost).
// KEYS[1] nodes; ARGV[1] node id, ARGV[2] lease in ms.
var renewScript = goredis.NewScript(nowMs + `
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
`)

// claimScript claims the nodes whose lease ran out (a few per call),
// moves their records and their own unannounced claims into this node's
// ending hash, and returns everything in that hash as field, value pairs.
// KEYS[1] nodes, KEYS[2] this node's ending hash; ARGV[1] node id,
// ARGV[2] key prefix.
var claimScript = goredis.NewScript(nowMs + `
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 17)) do
  if node ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], node)
    for _, src in ipairs({ARGV[2] .. 'subs:' .. node, ARGV[2] .. 'ending:' .. node}) do
      local kv = redis.call('HGETALL', src)
      for i = 1, #kv, 2 do
        redis.call('HSET', KEYS[2], kv[i], kv[i + 1])
      end
      redis.call('DEL', src)
    end
  end
end
return redis.call('HGETALL', KEYS[2])
`)

// Keep renews the lease until ctx ends, rewrites this node's records
// when Redis may have lost them, and hands announce what must be
// announced (see hub.SubscriptionStore's leaser): the records of dead
// nodes this node claimed (active=false), and its own records after its
// lease was lost (active=true). It returns when ctx ends.
func (p *Presence) Keep(ctx context.Context, announce func(ctx context.Context, records [][]byte, active bool) error) {
	tick := time.NewTicker(p.lease / 3)
	defer tick.Stop()
	failing := false
	for {
		err := p.round(ctx, announce)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			p.log.Warn("subscription lease: Redis round failed; retrying every third of the lease", "lease", p.lease, "error", err)
			failing = true
		case err == nil && failing:
			p.log.Info("subscription lease: renewed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// round is one renewal: extend the lease, rewrite what Redis may have
// lost, claim and announce dead nodes' subscriptions.
func (p *Presence) round(ctx context.Context, announce func(context.Context, [][]byte, bool) error) error {
	rctx, cancel := context.WithTimeout(ctx, p.lease/3)
	defer cancel()
	added, err := renewScript.Run(rctx, p.c, []string{p.nodesKey}, p.nodeID, p.lease.Milliseconds()).Int64()
	if err != nil {
		p.mu.Lock()
		p.dirty = true
		p.mu.Unlock()
		return fmt.Errorf("renewing: %w", err)
	}
	p.mu.Lock()
	lost := added == 1 && p.registered
	p.registered = true
	var own [][]byte
	if lost || p.dirty {
		if err := p.rewriteLocked(rctx); err != nil {
			p.mu.Unlock()
			return err
		}
		p.dirty = false
		if lost {
			for _, r := range p.records {
				own = append(own, r)
			}
		}
	}
	p.mu.Unlock()
	if lost {
		// Other nodes announced these subscriptions ended when they
		// claimed this node; they are active again.
		p.log.Warn("subscription lease was lost (Redis unreachable longer than the lease, or restarted empty); subscriptions listed again", "subscribers", len(own))
		if len(own) > 0 {
			if err := announce(ctx, own, true); err != nil {
				p.log.Warn("subscription lease: announcing the relisted subscriptions failed", "error", err)
			}
		}
	}

	kv, err := claimScript.Run(rctx, p.c, []string{p.nodesKey, p.endingKey}, p.nodeID, p.keyPrefix).StringSlice()
	if err != nil {
		return fmt.Errorf("claiming dead nodes: %w", err)
	}
	if len(kv) == 0 {
		return nil
	}
	fields := make([]string, 0, len(kv)/2)
	records := make([][]byte, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		fields = append(fields, kv[i])
		records = append(records, []byte(kv[i+1]))
	}
	if err := announce(ctx, records, false); err != nil {
		// Kept in the ending hash: the next round tries again.
		return fmt.Errorf("announcing %d ended subscribers: %w", len(records), err)
	}
	if err := p.c.HDel(ctx, p.endingKey, fields...).Err(); err != nil {
		return fmt.Errorf("forgetting %d announced subscribers: %w", len(fields), err)
	}
	return nil
}

// rewriteLocked replaces this node's hash with its records, in one
// transaction. p.mu is held.
func (p *Presence) rewriteLocked(ctx context.Context) error {
	_, err := p.c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		pipe.Del(ctx, p.subsKey)
		if len(p.records) > 0 {
			args := make([]any, 0, 2*len(p.records))
			for id, r := range p.records {
				args = append(args, id, r)
			}
			pipe.HSet(ctx, p.subsKey, args...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rewriting %d subscribers: %w", len(p.records), err)
	}
	return nil
}

// Close ends this node's lease at once, on a clean shutdown after its
// streams ended: whatever it still lists (nothing, normally; its streams
// announced their own end) is claimed by the next survivor without waiting
// for the lease to run out. It does not close the client.
func (p *Presence) Close(ctx context.Context) error {
	err := p.c.ZAdd(ctx, p.nodesKey, goredis.Z{Score: 0, Member: p.nodeID}).Err()
	if err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis presence: ending the lease: %w", err)
	}
	return nil
}
