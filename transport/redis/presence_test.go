package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// presenceLease is short so that the tests see leases run out quickly;
// renewals come every third of it.
const presenceLease = 600 * time.Millisecond

// presenceRedis starts a redis-server of its own on a free port in a
// temporary directory and returns a client on it. Without redis-server
// the test is skipped, unless HERMES_REQUIRE_REDIS is set (CI).
func presenceRedis(t *testing.T) goredis.UniversalClient {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("HERMES_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is required (HERMES_REQUIRE_REDIS) but not on PATH")
		}
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		c := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
		deadline := time.Now().Add(10 * time.Second)
		for c.Ping(context.Background()).Err() != nil && time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{} // the port was taken meanwhile: another one
			case <-time.After(20 * time.Millisecond):
			}
		}
		if c.Ping(context.Background()).Err() == nil {
			t.Cleanup(func() {
				c.Close()
				_ = cmd.Process.Kill()
				<-exited
			})
			return c
		}
		c.Close()
		_ = cmd.Process.Kill()
		<-exited
		if attempt == 3 {
			t.Fatal("redis-server did not start")
		}
	}
}

// presenceNode is one node's store with its Keep loop and what it was
// asked to announce.
type presenceNode struct {
	p    *Presence
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	ended     []string // records announced inactive, in order
	activated []string
	fail      int // announcements to refuse first
}

func startPresenceNode(t *testing.T, c goredis.UniversalClient) *presenceNode {
	t.Helper()
	p, err := NewPresence(c, PresenceOptions{Prefix: "test", Lease: presenceLease, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n := &presenceNode{p: p, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() {
		defer close(n.done)
		p.Keep(ctx, n.announce)
	}()
	t.Cleanup(n.die)
	return n
}

func (n *presenceNode) announce(_ context.Context, recs [][]byte, active bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail > 0 {
		n.fail--
		return fmt.Errorf("refused on purpose")
	}
	for _, r := range recs {
		if active {
			n.activated = append(n.activated, string(r))
		} else {
			n.ended = append(n.ended, string(r))
		}
	}
	return nil
}

// die stops renewing without a goodbye, like a killed process.
func (n *presenceNode) die() {
	n.stop()
	<-n.done
}

func (n *presenceNode) announced() (ended, activated []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.ended), slices.Clone(n.activated)
}

// presenceEventually polls cond every few milliseconds until it holds or
// the deadline passes.
func presenceEventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func listed(t *testing.T, p *Presence) []string {
	t.Helper()
	recs, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r)
	}
	sort.Strings(out)
	return out
}

func mustAdd(t *testing.T, p *Presence, id string) {
	t.Helper()
	if err := p.Add(context.Background(), id, []byte("record of "+id)); err != nil {
		t.Fatal(err)
	}
}

func TestPresence_AnyNodeListsEveryLiveNodesSubscribers(t *testing.T) {
	c := presenceRedis(t)
	a, b := startPresenceNode(t, c), startPresenceNode(t, c)
	mustAdd(t, a.p, "a1")
	mustAdd(t, a.p, "a2")
	mustAdd(t, b.p, "b1")
	want := []string{"record of a1", "record of a2", "record of b1"}
	for _, n := range []*presenceNode{a, b} {
		presenceEventually(t, 5*time.Second, "both leases held", func() bool { return slices.Equal(listed(t, n.p), want) })
	}
	if err := a.p.Remove(context.Background(), "a2"); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, b.p); !slices.Equal(got, []string{"record of a1", "record of b1"}) {
		t.Errorf("after a removal, b lists %q", got)
	}
}

