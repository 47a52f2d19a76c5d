//go:build unix

package ops_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/spec-tests/internal/sseclient"
)

const (
	streamTopic  = "https://example.com/ops/streams"
	durableTopic = "https://example.com/ops/durable"
)

// openStream is one subscriber of the shutdown test.
type openStream struct {
	resp  *http.Response
	hello atomic.Bool // saw the event with id "hello"
	end   time.Time   // when the body ended; set before done is closed
	err   error       // nil for a clean end of stream
	done  chan struct{}
}

// subscribe opens a stream and reads its first line, so that the hub has
// registered it; a goroutine then reads it to the end.
func subscribe(ctx context.Context, client *http.Client, target string) (*openStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("subscribe: %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != ":\n" {
		resp.Body.Close()
		return nil, fmt.Errorf("first line %q, %v", line, err)
	}
	s := &openStream{resp: resp, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		events := sseclient.NewParser(br)
		for {
			ev, err := events.Next()
			if ev.ID == "hello" {
				s.hello.Store(true)
			}
			if err != nil {
				s.end = time.Now()
				if !errors.Is(err, io.EOF) {
					s.err = err
				}
				return
			}
		}
	}()
	return s, nil
}

// publish posts one update and returns the status (0 when no answer came).
func publish(client *http.Client, hubURL, token string, form url.Values) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestSIGTERMDrains1000StreamsWithoutLosingPublishes: with 1,000 open
// HTTP/1.1 streams and publishers at work, SIGTERM makes the hub refuse
// new streams, end every stream cleanly at moments spread over
// --shutdown-drain, answer the publishes in flight and exit 0 within the
// drain (plus a margin). Every publish it acknowledged, before or during
// the drain, is in the history after a restart. Its /metrics show the
// traffic throughout.
func TestSIGTERMDrains1000StreamsWithoutLosingPublishes(t *testing.T) {
	const (
		streams = 1000
		drain   = 3 * time.Second
		margin  = 3 * time.Second
	)
	raiseNoFile(t, 3*streams)
	db := filepath.Join(t.TempDir(), "hermes.db")
	p := start(t, "--transport", "bolt://"+db, "--anonymous", "--shutdown-drain", drain.String(),
		"--admin-addr", "127.0.0.1:0")
	pubToken, err := auth.Mint(auth.MintOptions{Key: []byte(jwtSecret), Publish: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := &http.Client{Timeout: 10 * time.Second}

	// One connection per stream: HTTP/1.1, as browsers' EventSource uses.
	var h1 http.Protocols
	h1.SetHTTP1(true)
	streamClient := &http.Client{Transport: &http.Transport{Protocols: &h1, DisableKeepAlives: true}}
	open := make([]*openStream, streams)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	next := atomic.Int64{}
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= streams {
					return
				}
				s, err := subscribe(ctx, streamClient, p.hubURL()+"?topic="+url.QueryEscape(streamTopic))
				if err != nil {
					errs <- fmt.Errorf("stream %d: %w", i, err)
					return
				}
				open[i] = s
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitSeries(t, admin, p.admin, "hermes_subscribers", "all streams connected", func(v float64) bool { return v == streams })

	// The streams are live: one update reaches each of them.
	pubClient := &http.Client{}
	if code := publish(pubClient, p.hubURL(), pubToken, url.Values{"topic": {streamTopic}, "id": {"hello"}}); code != http.StatusOK {
		t.Fatalf("publishing hello: %d", code)
	}
	waitSeries(t, admin, p.admin, "hermes_updates_delivered_total", "hello delivered", func(v float64) bool { return v >= streams })
	for i, s := range open {
		deadline := time.Now().Add(10 * time.Second)
		for !s.hello.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("stream %d did not receive hello", i)
			}
			time.Sleep(5 * time.Millisecond) // polling interval
		}
	}

	// Publishers keep going until the hub is gone; every 200 is recorded.
	type ack struct {
		id string
		at time.Time
	}
	var ackMu sync.Mutex
	var acks []ack
	stopPub := make(chan struct{})
	var pubs sync.WaitGroup
	for g := range 4 {
		pubs.Go(func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for n := 0; ; n++ {
				select {
				case <-stopPub:
					return
				default:
				}
				id := fmt.Sprintf("p-%d-%d", g, n)
				if publish(c, p.hubURL(), pubToken, url.Values{"topic": {durableTopic}, "id": {id}, "data": {id}}) == http.StatusOK {
					ackMu.Lock()
					acks = append(acks, ack{id, time.Now()})
					ackMu.Unlock()
				} else {
					// Refused or unanswered: the hub is going away. Not
					// acknowledged, so not required to be kept; retrying
					// slowly keeps the loop from spinning.
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	waitSeries(t, admin, p.admin, "hermes_updates_published_total", "publishers at work", func(v float64) bool { return v >= 50 })
	if m, err := scrape(admin, p.admin); err == nil {
		t.Logf("before SIGTERM: hermes_subscribers %v, hermes_updates_published_total %v, hermes_updates_delivered_total %v, hermes_publish_duration_seconds_count %v",
			m["hermes_subscribers"], m["hermes_updates_published_total"], m["hermes_updates_delivered_total"], m["hermes_publish_duration_seconds_count"])
	}

	// SIGTERM. While the hub drains, watch its admin listener: /readyz
	// turns 503 and the gauges and counters move.
	sigterm := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var (
		sawNotReady    bool
		minSubscribers = float64(streams)
		maxShutdownDis float64
	)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-p.Done():
				return
			default:
			}
			if resp, err := admin.Get(p.admin + "/readyz"); err == nil {
				resp.Body.Close()
				sawNotReady = sawNotReady || resp.StatusCode == http.StatusServiceUnavailable
			}
			if m, err := scrape(admin, p.admin); err == nil {
				minSubscribers = min(minSubscribers, m["hermes_subscribers"])
				maxShutdownDis = max(maxShutdownDis, m[`hermes_subscribers_disconnected_total{reason="shutdown"}`])
			}
			time.Sleep(50 * time.Millisecond) // sampling interval
		}
	}()

	exitErr := p.WaitExit(t, drain+margin+30*time.Second)
	exited := time.Since(sigterm)
	close(stopPub)
	pubs.Wait()
	<-watchDone
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0; log:\n%s", exitErr, p.Logs())
	}
	if exited > drain+margin {
		t.Errorf("the hub took %v to exit, want at most the drain %v + %v", exited, drain, margin)
	}

	// Every stream ended cleanly (the chunked body's terminator came, so
	// EventSource reconnects), within the drain, at spread-out moments.
	var first, last time.Duration = time.Hour, 0
	for i, s := range open {
		select {
		case <-s.done:
		case <-time.After(margin):
			t.Fatalf("stream %d still open after the hub exited", i)
		}
		if s.err != nil {
			t.Errorf("stream %d ended with %v, want a clean end of stream", i, s.err)
			continue
		}
		d := s.end.Sub(sigterm)
		first, last = min(first, d), max(last, d)
	}
	t.Logf("streams ended %v to %v after SIGTERM; the hub exited after %v", first, last, exited)
	if last > drain+margin {
		t.Errorf("the last stream ended %v after SIGTERM, want within the drain %v + %v", last, drain, margin)
	}
	if last-first < drain/2 {
		t.Errorf("streams ended within %v of each other, want them spread over the %v drain", last-first, drain)
	}
	if !sawNotReady {
		t.Error("/readyz never answered 503 during the drain")
	}
	if minSubscribers >= streams || maxShutdownDis < 1 {
		t.Errorf("during the drain /metrics showed hermes_subscribers down to %v and %v shutdown disconnects, want them moving",
			minSubscribers, maxShutdownDis)
	}
	t.Logf("during the drain: hermes_subscribers down to %v, shutdown disconnects up to %v", minSubscribers, maxShutdownDis)

	// Every acknowledged publish is in the history after a restart.
	ackMu.Lock()
	acked := slices.Clone(acks)
	ackMu.Unlock()
	during := 0
	for _, a := range acked {
		if a.at.After(sigterm) {
			during++
		}
	}
	t.Logf("%d publishes acknowledged, %d of them after SIGTERM", len(acked), during)

	p2 := start(t, "--transport", "bolt://"+db, "--anonymous")
	history, err := readHistory(p2, pubToken)
	if err != nil {
		t.Fatal(err)
	}
	if !history["hello"] {
		t.Error("the hello update is not in the history after the restart")
	}
	lost := 0
	for _, a := range acked {
		if !history[a.id] {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged publish %s (at %v after SIGTERM) is not in the history", a.id, a.at.Sub(sigterm))
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged publishes lost", lost, len(acked))
	}
}

// readHistory replays the whole history of both topics, up to a marker
// published after the subscription opened, and returns the ids seen.
func readHistory(p *proc, pubToken string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := p.hubURL() + "?topic=" + url.QueryEscape(streamTopic) + "&topic=" + url.QueryEscape(durableTopic)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Last-Event-ID", "earliest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("subscribing after the restart: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("subscribing after the restart: %s", resp.Status)
	}
	if code := publish(http.DefaultClient, p.hubURL(), pubToken, url.Values{"topic": {durableTopic}, "id": {"marker"}}); code != http.StatusOK {
		return nil, fmt.Errorf("publishing the marker: %d", code)
	}
	seen := map[string]bool{}
	events := sseclient.NewParser(resp.Body)
	for {
		ev, err := events.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history before the marker: %w", err)
		}
		if ev.ID == "marker" {
			return seen, nil
		}
		seen[ev.ID] = true
	}
}