func TestPresence_DeadNodeVanishesWithinLeaseAndIsAnnouncedEndedOnce(t *testing.T) {
	c := presenceRedis(t)
	dead := startPresenceNode(t, c)
	survivors := []*presenceNode{startPresenceNode(t, c), startPresenceNode(t, c)}
	for i := range 20 {
		mustAdd(t, dead.p, fmt.Sprintf("d%02d", i))
	}
	mustAdd(t, survivors[0].p, "s0")
	presenceEventually(t, 5*time.Second, "the dead node's records listed", func() bool { return len(listed(t, survivors[1].p)) == 21 })

	dead.die()
	died := time.Now()
	// Within the lease after the last renewal; the deadline adds a lease
	// and a second of slack for a loaded machine, so a lease that is never
	// enforced fails here, a slow machine does not.
	presenceEventually(t, 2*presenceLease+time.Second, "the dead node's records gone from the list", func() bool {
		return slices.Equal(listed(t, survivors[1].p), []string{"record of s0"})
	})
	t.Logf("the records vanished %v after the death, lease %v", time.Since(died).Round(time.Millisecond), presenceLease)

	total := func() []string {
		var all []string
		for _, s := range survivors {
			ended, _ := s.announced()
			all = append(all, ended...)
		}
		sort.Strings(all)
		return all
	}
	presenceEventually(t, 5*time.Second, "the dead node's records announced", func() bool { return len(total()) >= 20 })
	// Nothing is left to claim or announce: the dead node is out of the
	// set and no ending hash holds anything, so no later round can
	// announce again.
	presenceEventually(t, 5*time.Second, "claims settled", func() bool {
		n, _ := c.ZCard(context.Background(), dead.p.nodesKey).Result()
		keys, _ := c.Keys(context.Background(), "{test:presence}:ending:*").Result()
		return n == 2 && len(keys) == 0
	})
	got := total()
	if len(got) != 20 || len(slices.Compact(slices.Clone(got))) != 20 {
		t.Fatalf("announced %d records (%q), want each of the 20 exactly once", len(got), got)
	}
	if slices.Contains(got, "record of s0") {
		t.Error("a live node's record was announced ended")
	}
}

func TestPresence_FailedAnnouncementIsRetried(t *testing.T) {
	c := presenceRedis(t)
	dead := startPresenceNode(t, c)
	mustAdd(t, dead.p, "x")
	presenceEventually(t, 5*time.Second, "registered", func() bool { return len(listed(t, dead.p)) == 1 })
	dead.die()
	s := startPresenceNode(t, c)
	s.mu.Lock()
	s.fail = 2
	s.mu.Unlock()
	presenceEventually(t, 10*time.Second, "announced after two refusals", func() bool {
		ended, _ := s.announced()
		return len(ended) == 1
	})
	presenceEventually(t, 5*time.Second, "ending hash emptied", func() bool {
		n, _ := c.Exists(context.Background(), s.p.endingKey).Result()
		return n == 0
	})
	if ended, _ := s.announced(); !slices.Equal(ended, []string{"record of x"}) {
		t.Errorf("announced %q", ended)
	}
}

// Redis restarted empty (or the node was cut off longer than its lease):
// the node finds its lease gone, lists its subscribers again and has them
// announced active again.
func TestPresence_LostLeaseRelistsAndAnnouncesActive(t *testing.T) {
	c := presenceRedis(t)
	n := startPresenceNode(t, c)
	mustAdd(t, n.p, "a")
	presenceEventually(t, 5*time.Second, "listed", func() bool { return len(listed(t, n.p)) == 1 })
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	presenceEventually(t, 5*time.Second, "listed again after FLUSHALL", func() bool {
		return slices.Equal(listed(t, n.p), []string{"record of a"})
	})
	presenceEventually(t, 5*time.Second, "announced active", func() bool {
		_, act := n.announced()
		return slices.Equal(act, []string{"record of a"})
	})
}

// Close ends the lease at once: a survivor claims the node without
// waiting for the lease.
func TestPresence_CloseEndsTheLeaseAtOnce(t *testing.T) {
	c := presenceRedis(t)
	n, s := startPresenceNode(t, c), startPresenceNode(t, c)
	mustAdd(t, n.p, "left-open")
	presenceEventually(t, 5*time.Second, "listed", func() bool { return len(listed(t, s.p)) == 1 })
	n.die()
	if err := n.p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s.p); len(got) != 0 {
		t.Errorf("after Close, listed %q", got)
	}
	presenceEventually(t, 5*time.Second, "claimed", func() bool {
		ended, _ := s.announced()
		return slices.Equal(ended, []string{"record of left-open"})
	})
}

func TestPresence_LeaseBounds(t *testing.T) {
	if _, err := NewPresence(nil, PresenceOptions{Lease: time.Millisecond}); err == nil {
		t.Error("a 1 ms lease was accepted")
	}
	p, err := NewPresence(nil, PresenceOptions{})
	if err != nil || p.lease != DefaultLease || p.nodesKey != "{hermes:presence}:nodes" {
		t.Errorf("defaults: %v, lease %v, key %q", err, p.lease, p.nodesKey)
	}
}