// TestSIGTERMWithoutStreamsDoesNotWaitForTheDrain: the drain spreads the
// ends of open streams; with none open the hub exits at once.
func TestSIGTERMWithoutStreamsDoesNotWaitForTheDrain(t *testing.T) {
	p := start(t, "--transport", "memory://", "--shutdown-drain", "20s")
	sigterm := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitExit(t, 30*time.Second); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	if d := time.Since(sigterm); d > 5*time.Second {
		t.Errorf("exited %v after SIGTERM with no stream open, want well under the 20s drain", d)
	}
}

// TestAdminListener: /metrics, /healthz and /readyz on the admin address;
// profiles only with --pprof; neither metrics nor profiles on the public
// listener.
func TestAdminListener(t *testing.T) {
	for _, withPProf := range []bool{false, true} {
		t.Run(fmt.Sprintf("pprof=%v", withPProf), func(t *testing.T) {
			args := []string{"--transport", "memory://", "--admin-addr", "127.0.0.1:0"}
			if withPProf {
				args = append(args, "--pprof")
			}
			p := start(t, args...)
			pprofStatus := http.StatusNotFound
			if withPProf {
				pprofStatus = http.StatusOK
			}
			for _, c := range []struct {
				base, path string
				want       int
			}{
				{p.admin, "/metrics", http.StatusOK},
				{p.admin, "/healthz", http.StatusOK},
				{p.admin, "/readyz", http.StatusOK},
				{p.admin, "/debug/pprof/cmdline", pprofStatus},
				{p.admin, "/.well-known/mercure", http.StatusNotFound},
				{p.base, "/healthz", http.StatusOK},
				{p.base, "/readyz", http.StatusOK},
				{p.base, "/metrics", http.StatusNotFound},
				{p.base, "/debug/pprof/cmdline", http.StatusNotFound},
			} {
				resp, err := http.Get(c.base + c.path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("GET %s%s: %d, want %d", c.base, c.path, resp.StatusCode, c.want)
				}
			}
		})
	}
}
